"""The fake server's batch interface, as OpenAI's: upload a JSONL file of requests
(`POST /v1/files`, purpose `batch`), create a batch of it (`POST /v1/batches`), poll it
(`GET /v1/batches/{id}`), read its output and error files (`GET /v1/files/{id}/content`),
cancel it (`POST /v1/batches/{id}/cancel`).

A batch ends ``batch_delay`` seconds after its creation, when it is next read; its lines are
answered then as chat requests are. ``batch_failed_lines`` and ``batch_expire`` inject the
failures a provider reports (see FakeConfig)."""

from __future__ import annotations

import itertools
import json
import threading
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from aiohttp import web

from distillset.testing import fake_content

if TYPE_CHECKING:
    from distillset.testing.fake_server import FakeModelBehaviour

CHAT_URL = "/v1/chat/completions"
FINAL = ("completed", "failed", "expired", "cancelled")


@dataclass
class _Batch:
    id: str
    input_file_id: str
    lines: list[dict[str, Any]]
    created: float
    metadata: dict[str, Any] | None
    status: str = "validating"
    expire: bool = False
    output_file_id: str | None = None
    error_file_id: str | None = None
    completed: int = 0
    failed: int = 0
    errors: list[dict[str, Any]] | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "object": "batch",
            "endpoint": CHAT_URL,
            "errors": None if self.errors is None else {"object": "list", "data": self.errors},
            "input_file_id": self.input_file_id,
            "completion_window": "24h",
            "status": self.status,
            "output_file_id": self.output_file_id,
            "error_file_id": self.error_file_id,
            "created_at": int(self.created),
            "request_counts": {
                "total": len(self.lines),
                "completed": self.completed,
                "failed": self.failed,
            },
            "metadata": self.metadata,
        }


@dataclass
class BatchStats:
    """What the fake batch interface was asked for, for tests to check."""

    files: int = 0
    batches: int = 0
    lines: int = 0  # request lines in the batches created
    answered: int = 0  # lines answered (billed)
    cancelled: int = 0
    custom_ids: list[str] = field(default_factory=list)  # of every batch created, in order


class FakeBatches:
    """Files and batches of one fake server."""

    def __init__(self, behaviour: FakeModelBehaviour) -> None:
        self._behaviour = behaviour
        self._lock = threading.Lock()
        self.clear()

    def clear(self) -> None:
        self.files: dict[str, bytes] = {}
        self.batches: dict[str, _Batch] = {}
        self.stats = BatchStats()
        self._ids = itertools.count(1)
        self._failures_left: int | None = None
        self._expiries_left: int | None = None

    def add_routes(self, app: web.Application) -> None:
        def guarded(
            handler: Callable[[web.Request], Awaitable[web.Response]],
        ) -> Callable[[web.Request], Awaitable[web.Response]]:
            async def handle(request: web.Request) -> web.Response:
                if not self._behaviour._authorized(request):
                    return _error(401, "invalid api key")
                return await handler(request)

            return handle

        app.router.add_post("/v1/files", guarded(self.upload))
        app.router.add_get("/v1/files/{id}/content", guarded(self.content))
        app.router.add_post("/v1/batches", guarded(self.create))
        app.router.add_get("/v1/batches", guarded(self.listing))
        app.router.add_get("/v1/batches/{id}", guarded(self.retrieve))
        app.router.add_post("/v1/batches/{id}/cancel", guarded(self.cancel))

    def _new_id(self, prefix: str) -> str:
        return f"{prefix}-fake{next(self._ids)}"

    async def upload(self, request: web.Request) -> web.Response:
        form = await request.post()
        upload = form.get("file")
        if form.get("purpose") != "batch" or not isinstance(upload, web.FileField):
            return _error(400, "send purpose=batch and a file")
        data = upload.file.read()
        file_id = self._new_id("file")
        with self._lock:
            self.files[file_id] = data
            self.stats.files += 1
        body = {
            "id": file_id,
            "object": "file",
            "bytes": len(data),
            "created_at": int(time.time()),
            "filename": upload.filename,
            "purpose": "batch",
        }
        return web.json_response(body)

    async def content(self, request: web.Request) -> web.Response:
        data = self.files.get(request.match_info["id"])
        if data is None:
            return _error(404, "no such file")
        return web.Response(body=data, content_type="application/jsonl")

    async def create(self, request: web.Request) -> web.Response:
        try:
            body = await request.json()
            file_id = body["input_file_id"]
        except (ValueError, KeyError, TypeError):
            return _error(400, "the body must be JSON with input_file_id")
        if body.get("endpoint") != CHAT_URL:
            return _error(400, f"endpoint must be {CHAT_URL}")
        data = self.files.get(file_id)
        if data is None:
            return _error(404, "no such input file")
        config = self._behaviour.config
        with self._lock:
            if self._failures_left is None:
                self._failures_left = config.batch_failed_lines
                self._expiries_left = config.batch_expire
            batch = _Batch(
                self._new_id("batch"), file_id, [], time.monotonic(), body.get("metadata")
            )
            if self._expiries_left:
                self._expiries_left -= 1
                batch.expire = True
            batch.lines, batch.errors = _read_lines(data)
            if batch.errors:
                batch.status = "failed"
            self.batches[batch.id] = batch
            self.stats.batches += 1
            self.stats.lines += len(batch.lines)
            self.stats.custom_ids.extend(line["custom_id"] for line in batch.lines)
        return web.json_response(batch.as_dict())

    async def listing(self, request: web.Request) -> web.Response:
        """The batches, newest first, a page of ``limit`` after the id ``after``."""
        limit = int(request.query.get("limit", "20"))
        newest = list(reversed(self.batches.values()))
        after = request.query.get("after")
        if after is not None:
            ids = [batch.id for batch in newest]
            newest = newest[ids.index(after) + 1 :] if after in ids else []
        page = newest[:limit]
        for batch in page:
            self._advance(batch)
        body = {
            "object": "list",
            "data": [batch.as_dict() for batch in page],
            "has_more": len(newest) > limit,
        }
        return web.json_response(body)

    async def retrieve(self, request: web.Request) -> web.Response:
        batch = self.batches.get(request.match_info["id"])
        if batch is None:
            return _error(404, "no such batch")
        self._advance(batch)
        return web.json_response(batch.as_dict())

    async def cancel(self, request: web.Request) -> web.Response:
        batch = self.batches.get(request.match_info["id"])
        if batch is None:
            return _error(404, "no such batch")
        self._advance(batch)
        with self._lock:
            if batch.status not in FINAL and batch.status != "cancelling":
                batch.status = "cancelling"
                self.stats.cancelled += 1
        return web.json_response(batch.as_dict())

    def _advance(self, batch: _Batch) -> None:
        """Move the batch on as time passed: in progress, then ended (answered now)."""
        with self._lock:
            if batch.status == "cancelling":
                batch.status = "cancelled"
                return
            if batch.status in FINAL:
                return
            delay = self._behaviour.config.batch_delay
            if time.monotonic() - batch.created < delay:
                batch.status = "in_progress"
                return
            self._finish(batch)

    def _finish(self, batch: _Batch) -> None:
        output: list[dict[str, Any]] = []
        errors: list[dict[str, Any]] = []
        # An expiring batch gets through half its lines; the rest are not answered.
        answered = len(batch.lines) // 2 if batch.expire else len(batch.lines)
        for number, line in enumerate(batch.lines):
            entry: dict[str, Any] = {"id": f"batch_req_{batch.id}_{number}"}
            entry["custom_id"] = line["custom_id"]
            if number >= answered:
                entry["response"] = None
                entry["error"] = {"code": "batch_expired", "message": "This request expired."}
                errors.append(entry)
            elif self._failures_left:
                self._failures_left -= 1
                failure = {"error": {"message": "the fake model failed", "type": "server_error"}}
                entry["response"] = {"status_code": 500, "request_id": entry["id"], "body": failure}
                entry["error"] = None
                errors.append(entry)
            else:
                entry["response"] = self._answer(line["body"], entry["id"])
                entry["error"] = None
                output.append(entry)
        self.stats.answered += len(output)
        batch.completed, batch.failed = len(output), len(errors)
        batch.status = "expired" if batch.expire else "completed"
        if output:
            batch.output_file_id = self._store_lines(output)
        if errors:
            batch.error_file_id = self._store_lines(errors)

    def _answer(self, body: dict[str, Any], request_id: str) -> dict[str, Any]:
        behaviour = self._behaviour
        messages = body.get("messages") or []
        kind = fake_content.request_kind(messages)
        reply = behaviour._reply({**body, "stream": False}, messages, kind, "ok", behaviour.config)
        assert isinstance(reply, web.Response) and reply.text is not None
        return {"status_code": 200, "request_id": request_id, "body": json.loads(reply.text)}

    def _store_lines(self, entries: list[dict[str, Any]]) -> str:
        file_id = self._new_id("file")
        text = "".join(json.dumps(entry, ensure_ascii=False) + "\n" for entry in entries)
        self.files[file_id] = text.encode("utf-8")
        return file_id


def _read_lines(data: bytes) -> tuple[list[dict[str, Any]], list[dict[str, Any]] | None]:
    """The request lines of an input file, or the errors that fail its batch."""
    lines: list[dict[str, Any]] = []
    errors: list[dict[str, Any]] = []
    seen: set[str] = set()
    for number, raw in enumerate(data.decode("utf-8").splitlines(), start=1):
        if not raw.strip():
            continue
        try:
            line = json.loads(raw)
            custom_id, method, url = line["custom_id"], line["method"], line["url"]
            line["body"]["messages"]  # noqa: B018 - a request must have messages
        except (ValueError, KeyError, TypeError):
            errors.append({"code": "invalid_json_line", "line": number, "message": "bad line"})
            continue
        if method != "POST" or url != CHAT_URL or custom_id in seen:
            errors.append({"code": "invalid_request", "line": number, "message": "bad request"})
            continue
        seen.add(custom_id)
        lines.append(line)
    return lines, errors or None


def _error(status: int, message: str) -> web.Response:
    body = {"error": {"message": message, "type": "invalid_request_error", "code": None}}
    return web.json_response(body, status=status)

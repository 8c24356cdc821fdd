"""Batch mode: requests of chosen purposes go to the provider's batch interface (about half
price, answered within its completion window) instead of one HTTP call each.

Requests accumulate into chunks per endpoint and purpose, within the provider's limits
(lines, bytes); a chunk is submitted when it is full or has waited ``flush_seconds``. Each
batch is a row of the task (llm_batches) before anything is sent, its requests with it
(their custom_id is the request's cache key), so a run that resumes the task polls the
batches already submitted instead of sending their requests again. Results are ingested
into the call log in one transaction with the batch's status: a kill at any point loses
nothing and pays nothing twice. Failed lines are resubmitted alone (up to
``max_resubmits`` times), lines of an expired batch are resubmitted, and a cancelled task
cancels its batches at the provider.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import functools
import json
import time
from dataclasses import dataclass, field
from typing import Any

from distillset.config import Settings
from distillset.domain import ModelCallError
from distillset.llm import batch_rows
from distillset.llm.batch_api import BatchApiError, BatchClient, RemoteBatch, request_line
from distillset.llm.completion import MalformedReply, parse_completion, usage_of
from distillset.llm.config import EndpointConfig
from distillset.llm.redact import redact_values, redactor
from distillset.llm.results import ChatResult, result_of
from distillset.llm.writer import run_write
from distillset.store.db import Store

# OpenAI's limits: 50,000 requests and 200 MB per input file.
MAX_LINES = 50_000
MAX_BYTES = 190 * 1024 * 1024
SUBMIT_TRIES = 4
# The metadata naming a batch's row: a batch created by a process killed before it noted
# the batch's id is found by it.
METADATA_KEY = "distillset_batch"


@dataclass(frozen=True)
class BatchOptions:
    """Which requests go in batches, how large a batch grows, how often batches are read."""

    purposes: frozenset[str]
    max_lines: int = MAX_LINES
    max_bytes: int = MAX_BYTES
    flush_seconds: float = 30.0
    poll_seconds: float = 15.0
    poll_max_seconds: float = 300.0
    max_resubmits: int = 3

    @classmethod
    def from_settings(cls, settings: Settings, purposes: frozenset[str]) -> BatchOptions:
        return cls(
            purposes=purposes,
            max_lines=settings.batch_max_lines,
            max_bytes=settings.batch_max_bytes,
            flush_seconds=settings.batch_flush_seconds,
            poll_seconds=settings.batch_poll_seconds,
            poll_max_seconds=max(settings.batch_poll_max_seconds, settings.batch_poll_seconds),
        )


@dataclass
class _Request:
    key: str
    canonical: str
    endpoint: EndpointConfig
    purpose: str
    future: asyncio.Future[ChatResult]
    resubmits: int = 0
    asked: bool = False  # a caller of this run waits for it (not only found in a stored batch)


@dataclass
class _Chunk:
    endpoint: EndpointConfig
    purpose: str
    requests: list[_Request] = field(default_factory=list)
    size: int = 0
    started: float = field(default_factory=time.monotonic)


@dataclass
class _Open:
    """A batch submitted (or being submitted) by this run or found open at its start."""

    row_id: int
    endpoint: EndpointConfig
    requests: dict[str, _Request]
    remote: RemoteBatch | None = None
    submitted_at: float = field(default_factory=time.monotonic)


class BatchQueue:
    """The batches of one task run; the gateway hands it the requests of ``options.purposes``."""

    def __init__(
        self,
        store: Store,
        options: BatchOptions,
        *,
        project_id: int | None,
        task_id: int | None,
        request_timeout: float = 120.0,
    ) -> None:
        self.store, self.options = store, options
        self.project_id, self.task_id = project_id, task_id
        self._request_timeout = request_timeout
        self._requests: dict[str, _Request] = {}
        self._chunks: dict[tuple[str, str], _Chunk] = {}
        self._open: dict[int, _Open] = {}
        self._clients: dict[str, BatchClient] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._flusher: asyncio.Task[None] | None = None
        self._counts = {"batches": 0, "done": 0, "failed": 0, "resubmitted": 0}

    def takes(self, purpose: str) -> bool:
        return purpose in self.options.purposes

    async def resume(self, endpoints: list[EndpointConfig]) -> None:
        """Poll the task's batches a stopped run left open (their requests are not sent
        again); a batch never submitted is dropped, its requests asked again by the run."""
        if self.task_id is None:
            return
        by_alias = {endpoint.alias: endpoint for endpoint in endpoints}
        stored = await asyncio.to_thread(batch_rows.open_batches, self.store, self.task_id)
        loop = asyncio.get_running_loop()
        for batch in stored:
            endpoint = by_alias.get(batch.endpoint_alias)
            if endpoint is None:
                continue  # an endpoint this run does not use: left for a run that does
            remote_id = batch.remote_id or await self._created_unnoted(batch, endpoint)
            if remote_id is None:
                await self._set(
                    batch.id, status="abandoned", error="stopped before it was submitted"
                )
                continue
            requests = {}
            for key, canonical in batch.requests.items():
                request = _Request(key, canonical, endpoint, batch.purpose, loop.create_future())
                self._requests[key] = requests[key] = request
            opened = _Open(batch.id, endpoint, requests)
            opened.remote = RemoteBatch(remote_id, "submitted", None, None, 0, 0, 0, None)
            self._open[batch.id] = opened
            self._counts["batches"] += 1
            self._spawn(self._poll(opened), list(requests.values()))

    async def _created_unnoted(
        self, batch: batch_rows.StoredBatch, endpoint: EndpointConfig
    ) -> str | None:
        """A batch whose file was uploaded but whose id was never noted (the process was
        killed around its creation) may exist all the same: its metadata names the row."""
        if batch.input_file_id is None:
            return None  # never uploaded, so never created
        try:
            found = await self._client(endpoint).find(METADATA_KEY, str(batch.id))
        except BatchApiError:
            found = None
        if found is None:
            return None
        await self._set(
            batch.id, remote_id=found.id, status="submitted", remote_status=found.status
        )
        return found.id

    async def ask(
        self, endpoint: EndpointConfig, canonical: str, key: str, purpose: str
    ) -> ChatResult:
        """The reply to a request, through a batch: one already holding it (submitted by a
        run before), or the next one."""
        request = self._requests.get(key)
        if request is None:
            future: asyncio.Future[ChatResult] = asyncio.get_running_loop().create_future()
            request = _Request(key, canonical, endpoint, purpose, future, asked=True)
            self._requests[key] = request
            self._enqueue(request)
        elif request.asked:
            # Asked before in this run: its reply is shared, never paid twice.
            return dataclasses.replace(await asyncio.shield(request.future), cached=True)
        request.asked = True
        return await asyncio.shield(request.future)

    def _enqueue(self, request: _Request) -> None:
        slot = (request.endpoint.alias, request.purpose)
        chunk = self._chunks.get(slot)
        line = len(request.canonical) + len(request.key) + 80
        if chunk is not None and (
            len(chunk.requests) >= self.options.max_lines
            or chunk.size + line > self.options.max_bytes
        ):
            self._submit(self._chunks.pop(slot))
            chunk = None
        if chunk is None:
            chunk = self._chunks[slot] = _Chunk(request.endpoint, request.purpose)
        chunk.requests.append(request)
        chunk.size += line
        if len(chunk.requests) >= self.options.max_lines:
            self._submit(self._chunks.pop(slot))
        elif self._flusher is None:
            self._flusher = asyncio.get_running_loop().create_task(self._flush_later())

    async def _flush_later(self) -> None:
        """Submit each chunk once it has waited ``flush_seconds`` for more requests."""
        try:
            while self._chunks:
                oldest = min(chunk.started for chunk in self._chunks.values())
                await asyncio.sleep(
                    max(0.0, oldest + self.options.flush_seconds - time.monotonic())
                )
                now = time.monotonic()
                for slot, chunk in list(self._chunks.items()):
                    if chunk.started + self.options.flush_seconds <= now:
                        self._submit(self._chunks.pop(slot))
        finally:
            self._flusher = None

    def _submit(self, chunk: _Chunk) -> None:
        self._spawn(self._submit_chunk(chunk), chunk.requests)

    def _spawn(self, coroutine: Any, requests: list[_Request]) -> None:
        task = asyncio.get_running_loop().create_task(self._guarded(coroutine, requests))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _guarded(self, coroutine: Any, requests: list[_Request]) -> None:
        """Run a batch's submission or polling; an unexpected failure (a lost database)
        fails its requests rather than leave their callers waiting for ever. Its batch row
        stays open: the run resumed reads the batch again."""
        try:
            await coroutine
        except Exception as exc:
            for request in requests:
                self._fail(request, f"the batch could not be followed: {type(exc).__name__}: {exc}")

    def _client(self, endpoint: EndpointConfig) -> BatchClient:
        client = self._clients.get(endpoint.alias)
        if client is None:
            client = self._clients[endpoint.alias] = BatchClient(endpoint, self._request_timeout)
        return client

    async def _submit_chunk(self, chunk: _Chunk) -> None:
        requests = {request.key: request for request in chunk.requests}
        row_id = await run_write(
            self.store.engine,
            functools.partial(
                batch_rows.add_batch,
                self.store,
                project_id=self.project_id,
                task_id=self.task_id,
                endpoint_alias=chunk.endpoint.alias,
                purpose=chunk.purpose,
                requests={key: request.canonical for key, request in requests.items()},
            ),
        )
        opened = _Open(row_id, chunk.endpoint, requests)
        self._open[row_id] = opened
        self._counts["batches"] += 1
        data = "".join(request_line(r.key, r.canonical) for r in chunk.requests).encode("utf-8")
        client = self._client(chunk.endpoint)
        try:
            remote = await _with_retries(
                lambda: self._send(client, row_id, data), self.options.poll_seconds
            )
        except BatchApiError as exc:
            await self._set(row_id, status="failed", error=str(exc))
            del self._open[row_id]
            for request in requests.values():
                self._fail(request, f"batch not submitted: {exc}")
            return
        opened.remote = remote
        await self._poll(opened)

    async def _send(self, client: BatchClient, row_id: int, data: bytes) -> RemoteBatch:
        file_id = await client.upload(data, f"distillset-batch-{row_id}.jsonl")
        await self._set(row_id, input_file_id=file_id)
        remote = await client.create(file_id, {METADATA_KEY: str(row_id)})
        await self._set(
            row_id, remote_id=remote.id, status="submitted", remote_status=remote.status
        )
        return remote

    async def _set(self, row_id: int, **values: Any) -> None:
        write = functools.partial(batch_rows.set_batch, self.store, row_id, **values)
        await run_write(self.store.engine, write)

    async def _poll(self, opened: _Open) -> None:
        """Read the batch with growing pauses until it ends, then take in its results."""
        assert opened.remote is not None
        client = self._client(opened.endpoint)
        delay = self.options.poll_seconds
        remote = opened.remote
        while not remote.final:
            await asyncio.sleep(delay)
            delay = min(delay * 1.5, self.options.poll_max_seconds)
            try:
                remote = await client.retrieve(remote.id)
            except BatchApiError as exc:
                if exc.status is None or exc.status == 429 or exc.status >= 500:
                    continue  # read again at the next pause
                # The provider does not know the batch (any more): its requests go again.
                remote = dataclasses.replace(remote, status="failed", errors=str(exc))
            if remote.status != (opened.remote.status if opened.remote else None):
                await self._set(opened.row_id, remote_status=remote.status)
            opened.remote = remote
        await self._ingest(opened, remote, client)

    async def _ingest(self, opened: _Open, remote: RemoteBatch, client: BatchClient) -> None:
        lines = []
        for file_id in (remote.output_file_id, remote.error_file_id):
            if file_id:
                lines += await _with_retries(
                    lambda file_id=file_id: client.lines(file_id), self.options.poll_seconds
                )
        latency_ms = (time.monotonic() - opened.submitted_at) * 1000
        endpoint = opened.endpoint
        redact = redactor(endpoint.api_key)
        calls: list[dict[str, Any]] = []
        answered: list[tuple[_Request, dict[str, Any], Any]] = []
        statuses: dict[str, str] = {}
        again: list[_Request] = []
        failed: list[tuple[_Request, str]] = []
        seen: set[str] = set()
        for line in lines:
            request = opened.requests.get(str(line.get("custom_id")))
            if request is None or request.key in seen:
                continue
            seen.add(request.key)
            outcome = _line_outcome(line, request)
            if isinstance(outcome, str):
                if request.resubmits < self.options.max_resubmits:
                    statuses[request.key] = "retried"
                    again.append(request)
                else:
                    statuses[request.key] = "failed"
                    failed.append((request, outcome))
                    calls.append(self._failure_row(request, outcome, line, latency_ms))
                continue
            completion, text = outcome
            statuses[request.key] = "done"
            row = self._call_row(request, text, completion, latency_ms)
            calls.append(redact_values(row, redact))
            answered.append((request, row, completion))
        unanswered = f"not answered (the batch ended {remote.status}: {remote.errors or '-'})"
        for request in opened.requests.values():
            if request.key in seen:
                continue
            # Not answered at all (a batch cancelled, or refused as a whole): nothing billed.
            if request.resubmits < self.options.max_resubmits:
                statuses[request.key] = "retried"
                again.append(request)
            else:
                statuses[request.key] = "failed"
                failed.append((request, unanswered))
        ids = await run_write(
            self.store.engine,
            batch_rows.ingest,
            self.store,
            opened.row_id,
            calls,
            statuses,
            {
                "status": "ingested",
                "remote_status": remote.status,
                "done": len(answered),
                "failed": len(failed) + len(again),
                "error": remote.errors,
            },
        )
        del self._open[opened.row_id]
        call_ids = iter(ids)
        for request, row, completion in answered:
            call_id = next(call_ids)
            self._counts["done"] += 1
            if not request.future.done():
                result = result_of(
                    completion,
                    endpoint.model,
                    cost=row.get("cost"),
                    latency_ms=latency_ms,
                    cached=False,
                    call_id=call_id,
                    billed=completion.usage,
                )
                request.future.set_result(result)
        for request, message in failed:
            self._fail(request, message)
        for request in again:
            self._retry(request)

    def _retry(self, request: _Request) -> None:
        """A line that failed or was never answered goes into the next batch, if anyone
        still waits for it (else the run, resumed, asks again)."""
        if not request.asked or request.future.done():
            self._requests.pop(request.key, None)
            return
        request.resubmits += 1
        self._counts["resubmitted"] += 1
        self._enqueue(request)

    def _fail(self, request: _Request, message: str) -> None:
        self._counts["failed"] += 1
        if not request.future.done():
            alias = request.endpoint.alias
            request.future.set_exception(
                ModelCallError(f"model {alias!r} failed in a batch: {message}")
            )
            request.future.exception()  # seen here: a request nobody awaits stays quiet
        self._requests.pop(request.key, None)

    def _call_row(
        self, request: _Request, text: str, completion: Any, latency_ms: float
    ) -> dict[str, Any]:
        usage = completion.usage
        endpoint = request.endpoint
        cost = endpoint.cost_of(
            usage.input_tokens,
            usage.output_tokens,
            cached_input_tokens=usage.cached_input_tokens,
            batch=True,
        )
        return {
            "project_id": self.project_id,
            "task_id": self.task_id,
            "endpoint_alias": endpoint.alias,
            "purpose": request.purpose,
            "request_key": request.key,
            "status": "ok",
            "http_status": 200,
            "error": None,
            "request_body": request.canonical,
            "response_body": completion.stored_body or text,
            "latency_ms": latency_ms,
            "attempts": request.resubmits + 1,
            "input_tokens": usage.input_tokens,
            "output_tokens": usage.output_tokens,
            "reasoning_tokens": usage.reasoning_tokens,
            "cached_input_tokens": usage.cached_input_tokens,
            "cost": cost,
        }

    def _failure_row(
        self, request: _Request, message: str, line: dict[str, Any], latency_ms: float
    ) -> dict[str, Any]:
        response = line.get("response") or {}
        body = response.get("body") if isinstance(response, dict) else None
        row: dict[str, Any] = {
            "project_id": self.project_id,
            "task_id": self.task_id,
            "endpoint_alias": request.endpoint.alias,
            "purpose": request.purpose,
            "request_key": request.key,
            "status": "error",
            "http_status": response.get("status_code") if isinstance(response, dict) else None,
            "error": message,
            "request_body": request.canonical,
            "response_body": None if body is None else json.dumps(body, ensure_ascii=False),
            "latency_ms": latency_ms,
            "attempts": request.resubmits + 1,
        }
        usage = usage_of(body) if isinstance(body, dict) else None
        if usage is not None and usage.reported:
            row["input_tokens"], row["output_tokens"] = usage.input_tokens, usage.output_tokens
            row["cost"] = request.endpoint.cost_of(
                usage.input_tokens, usage.output_tokens, batch=True
            )
        return redact_values(row, redactor(request.endpoint.api_key))

    def progress(self) -> dict[str, Any]:
        """Batches and requests as they stand: queued (not in a batch yet), submitted
        (validating), in progress, done, failed (for good), resubmitted."""
        queued = sum(len(chunk.requests) for chunk in self._chunks.values())
        submitted = in_progress = 0
        for opened in self._open.values():
            status = opened.remote.status if opened.remote is not None else "preparing"
            if status in ("in_progress", "finalizing", "cancelling"):
                in_progress += len(opened.requests)
            else:
                submitted += len(opened.requests)
        return {
            "batches": self._counts["batches"],
            "open": len(self._open),
            "queued": queued,
            "submitted": submitted,
            "in_progress": in_progress,
            "done": self._counts["done"],
            "failed": self._counts["failed"],
            "resubmitted": self._counts["resubmitted"],
        }

    async def aclose(self, *, cancel_remote: bool = False) -> None:
        """Stop polling; with ``cancel_remote`` (the task was cancelled) cancel the batches
        at the provider too. Without, they stay open for the run that resumes the task."""
        if self._flusher is not None:
            self._flusher.cancel()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._flusher is not None:
            await asyncio.gather(self._flusher, return_exceptions=True)
        if cancel_remote:
            for opened in list(self._open.values()):
                if opened.remote is not None and not opened.remote.final:
                    await self._cancel_remote(opened)
        for client in self._clients.values():
            await client.aclose()
        self._clients.clear()

    async def _cancel_remote(self, opened: _Open) -> None:
        assert opened.remote is not None
        with contextlib.suppress(BatchApiError):
            remote = await self._client(opened.endpoint).cancel(opened.remote.id)
            await self._set(opened.row_id, status="cancelled", remote_status=remote.status)


def _line_outcome(line: dict[str, Any], request: _Request) -> tuple[Any, str] | str:
    """A line's completion and its body text, or why it failed."""
    response = line.get("response")
    error = line.get("error")
    if isinstance(error, dict) and error:
        return str(error.get("message") or error.get("code") or "failed")[:300]
    if not isinstance(response, dict):
        return "no response in the batch output"
    status = response.get("status_code")
    body = response.get("body")
    if status != 200 or not isinstance(body, dict):
        detail = body.get("error") if isinstance(body, dict) else None
        message = detail.get("message") if isinstance(detail, dict) else None
        return f"HTTP {status}: {message or 'failed'}"[:300]
    text = json.dumps(body, ensure_ascii=False)
    redact = redactor(request.endpoint.api_key)
    top_k = _top_k(request.canonical)
    try:
        completion = parse_completion(
            redact(text), top_k=top_k, redact=redact if request.endpoint.api_key else None
        )
    except MalformedReply as exc:
        return str(exc)
    return completion, text


async def _with_retries(call: Any, pause: float) -> Any:
    """A batch interface call tried again after a pause when it fails, a few times."""
    for attempt in range(SUBMIT_TRIES):
        try:
            return await call()
        except BatchApiError as exc:
            if attempt == SUBMIT_TRIES - 1 or (exc.status is not None and 400 <= exc.status < 429):
                raise
            await asyncio.sleep(min(pause, 2.0**attempt))
    raise AssertionError("unreachable")


def _top_k(canonical: str) -> int:
    """How many alternatives per token the request asked for (0: no logprobs)."""
    body = json.loads(canonical)
    if not body.get("logprobs"):
        return 0
    return int(body.get("top_logprobs") or 0)

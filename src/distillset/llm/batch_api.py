"""A client of the OpenAI-compatible batch interface: upload a JSONL file of requests,
create a batch of it, read it, read its output and error files, cancel it.

Every failure is a BatchApiError whose message names what failed, the endpoint's key
redacted; callers decide whether to try again."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import aiohttp

from distillset.domain import ModelCallError
from distillset.llm.completion import error_message
from distillset.llm.config import EndpointConfig
from distillset.llm.redact import redactor
from distillset.llm.transport import client_timeout

CHAT_URL = "/v1/chat/completions"
# The statuses after which a batch changes no more.
FINAL_STATUSES = frozenset({"completed", "failed", "expired", "cancelled"})


class BatchApiError(ModelCallError):
    """A request to the batch interface failed (no reply, or an error status)."""


@dataclass(frozen=True)
class RemoteBatch:
    """What the provider says of a batch."""

    id: str
    status: str
    output_file_id: str | None
    error_file_id: str | None
    total: int
    completed: int
    failed: int
    errors: str | None

    @property
    def final(self) -> bool:
        return self.status in FINAL_STATUSES

    @classmethod
    def from_body(cls, body: dict[str, Any]) -> RemoteBatch:
        counts = body.get("request_counts") or {}
        errors = body.get("errors") or {}
        data = errors.get("data") if isinstance(errors, dict) else None
        messages = [str(e.get("message", e)) for e in data or [] if isinstance(e, dict)]
        return cls(
            id=str(body["id"]),
            status=str(body.get("status") or "unknown"),
            output_file_id=body.get("output_file_id"),
            error_file_id=body.get("error_file_id"),
            total=int(counts.get("total") or 0),
            completed=int(counts.get("completed") or 0),
            failed=int(counts.get("failed") or 0),
            errors="; ".join(messages)[:500] or None,
        )


def request_line(custom_id: str, canonical_body: str) -> str:
    """One line of an input file; the body is the canonical JSON the cache key is made of."""
    head = f'{{"custom_id": {json.dumps(custom_id)}, "method": "POST", "url": "{CHAT_URL}"'
    return f'{head}, "body": {canonical_body}}}\n'


class BatchClient:
    """The batch interface of one endpoint, over one pooled HTTP session."""

    def __init__(self, endpoint: EndpointConfig, request_timeout: float = 120.0) -> None:
        self.endpoint = endpoint
        self._redact = redactor(endpoint.api_key)
        headers = {}
        if endpoint.api_key:
            headers["Authorization"] = f"Bearer {endpoint.api_key}"
        self._timeout = client_timeout(request_timeout)
        self._session = aiohttp.ClientSession(
            headers=headers, cookie_jar=aiohttp.DummyCookieJar(), raise_for_status=False
        )

    async def aclose(self) -> None:
        await self._session.close()

    async def upload(self, data: bytes, filename: str) -> str:
        """Upload an input file (purpose ``batch``); its file id."""
        form = aiohttp.FormData()
        form.add_field("purpose", "batch")
        form.add_field("file", data, filename=filename, content_type="application/jsonl")
        body = await self._json("POST", "/files", data=form, what="uploading a batch file")
        return str(body["id"])

    async def create(self, input_file_id: str, metadata: dict[str, str]) -> RemoteBatch:
        payload = {
            "input_file_id": input_file_id,
            "endpoint": CHAT_URL,
            "completion_window": "24h",
            "metadata": metadata,
        }
        body = await self._json("POST", "/batches", json_body=payload, what="creating a batch")
        return RemoteBatch.from_body(body)

    async def retrieve(self, batch_id: str) -> RemoteBatch:
        body = await self._json("GET", f"/batches/{batch_id}", what=f"reading batch {batch_id}")
        return RemoteBatch.from_body(body)

    async def cancel(self, batch_id: str) -> RemoteBatch:
        what = f"cancelling batch {batch_id}"
        body = await self._json("POST", f"/batches/{batch_id}/cancel", what=what)
        return RemoteBatch.from_body(body)

    async def find(self, key: str, value: str, pages: int = 10) -> RemoteBatch | None:
        """The newest batch whose metadata says ``key: value`` among the latest ``pages``
        hundred (a batch created by a process killed before it noted the batch's id)."""
        after: str | None = None
        for _page in range(pages):
            path = "/batches?limit=100" + (f"&after={after}" if after else "")
            body = await self._json("GET", path, what="listing batches", expect_id=False)
            data = body.get("data")
            if not isinstance(data, list):
                return None
            for item in data:
                if isinstance(item, dict) and (item.get("metadata") or {}).get(key) == value:
                    return RemoteBatch.from_body(item)
            if not body.get("has_more") or not data:
                return None
            after = str(data[-1].get("id"))
        return None

    async def lines(self, file_id: str) -> list[dict[str, Any]]:
        """The JSON lines of an output or error file (lines that are not JSON skipped)."""
        text = await self._text("GET", f"/files/{file_id}/content", what=f"reading file {file_id}")
        found = []
        for raw in text.splitlines():
            try:
                line = json.loads(raw)
            except ValueError:
                continue
            if isinstance(line, dict):
                found.append(line)
        return found

    async def _json(
        self, method: str, path: str, *, what: str, expect_id: bool = True, **kwargs: Any
    ) -> dict[str, Any]:
        text = await self._text(method, path, what=what, **kwargs)
        try:
            body = json.loads(text)
        except ValueError:
            body = None
        if not isinstance(body, dict) or (expect_id and "id" not in body):
            raise BatchApiError(f"{what}: the reply is not the object expected")
        return body

    async def _text(
        self,
        method: str,
        path: str,
        *,
        what: str,
        data: Any = None,
        json_body: Any = None,
    ) -> str:
        url = f"{self.endpoint.base_url}{path}"
        try:
            async with self._session.request(
                method, url, data=data, json=json_body, timeout=self._timeout
            ) as response:
                text = (await response.read()).decode("utf-8", errors="replace")
                status = response.status
        except (TimeoutError, aiohttp.ClientError, ConnectionError) as exc:
            raise BatchApiError(self._redact(f"{what}: no reply ({type(exc).__name__})")) from None
        if status >= 400:
            message = self._redact(f"{what}: HTTP {status}: {error_message(text)}")
            raise BatchApiError(message, status)
        return text

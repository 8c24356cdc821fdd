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
import time
from typing import Any

from distillset.domain import ModelCallError
from distillset.llm import batch_rows
from distillset.llm.batch_api import BatchApiError, BatchClient, RemoteBatch, request_line
from distillset.llm.batch_parts import BatchOptions, BatchRequest, Chunk, OpenBatch
from distillset.llm.batch_results import LineSource, failure_row, line_outcome, success_row
from distillset.llm.completion import Completion
from distillset.llm.config import EndpointConfig
from distillset.llm.results import ChatResult, result_of
from distillset.llm.writer import run_write
from distillset.store.db import Store

SUBMIT_TRIES = 4
# The metadata naming a batch's row: a batch created by a process killed before it noted
# the batch's id is found by it.
METADATA_KEY = "distillset_batch"
# A cancelled batch stays open: the lines it finished were paid for, so a run that resumes
# the task reads them when the batch has ended (and sends the others again).
CANCELLED_NOTE = "cancelled with its task"


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
        self._requests: dict[str, BatchRequest] = {}
        self._chunks: dict[tuple[str, str], Chunk] = {}
        self._open: dict[int, OpenBatch] = {}
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
                request = BatchRequest(
                    key, canonical, endpoint, batch.purpose, loop.create_future()
                )
                self._requests[key] = requests[key] = request
            opened = OpenBatch(batch.id, endpoint, requests)
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
            request = BatchRequest(key, canonical, endpoint, purpose, future, asked=True)
            self._requests[key] = request
            self._enqueue(request)
        elif request.asked:
            # Asked before in this run: its reply is shared, never paid twice.
            return dataclasses.replace(await asyncio.shield(request.future), cached=True)
        request.asked = True
        return await asyncio.shield(request.future)

    def _enqueue(self, request: BatchRequest) -> None:
        slot = (request.endpoint.alias, request.purpose)
        chunk = self._chunks.get(slot)
        # The bytes its line takes in the input file (request_line adds under 80 to these).
        line = len(request.canonical.encode("utf-8")) + len(request.key) + 80
        if chunk is not None and (
            len(chunk.requests) >= self.options.max_lines
            or chunk.size + line > self.options.max_bytes
        ):
            self._submit(self._chunks.pop(slot))
            chunk = None
        if chunk is None:
            chunk = self._chunks[slot] = Chunk(request.endpoint, request.purpose)
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

    def _submit(self, chunk: Chunk) -> None:
        self._spawn(self._submit_chunk(chunk), chunk.requests)

    def _spawn(self, coroutine: Any, requests: list[BatchRequest]) -> None:
        task = asyncio.get_running_loop().create_task(self._guarded(coroutine, requests))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _guarded(self, coroutine: Any, requests: list[BatchRequest]) -> None:
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

    async def _submit_chunk(self, chunk: Chunk) -> None:
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
        opened = OpenBatch(row_id, chunk.endpoint, requests)
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

    async def _poll(self, opened: OpenBatch) -> None:
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

    async def _ingest(self, opened: OpenBatch, remote: RemoteBatch, client: BatchClient) -> None:
        lines = []
        for file_id in (remote.output_file_id, remote.error_file_id):
            if file_id:
                lines += await _with_retries(
                    lambda file_id=file_id: client.lines(file_id), self.options.poll_seconds
                )
        latency_ms = (time.monotonic() - opened.submitted_at) * 1000
        endpoint = opened.endpoint
        calls: list[dict[str, Any]] = []
        answered: list[tuple[BatchRequest, int, Completion]] = []
        statuses: dict[str, str] = {}
        again: list[BatchRequest] = []
        failed: list[tuple[BatchRequest, str]] = []
        seen: set[str] = set()
        for line in lines:
            request = opened.requests.get(str(line.get("custom_id")))
            if request is None or request.key in seen:
                continue
            seen.add(request.key)
            source = self._source(request, latency_ms)
            outcome = line_outcome(line, source)
            if isinstance(outcome, str):
                if request.resubmits < self.options.max_resubmits:
                    statuses[request.key] = "retried"
                    again.append(request)
                else:
                    statuses[request.key] = "failed"
                    failed.append((request, outcome))
                    calls.append(failure_row(source, outcome, line))
                continue
            completion, text = outcome
            statuses[request.key] = "done"
            # Where its row lies among the rows written: their ids come back in order.
            answered.append((request, len(calls), completion))
            calls.append(success_row(source, completion, text))
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
        for request, position, completion in answered:
            self._counts["done"] += 1
            if not request.future.done():
                result = result_of(
                    completion,
                    endpoint.model,
                    cost=calls[position].get("cost"),
                    latency_ms=latency_ms,
                    cached=False,
                    call_id=ids[position],
                    billed=completion.usage,
                )
                request.future.set_result(result)
        for request, message in failed:
            self._fail(request, message)
        for request in again:
            self._retry(request)

    def _source(self, request: BatchRequest, latency_ms: float) -> LineSource:
        return LineSource(
            self.project_id,
            self.task_id,
            request.endpoint,
            request.purpose,
            request.key,
            request.canonical,
            request.resubmits + 1,
            latency_ms,
        )

    def _retry(self, request: BatchRequest) -> None:
        """A line that failed or was never answered goes into the next batch, if anyone
        still waits for it (else the run, resumed, asks again)."""
        if not request.asked or request.future.done():
            self._requests.pop(request.key, None)
            return
        request.resubmits += 1
        self._counts["resubmitted"] += 1
        self._enqueue(request)

    def _fail(self, request: BatchRequest, message: str) -> None:
        self._counts["failed"] += 1
        if not request.future.done():
            alias = request.endpoint.alias
            request.future.set_exception(
                ModelCallError(f"model {alias!r} failed in a batch: {message}")
            )
            request.future.exception()  # seen here: a request nobody awaits stays quiet
        self._requests.pop(request.key, None)

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

    async def _cancel_remote(self, opened: OpenBatch) -> None:
        assert opened.remote is not None
        with contextlib.suppress(BatchApiError):
            remote = await self._client(opened.endpoint).cancel(opened.remote.id)
            await self._set(opened.row_id, remote_status=remote.status, error=CANCELLED_NOTE)


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

"""The gateway: every model call of a project goes through here.

It owns limits, retries, the response cache and the usage log, so callers only say what
to ask and why.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import functools
import json
import time
from types import TracebackType
from typing import Any

from distillset.domain import ModelCallError
from distillset.llm.attempts import SCORING_FIELD, Attempt, explained_failure, send_attempt
from distillset.llm.batch import BatchQueue
from distillset.llm.call_rows import StoredCall
from distillset.llm.calls import CallRecorder
from distillset.llm.completion import NO_USAGE, Completion, Usage, parse_completion
from distillset.llm.config import EndpointConfig, LimitSettings
from distillset.llm.embeddings import logged_embeddings
from distillset.llm.errors import ModelOutputError, RequestRefused
from distillset.llm.flights import in_flight
from distillset.llm.limiter import Limiter, LimiterRegistry, Permit
from distillset.llm.lists import (
    list_output_bound,
    list_response_format,
    parse_json_list,
    with_json_object_hint,
)
from distillset.llm.logprobs import request_fields
from distillset.llm.redact import redact_exception, redact_values, redactor
from distillset.llm.refusals import FORMAT, LOGPROBS, MAX_TOKENS, SCHEMA, refused_part
from distillset.llm.request import build_body, canonical_json, estimate_input_tokens, request_key
from distillset.llm.results import BeforeSend, ChatResult, ListResult, SendGuard, result_of
from distillset.llm.retry import backoff_delay
from distillset.llm.soft_labels import REFUSED, SoftLabelCapture
from distillset.llm.teacher import server_identity
from distillset.llm.transport import Transport

__all__ = ["BeforeSend", "ChatResult", "Gateway", "ListResult", "SendGuard"]

DEFAULT_OUTPUT_ESTIMATE = 1024


class _LogprobsRefused(Exception):
    """Raised before a send: the server refused logprobs to another request meanwhile."""


class Gateway:
    """All model calls through one transport, call log and limiter, each given (httpx's
    ``transport=``; a limiter composed and shared explicitly): ``open_gateway`` builds the
    defaults of a project, a unit test passes in-memory ones. The gateway closes them.

    ``endpoint_limiters`` holds the limits an endpoint sets itself, shared by the
    gateways given the same registry (``open_gateway``: every gateway of the process).
    """

    def __init__(
        self,
        limits: LimitSettings,
        *,
        transport: Transport,
        calls: CallRecorder,
        limiter: Limiter,
        endpoint_limiters: LimiterRegistry | None = None,
        project_id: int | None = None,
        use_cache: bool = True,
        send_guard: SendGuard | None = None,
        batches: BatchQueue | None = None,
    ) -> None:
        self.limits = limits
        # Requests of the purposes it takes go through the provider's batch interface.
        self.batches = batches
        # Awaited right before every request is sent, with the request's estimated cost (a
        # task run's ownership lease and budget).
        self._send_guard = send_guard
        self.project_id = project_id
        self.use_cache = use_cache
        self.limiter = limiter
        self._endpoint_limiters = endpoint_limiters or LimiterRegistry()
        self._learned = LimiterRegistry()
        self._calls = calls
        self._transport = transport
        self._output_average = 0.0
        self._output_samples = 0
        # Endpoints whose server refused logprobs (why), so a run stops asking for them;
        # what each server reports of its model, asked once.
        self._logprobs_refused: dict[tuple[str, str], str] = {}
        self._identities: dict[tuple[str, str], asyncio.Task[dict[str, Any]]] = {}

    async def __aenter__(self) -> Gateway:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._transport.aclose()
        await self._calls.drain()
        self._calls.close()

    async def chat(
        self,
        endpoint: EndpointConfig,
        messages: list[dict[str, str]],
        *,
        purpose: str,
        task_id: int | None = None,
        attempt: int = 0,
        response_format: dict[str, Any] | None = None,
        sampling: dict[str, Any] | None = None,
        stream: bool = False,
        before_send: BeforeSend | None = None,
        logprobs: int = 0,
        variant: int = 0,
    ) -> ChatResult:
        """One answered chat request, from the cache or the endpoint (see the contract).

        ``variant`` numbers one of several samples of the same request: each is cached
        apart, so the samples differ and a resumed run never pays for one twice.

        With ``logprobs`` K the request asks for the top K alternatives of every token and
        the result carries its soft labels. A server that refuses them is asked again
        without, and this gateway asks it for them no more (requests already waiting for a
        slot go without): its results say REFUSED.
        """
        ask = functools.partial(
            self._chat,
            endpoint,
            messages,
            purpose=purpose,
            task_id=task_id,
            attempt=attempt,
            response_format=response_format,
            sampling=sampling,
            stream=stream,
            variant=variant,
        )
        server = (endpoint.base_url, endpoint.model)
        if logprobs > 0 and server not in self._logprobs_refused:

            async def still_asked() -> None:
                if server in self._logprobs_refused:
                    raise _LogprobsRefused
                if before_send is not None:
                    await before_send()

            try:
                return await ask(top_k=logprobs, before_send=still_asked)
            except _LogprobsRefused:
                pass  # refused meanwhile, this request unsent
            except RequestRefused as exc:
                if exc.part != LOGPROBS:
                    raise
        result = await ask(top_k=0, before_send=before_send)
        if logprobs > 0:
            result.soft_labels = SoftLabelCapture(REFUSED, detail=self._logprobs_refused[server])
        return result

    async def embed(
        self,
        endpoint: EndpointConfig,
        texts: list[str],
        *,
        purpose: str = "embeddings",
        task_id: int | None = None,
    ) -> list[list[float]]:
        """One vector per text from the endpoint's `/embeddings`, each batch logged (usage,
        cost) and cached in the call log like a chat call."""
        return await logged_embeddings(
            endpoint,
            texts,
            self._transport,
            self._calls,
            project_id=self.project_id,
            task_id=task_id,
            purpose=purpose,
            use_cache=self.use_cache,
        )

    async def server_identity(self, endpoint: EndpointConfig) -> dict[str, Any]:
        """What the endpoint's server reports of its model (see llm.teacher), asked once per
        gateway and server; {} when it reports nothing."""
        server = (endpoint.base_url, endpoint.model)
        task = self._identities.get(server)
        if task is None:
            redact = redactor(endpoint.api_key)
            task = asyncio.ensure_future(server_identity(self._transport, endpoint, redact))
            self._identities[server] = task
        return dict(await asyncio.shield(task))

    async def _chat(
        self,
        endpoint: EndpointConfig,
        messages: list[dict[str, str]],
        *,
        purpose: str,
        task_id: int | None,
        attempt: int,
        response_format: dict[str, Any] | None,
        sampling: dict[str, Any] | None,
        stream: bool,
        before_send: BeforeSend | None,
        top_k: int,
        variant: int = 0,
    ) -> ChatResult:
        body = build_body(endpoint, messages, sampling=sampling, response_format=response_format)
        if top_k > 0:
            body.update(request_fields(top_k))
        canonical = canonical_json(body)
        key = request_key(endpoint.base_url, body, attempt, canonical, variant)
        if not self.use_cache:
            return await self._call_endpoint(
                endpoint, body, canonical, key, purpose, task_id, stream, before_send, top_k
            )
        in_flight_here = in_flight(self._calls.scope)
        while key in in_flight_here:
            # The same request is already on its way: share its answer, never pay twice.
            shared = in_flight_here[key]
            if shared is None:
                shared = in_flight_here[key] = asyncio.get_running_loop().create_future()
            with contextlib.suppress(asyncio.CancelledError):
                return dataclasses.replace(await asyncio.shield(shared), cached=True)
            if not shared.cancelled():
                raise asyncio.CancelledError  # this caller itself was cancelled
        in_flight_here[key] = None
        try:
            started = time.perf_counter()
            stored = await self._calls.find_success(key)
            if stored is not None:
                result = self._from_cache(endpoint, stored, started, top_k)
            else:
                result = await self._call_endpoint(
                    endpoint, body, canonical, key, purpose, task_id, stream, before_send, top_k
                )
        except asyncio.CancelledError:
            if (shared := in_flight_here.pop(key)) is not None:
                shared.cancel()  # a sharer then sends the request itself
            raise
        except BaseException as exc:
            if (shared := in_flight_here.pop(key)) is not None:
                shared.set_exception(exc)
                shared.exception()  # seen: this caller raises it, sharers get it when they wait
            raise
        if (shared := in_flight_here.pop(key)) is not None:
            shared.set_result(result)
        return result

    async def _call_endpoint(
        self,
        endpoint: EndpointConfig,
        body: dict[str, Any],
        canonical: str,
        key: str,
        purpose: str,
        task_id: int | None,
        stream: bool,
        before_send: BeforeSend | None = None,
        top_k: int = 0,
    ) -> ChatResult:
        """Send with retries, then commit the LlmCall row before answering."""
        if self.batches is not None and self.batches.takes(purpose):
            return await self._batched(endpoint, body, canonical, key, purpose, before_send)
        outcome, attempts, billed = await self._send_with_retries(
            endpoint, body, canonical, stream, purpose, before_send, top_k
        )
        completion = outcome.completion
        redact = redactor(endpoint.api_key)
        row: dict[str, Any] = {
            "project_id": self.project_id,
            "task_id": task_id,
            "endpoint_alias": endpoint.alias,
            "purpose": purpose,
            "request_key": key,
            "status": "ok" if outcome.error is None else "error",
            "http_status": outcome.http_status,
            "error": explained_failure(outcome, body, endpoint),
            "request_body": canonical,  # the key travels in a header, never in the body
            "response_body": outcome.body,
            "latency_ms": outcome.latency_ms,
            "attempts": attempts,
        }
        cost = None
        if billed.reported:  # the usage log counts every attempt that was billed
            cost = endpoint.cost_of(
                billed.input_tokens,
                billed.output_tokens,
                cached_input_tokens=billed.cached_input_tokens,
            )
            row.update(
                input_tokens=billed.input_tokens,
                output_tokens=billed.output_tokens,
                reasoning_tokens=billed.reasoning_tokens,
                cached_input_tokens=billed.cached_input_tokens,
                cost=cost,
            )
        row = redact_values(row, redact)
        part = refused_part(outcome.http_status, outcome.body, body)
        if part == LOGPROBS:  # said before the next request waiting for a slot is sent
            self._logprobs_refused[(endpoint.base_url, endpoint.model)] = row["error"]
        call_id = await self._calls.record(row)
        if outcome.error is not None or completion is None:
            message = f"model {endpoint.alias!r} failed after {attempts} attempt(s): {row['error']}"
            error = (
                ModelCallError(message, outcome.http_status)
                if part is None
                else RequestRefused(message, outcome.http_status, part=part)
            )
            error.call_id = call_id  # type: ignore[attr-defined]
            raise error
        return result_of(
            completion,
            endpoint.model,
            cost=cost,
            latency_ms=outcome.latency_ms,
            cached=False,
            call_id=call_id,
            billed=billed,
        )

    async def _batched(
        self,
        endpoint: EndpointConfig,
        body: dict[str, Any],
        canonical: str,
        key: str,
        purpose: str,
        before_send: BeforeSend | None,
    ) -> ChatResult:
        """The request through a batch: its guards pass first, as for a request sent now
        (the run's lease and budget, at the batch price; the target's existence)."""
        assert self.batches is not None
        if self._send_guard is not None:
            estimate = self._estimate_cost(endpoint, body)
            await self._send_guard(estimate * (1.0 - (endpoint.batch_discount or 0.0)))
        if before_send is not None:
            await before_send()
        return await self.batches.ask(endpoint, canonical, key, purpose)

    async def chat_list(
        self,
        endpoint: EndpointConfig,
        messages: list[dict[str, str]],
        *,
        purpose: str,
        task_id: int | None = None,
        attempt: int = 0,
        count: int | None = None,
        before_send: BeforeSend | None = None,
    ) -> ListResult:
        """A JSON array of (about ``count``) strings, using structured output where the
        endpoint has it, within a default output bound unless the endpoint sets one."""
        mode = endpoint.structured_output
        response_format = list_response_format(mode, count)
        sampling = list_output_bound(endpoint, count)
        ask = functools.partial(
            self.chat,
            endpoint,
            purpose=purpose,
            task_id=task_id,
            attempt=attempt,
            before_send=before_send,
        )
        while True:
            asked = (
                with_json_object_hint(messages)
                if response_format and mode == "json_object"
                else messages
            )
            try:
                result = await ask(asked, response_format=response_format, sampling=sampling)
                break
            except RequestRefused as exc:
                # Drop only what the server says it does not take, then ask again.
                if exc.part == MAX_TOKENS and sampling:
                    sampling = None
                elif exc.part == SCHEMA and count is not None and response_format is not None:
                    count = None
                    response_format = list_response_format(mode, None)
                elif exc.part in (FORMAT, SCHEMA) and response_format is not None:
                    response_format = None  # the prompt alone asks for the array
                else:
                    raise
        try:
            items = parse_json_list(result.content)
        except ModelOutputError as exc:
            # Keep the raw text for inspection, but never serve it from the cache again.
            message = redactor(endpoint.api_key)(str(exc))
            await self._calls.update(result.call_id, {"status": "invalid", "error": message})
            raise ModelOutputError(
                message, raw_text=result.content, call_id=result.call_id
            ) from None
        return ListResult(items, result)

    def _from_cache(
        self, endpoint: EndpointConfig, stored: StoredCall, started: float, top_k: int = 0
    ) -> ChatResult:
        # A row stored before the key's redaction covered every form gets it now.
        redact = redactor(endpoint.api_key)
        completion = parse_completion(
            redact(stored.response_body), top_k=top_k, redact=redact if endpoint.api_key else None
        )
        prices_known = endpoint.price_input_per_m is not None
        return result_of(
            completion,
            endpoint.model,
            # Nothing was paid for this answer now.
            cost=0.0 if prices_known or endpoint.price_output_per_m is not None else None,
            latency_ms=(time.perf_counter() - started) * 1000,
            cached=True,
            call_id=stored.id,
        )

    def _estimate_tokens(self, body: dict[str, Any]) -> float:
        if self._output_samples == 0:
            output = body.get("max_tokens") or DEFAULT_OUTPUT_ESTIMATE
        else:
            output = self._output_average
        return float(estimate_input_tokens(body["messages"]) + output)

    def _estimate_cost(self, endpoint: EndpointConfig, body: dict[str, Any]) -> float:
        """What the request may cost at most: its input, and its max_tokens of output (or
        the output this gateway has seen on average, where no max is set)."""
        if endpoint.price_input_per_m is None and endpoint.price_output_per_m is None:
            return 0.0
        output = body.get("max_tokens")
        if output is None:
            output = self._output_average if self._output_samples else DEFAULT_OUTPUT_ESTIMATE
        return endpoint.cost_of(estimate_input_tokens(body["messages"]), int(output)) or 0.0

    def _learn_output(self, completion: Completion | None) -> None:
        if completion is None or completion.usage.output_tokens is None:
            return
        self._output_samples += 1
        weight = 1.0 / min(self._output_samples, 50)
        self._output_average += (completion.usage.output_tokens - self._output_average) * weight

    async def _send_with_retries(
        self,
        endpoint: EndpointConfig,
        body: dict[str, Any],
        canonical: str,
        stream: bool,
        purpose: str,
        before_send: BeforeSend | None = None,
        top_k: int = 0,
    ) -> tuple[Attempt, int, Usage]:
        """The last attempt, how many were made, and the usage they reported together."""
        limits = self.limits
        url = f"{endpoint.base_url}/chat/completions"
        payload = canonical.encode("utf-8")
        if stream:
            streamed = {**body, "stream": True, "stream_options": {"include_usage": True}}
            payload = json.dumps(streamed, ensure_ascii=False).encode("utf-8")
        endpoint_limiter = self._endpoint_limiter(endpoint)
        transport = self._transport
        tries = max(0, limits.max_retries) + 1
        redact = redactor(endpoint.api_key)
        # A request that has the server score its prompt wants the scores, not the one
        # token generated after them: that token's cut or emptiness is no failure.
        scoring = SCORING_FIELD in body
        billed = NO_USAGE
        made = 0
        while True:
            # Each attempt waits for its own permits, settled with its own usage. (Inline,
            # not a helper coroutine: every waiting request would hold one more object.)
            estimate = self._estimate_tokens(body)
            permit = await self.limiter.acquire(estimate)
            endpoint_permit: Permit | None = None
            used: int | None = None  # unknown (cancelled, failed): the estimate stands
            try:
                if endpoint_limiter is not None:
                    endpoint_permit = await endpoint_limiter.acquire(estimate)
                used = 0  # stopped by a guard below, the request used nothing
                if self._send_guard is not None:
                    await self._send_guard(self._estimate_cost(endpoint, body))
                if before_send is not None:
                    await before_send()
                used = None
                outcome = await send_attempt(
                    transport, endpoint, url, payload, stream, redact, top_k, scoring=scoring
                )
                used = outcome.usage.total
            except Exception as exc:  # a bug below the gateway: it propagates, keyless
                redact_exception(exc, endpoint.api_key)
                raise
            finally:
                self.limiter.release(permit, used)
                if endpoint_limiter is not None and endpoint_permit is not None:
                    endpoint_limiter.release(endpoint_permit, used)
            if endpoint_limiter is not None and endpoint_permit is not None:
                completion = outcome.completion
                endpoint_limiter.feedback(
                    endpoint_permit,
                    kind=purpose,
                    overloaded=outcome.overloaded,
                    output_tokens=None if completion is None else completion.usage.output_tokens,
                )
            billed += outcome.usage
            self._learn_output(outcome.completion)
            made += 1
            if outcome.error is None or not outcome.retryable or made == tries:
                return outcome, made, billed
            delay = outcome.wait
            if delay is None:  # the first retry waits about backoff_base
                delay = backoff_delay(made - 1, limits.backoff_base, limits.backoff_max)
            if outcome.http_status == 429:
                # Everyone waits, not only this request: the others would hit the same wall.
                self.limiter.pause(delay)
                if endpoint_limiter is not None:
                    endpoint_limiter.pause(delay)
            else:
                await asyncio.sleep(delay)

    def _endpoint_limiter(self, endpoint: EndpointConfig) -> Limiter | None:
        """Limits the provider sets on the endpoint itself, shared by all projects using it."""
        limited = endpoint.concurrency or endpoint.rpm or endpoint.tpm
        if not limited:
            if not endpoint.adaptive:
                return None
            # Learned per gateway (one run), from where the endpoint's last run got to
            # (kept in its row); nothing else it learned, or holds, outlives the run.
            return self._learned.get(
                ("learned", endpoint.base_url, endpoint.model),
                self.limits.max_concurrency,
                None,
                None,
                adaptive=True,
                start=endpoint.learned_concurrency,
            )
        limiter = self._endpoint_limiters.get(
            ("endpoint", endpoint.base_url, endpoint.model),
            endpoint.concurrency or self.limits.max_concurrency,
            endpoint.rpm,
            endpoint.tpm,
            adaptive=endpoint.adaptive,
            start=endpoint.learned_concurrency,
        )
        shared = self.limiter.rates
        if shared is not None and (endpoint.rpm or endpoint.tpm):
            # The project's rates hold across processes: so do the endpoint's, from then on.
            limiter.share_rates(shared.for_limit(f"endpoint:{endpoint.model}@{endpoint.base_url}"))
        return limiter

    def concurrency(self, endpoint: EndpointConfig) -> int:
        """How many requests may be out to the endpoint now (its learned limit, if any)."""
        endpoint_limiter = self._endpoint_limiter(endpoint)
        if endpoint_limiter is None:
            return self.limiter.concurrency
        return min(self.limiter.concurrency, endpoint_limiter.concurrency)

"""A fake OpenAI-compatible model server on 127.0.0.1 for tests, benchmarks and demos.

Run it in a background thread (`FakeModelServer().start()`), or as its own process:
`python -m distillset.testing.fake_server --port 8000 --latency 0.05`. Its behaviour can
be changed while it runs; in a separate process through `POST /_fake/config`.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import contextlib
import json
import random
import socket
import threading
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any

from aiohttp import web

from distillset.llm.config import EndpointConfig
from distillset.testing import fake_content, fake_embeddings
from distillset.testing.fake_batches import FakeBatches
from distillset.testing.fake_cache import PromptCache, with_cached_tokens
from distillset.testing.fake_config import REASONING_STYLES, Counters, FakeConfig, FakeStats
from distillset.testing.fake_logprobs import (
    logprobs_asked,
    logprobs_of,
    logprobs_refusal,
    pieces,
    prompt_logprobs_of,
    reply_json,
    stream_groups,
    vocabulary_at,
)
from distillset.testing.fake_replies import (
    completion_body,
    echo_body,
    message_fields,
    reply_parts,
    stream_chunks,
    usage_of,
)

MALFORMED_BODY = '{"id": "chatcmpl-broken", "choices": [{"message": {"content": "cut'


class FakeModelBehaviour:
    """The request handlers and their state, independent of how the server is hosted."""

    def __init__(self, config: FakeConfig | None = None) -> None:
        self.config = config or FakeConfig()
        self.counters = Counters()
        self.rng = random.Random(self.config.seed)
        self._slots: tuple[int, asyncio.Semaphore] | None = None
        self.prompt_cache = PromptCache()
        self.batches = FakeBatches(self)
        # Sampled answers (temperature above 0) given so far per prompt: each one differs.
        self._samples: collections.Counter[str] = collections.Counter()

    def configure(self, **changes: Any) -> FakeConfig:
        unknown = set(changes) - FakeConfig.field_names()
        if unknown:
            raise ValueError(f"unknown fake server setting(s): {', '.join(sorted(unknown))}")
        self.config = replace(self.config, **changes)
        if "seed" in changes:
            self.rng = random.Random(self.config.seed)
        return self.config

    def reset(self, config: FakeConfig | None = None) -> None:
        self.config = config or FakeConfig()
        self.rng = random.Random(self.config.seed)
        self._samples.clear()
        self.counters.reset()
        self.prompt_cache.clear()
        self.batches.clear()

    def _slot(self, config: FakeConfig) -> contextlib.AbstractAsyncContextManager[Any]:
        """One of the server's slots (waiting for it), or no limit without ``slots``."""
        if not config.slots:
            return contextlib.nullcontext()
        if self._slots is None or self._slots[0] != config.slots:
            self._slots = (config.slots, asyncio.Semaphore(config.slots))
        return self._slots[1]

    def queue_faults(self, *faults: str) -> None:
        """Force the next requests' outcomes in order (`429`, `500`, `stall`, `ok`, ...)."""
        self.counters.forced.extend(faults)

    def _pick_fault(self) -> str:
        forced = self.counters.next_forced()
        if forced is not None:
            return forced
        for fault, rate in self.config.fault_rates():
            if rate > 0 and self.rng.random() < rate:
                return fault
        return "ok"

    def app(self, *, admin: bool = False) -> web.Application:
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_post("/v1/chat/completions", self.chat)
        app.router.add_post("/chat/completions", self.chat)
        app.router.add_post("/v1/embeddings", self.embeddings)
        app.router.add_post("/embeddings", self.embeddings)
        app.router.add_get("/v1/models", self.models)
        app.router.add_get("/props", self.props)
        self.batches.add_routes(app)
        if admin:
            app.router.add_get("/_fake/stats", self.admin_stats)
            app.router.add_post("/_fake/config", self.admin_config)
            app.router.add_post("/_fake/reset", self.admin_reset)
        return app

    async def models(self, request: web.Request) -> web.Response:
        if not self._authorized(request):
            return _error(401, "invalid api key", "invalid_api_key")
        # `root` as vLLM reports the repository a model was loaded from, `meta` as llama.cpp.
        model = {
            "id": self.config.model,
            "object": "model",
            "owned_by": "distillset",
            "root": f"fake-org/{self.config.model}",
            "meta": {"n_vocab": vocabulary_at(self.config.vocabulary).size},
        }
        return web.json_response({"object": "list", "data": [model]})

    async def props(self, request: web.Request) -> web.Response:
        """llama.cpp's server properties: the model file it serves."""
        if not self._authorized(request):
            return _error(401, "invalid api key", "invalid_api_key")
        return web.json_response({"model_path": f"/models/{self.config.model}.gguf"})

    def _authorized(self, request: web.Request) -> bool:
        expected = self.config.require_api_key
        return expected is None or request.headers.get("Authorization") == f"Bearer {expected}"

    async def chat(self, request: web.Request) -> web.StreamResponse:
        loop = asyncio.get_running_loop()
        arrived = loop.time()
        self.counters.enter(self.config.log_prompts)
        kind, status, outcome = "unknown", 500, "error"
        try:
            if not self._authorized(request):
                status, outcome = 401, "unauthorized"
                return _error(401, "invalid api key", "invalid_api_key")
            try:
                body = await request.json()
                messages = body["messages"]
            except (ValueError, KeyError, TypeError):
                status, outcome = 400, "bad_request"
                return _error(400, "the body must be JSON with messages", "invalid_request")
            config = self.config
            if config.log_prompts:
                self.counters.log_body(body)
            refusal = _refusal(body, messages, config)
            if refusal is not None:
                status, outcome = 400, "bad_request"
                return refusal
            kind = fake_content.request_kind(messages)
            if config.echo_authorization:
                header = request.headers.get("Authorization", "")
                model = str(body.get("model") or config.model)
                status, outcome = 200, "ok"
                text = echo_body(
                    model, header, config.echo_authorization, _logprobs_maker(body, config)
                )
                return web.Response(text=text, content_type="application/json")
            async with self._slot(config):
                # Queued behind busy slots, the work starts now: the latency counts from here.
                arrived = loop.time() if config.slots else arrived
                outcome = self._pick_fault()
                if outcome == "stall":
                    await asyncio.sleep(config.stall_seconds)
                jitter = self.rng.uniform(0, config.jitter) if config.jitter else 0
                delay = config.latency + jitter
                reply = self._reply(body, messages, kind, outcome, config)
                # The latency counts from the request's arrival: the time spent writing the
                # reply is part of it, as it is for a real model.
                wait = arrived + delay - loop.time()
                if wait > 0:
                    await asyncio.sleep(wait)
                if isinstance(reply, list):
                    response = await _send_stream(request, reply)
                else:
                    response = reply
            status = response.status
            return response
        finally:
            self.counters.leave(kind, status, outcome)

    async def embeddings(self, request: web.Request) -> web.Response:
        """`/v1/embeddings`: deterministic vectors (see fake_embeddings), with the forced and
        random 429 / 500 faults and the latency of chat requests."""
        self.counters.enter(self.config.log_prompts)
        status, outcome = 500, "error"
        try:
            if not self._authorized(request):
                status, outcome = 401, "unauthorized"
                return _error(401, "invalid api key", "invalid_api_key")
            try:
                body = await request.json()
            except ValueError:
                body = None
            texts = fake_embeddings.inputs_of(body)
            if texts is None:
                status, outcome = 400, "bad_request"
                return _error(400, "input must be a string or a list of strings", "invalid_request")
            config = self.config
            if config.log_prompts:
                self.counters.log_body(body)
            outcome = self._pick_fault()
            if config.latency:
                await asyncio.sleep(config.latency)
            if outcome in ("429", "500"):
                response = self._reply(body, [], "embeddings", outcome, config)
                assert isinstance(response, web.Response)
            else:
                outcome = "ok"
                model = str(body.get("model") or config.model)
                reply = fake_embeddings.embeddings_body(model, texts, config.embedding_dims)
                response = web.json_response(reply)
            status = response.status
            return response
        finally:
            self.counters.leave("embeddings", status, outcome)

    def _reply(
        self,
        body: dict[str, Any],
        messages: list[dict[str, Any]],
        kind: str,
        outcome: str,
        config: FakeConfig,
    ) -> web.Response | list[dict[str, Any]]:
        """The response to send, or the chunks of a streamed one."""
        if outcome == "429":
            return _error(
                429,
                "rate limit reached, slow down",
                "rate_limit_exceeded",
                headers=_retry_after_headers(config),
            )
        if outcome == "500":
            return _error(500, "the fake model had an internal error", "server_error")
        if outcome == "malformed":
            return web.Response(text=MALFORMED_BODY, content_type="application/json")
        response_format = body.get("response_format")
        sample = self._sample_number(body, messages, kind)
        reasoning, answer = reply_parts(kind, messages, config, self.rng, response_format, sample)
        finish_reason = "stop"
        if outcome == "truncated":
            answer, finish_reason = answer[: max(1, len(answer) // 2)], "length"
        elif outcome == "empty":
            answer = ""
        if config.scores_prompts and body.get("prompt_logprobs") is not None:
            # A scoring request: one token generated, cut at max_tokens as vLLM cuts it.
            reasoning, answer, finish_reason = None, pieces(answer)[0].decode(), "length"
        message = message_fields(config.reasoning_style, reasoning, answer)
        usage = usage_of(messages, message)
        if config.cache_report != "none":
            cached = self.prompt_cache.cached_tokens(messages)
            usage = with_cached_tokens(usage, cached, config.cache_report)
        model = config.reported_model or str(body.get("model") or config.model)
        make_logprobs = _logprobs_maker(body, config)
        if body.get("stream"):
            include_usage = bool((body.get("stream_options") or {}).get("include_usage"))
            usage_sent = usage if include_usage else None
            if make_logprobs is None:
                return stream_chunks(model, message, finish_reason, usage_sent)
            if config.logprobs_mode != "honour":  # the odd payload rides on the last chunk
                final = make_logprobs(message)
                return stream_chunks(model, message, finish_reason, usage_sent, None, final)
            groups = stream_groups(
                message,
                logprobs_asked(body) or 0,
                config.logprobs_ids,
                vocabulary_at(config.vocabulary),
            )
            return stream_chunks(model, message, finish_reason, usage_sent, groups)
        logprobs = None if make_logprobs is None else make_logprobs(message)
        reply = completion_body(model, message, finish_reason, usage, logprobs)
        scored = body.get("prompt_logprobs")
        if config.scores_prompts and type(scored) is int and scored >= 0:
            continued = bool(body.get("continue_final_message"))
            reply["prompt_logprobs"] = prompt_logprobs_of(messages, scored, continued)
        return web.Response(text=reply_json(reply), content_type="application/json")

    def _sample_number(
        self, body: dict[str, Any], messages: list[dict[str, Any]], kind: str
    ) -> int | None:
        """Which sample of its prompt an answer request at a temperature above 0 gets (a
        real model samples anew each time); None for a deterministic request."""
        temperature = body.get("temperature")
        if kind != "answer" or not isinstance(temperature, int | float) or temperature <= 0:
            return None
        prompt = fake_content.user_text(messages)
        number = self._samples[prompt]
        self._samples[prompt] += 1
        return number

    async def admin_stats(self, request: web.Request) -> web.Response:
        return web.json_response(self.counters.snapshot().as_dict())

    async def admin_config(self, request: web.Request) -> web.Response:
        try:
            config = self.configure(**await request.json())
        except (ValueError, TypeError) as exc:
            return _error(400, str(exc), "invalid_request")
        return web.json_response(config.public_dict())

    async def admin_reset(self, request: web.Request) -> web.Response:
        self.reset()
        return web.json_response({"reset": True})


def _error(
    status: int, message: str, code: str, headers: dict[str, str] | None = None
) -> web.Response:
    body = {"error": {"message": message, "type": code, "code": code}}
    return web.json_response(body, status=status, headers=headers)


def _refusal(
    body: dict[str, Any], messages: list[dict[str, Any]], config: FakeConfig
) -> web.Response | None:
    """The 400 a server with these limits answers to this request, if any."""
    refused = logprobs_refusal(body, config.logprobs_mode, config.max_top_logprobs)
    if refused is not None:
        return refused
    history = _history_refusal(messages, config.history_reasoning)
    if history is not None:
        return history
    response_format = body.get("response_format")
    if config.reject_response_format and response_format is not None:
        return _error(400, "response_format is not supported", "invalid_request")
    schema = json.dumps(response_format or {})
    if config.reject_item_counts and ("minItems" in schema or "maxItems" in schema):
        message = "Invalid schema for response_format 'items': 'minItems' is not permitted."
        return _error(400, message, "invalid_request_error")
    prompt_tokens = sum(len(text) for text in fake_content.message_texts(messages)) // 4 + 1
    if config.context_size is not None and prompt_tokens > config.context_size:
        return web.json_response(
            {
                "error": {
                    "code": 400,
                    "message": "the request exceeds the available context size, try increasing it",
                    "type": "exceed_context_size_error",
                    "n_prompt_tokens": prompt_tokens,
                    "n_ctx": config.context_size,
                }
            },
            status=400,
        )
    return None


def _history_refusal(messages: list[dict[str, Any]], rule: str) -> web.Response | None:
    """The 400 of a server that requires (or forbids) reasoning sent back in the history."""
    earlier = [m for m in messages if m.get("role") == "assistant"]
    if rule == "require" and any(not m.get("reasoning_content") for m in earlier):
        message = "The reasoning_content of earlier assistant turns must be passed back"
        return _error(400, message, "invalid_request_error")
    if rule == "forbid" and any("reasoning_content" in m for m in earlier):
        message = "reasoning_content is not allowed in input messages"
        return _error(400, message, "invalid_request_error")
    return None


def _logprobs_maker(
    body: dict[str, Any], config: FakeConfig
) -> Callable[[dict[str, Any]], Any] | None:
    """How to write the logprobs of a reply to this request; None when it gets none."""
    k = logprobs_asked(body)
    if k is None or config.logprobs_mode == "ignore":
        return None
    vocab = vocabulary_at(config.vocabulary)
    return lambda message: logprobs_of(message, k, config.logprobs_ids, config.logprobs_mode, vocab)


def _retry_after_headers(config: FakeConfig) -> dict[str, str]:
    wait = config.retry_after
    if config.retry_after_format == "ms":
        return {"retry-after-ms": str(int(wait * 1000))}
    if config.retry_after_format == "date":
        when = datetime.now(UTC) + timedelta(seconds=wait)
        return {"Retry-After": format_datetime(when, usegmt=True)}
    return {"Retry-After": f"{wait:g}"}


async def _send_stream(request: web.Request, chunks: list[dict[str, Any]]) -> web.StreamResponse:
    response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
    await response.prepare(request)
    for chunk in chunks:
        await response.write(f"data: {reply_json(chunk, ensure_ascii=False)}\n\n".encode())
    await response.write(b"data: [DONE]\n\n")
    await response.write_eof()
    return response


def _bound_socket(host: str, port: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(1024)
    return sock


class FakeModelServer(FakeModelBehaviour):
    """The fake server running on its own event loop in a background thread."""

    def __init__(self, config: FakeConfig | None = None, *, host: str = "127.0.0.1", port: int = 0):
        super().__init__(config)
        self.host = host
        self._socket = _bound_socket(host, port)
        self.port: int = self._socket.getsockname()[1]
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._runner: web.AppRunner | None = None

    @property
    def url(self) -> str:
        """The base URL to register as an endpoint (`.../v1`)."""
        return f"http://{self.host}:{self.port}/v1"

    def stats(self) -> FakeStats:
        return self.counters.snapshot()

    def endpoint(self, alias: str = "fake", **overrides: Any) -> EndpointConfig:
        """A ready-to-call endpoint pointing at this server."""
        return EndpointConfig(alias=alias, base_url=self.url, model=self.config.model, **overrides)

    def start(self) -> FakeModelServer:
        ready = threading.Event()
        failure: list[BaseException] = []

        def serve() -> None:
            loop = asyncio.new_event_loop()
            self._loop = loop
            asyncio.set_event_loop(loop)
            try:
                loop.run_until_complete(self._start_site())
            except BaseException as exc:  # report start failures to the caller
                failure.append(exc)
                ready.set()
                return
            ready.set()
            loop.run_forever()
            loop.run_until_complete(self._stop_site())
            loop.close()

        self._thread = threading.Thread(target=serve, name="fake-model-server", daemon=True)
        self._thread.start()
        ready.wait()
        if failure:
            raise failure[0]
        return self

    async def _start_site(self) -> None:
        # Cancel handlers when the client goes away, so stalls end with their request.
        self._runner = web.AppRunner(
            self.app(admin=True), handler_cancellation=True, access_log=None
        )
        await self._runner.setup()
        await web.SockSite(self._runner, self._socket).start()

    async def _stop_site(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    def stop(self) -> None:
        if self._loop is not None and self._thread is not None:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=10)
        self._loop = self._thread = None

    def __enter__(self) -> FakeModelServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--latency", type=float, default=0.0)
    parser.add_argument("--jitter", type=float, default=0.0)
    parser.add_argument("--reasoning-style", default="reasoning_content", choices=REASONING_STYLES)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--log-prompts", action="store_true")
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="any other setting, e.g. --set rate_429=0.1",
    )
    args = parser.parse_args(argv)
    extra = {name: json.loads(value) for name, value in (s.split("=", 1) for s in args.set)}
    config = FakeConfig(
        latency=args.latency,
        jitter=args.jitter,
        seed=args.seed,
        reasoning_style=args.reasoning_style,
        log_prompts=args.log_prompts,
    )
    behaviour = FakeModelBehaviour(config)
    if extra:
        behaviour.configure(**extra)
    sock = _bound_socket(args.host, args.port)
    print(f"fake model server on http://{args.host}:{sock.getsockname()[1]}/v1", flush=True)
    web.run_app(
        behaviour.app(admin=True), sock=sock, access_log=None, print=None, handler_cancellation=True
    )


if __name__ == "__main__":
    main()

"""Settings and counters of the fake model server."""

from __future__ import annotations

import threading
import time
from collections import Counter, deque
from dataclasses import asdict, dataclass, field, fields
from typing import Any

# think: `<think>…</think>` in the content; thinking: the same with `<thinking>` tags;
# think_close: only the closing tag, as templates that pre-fill the opening one produce.
REASONING_STYLES = ("reasoning_content", "reasoning", "think", "thinking", "think_close", "none")
ECHO_STYLES = ("raw", "escaped", "split")
FAULTS = ("429", "500", "stall", "malformed", "truncated", "empty")
# How the server answers a request for logprobs: with them (honour); without (ignore); with a
# 400 as providers do for reasoning models (refuse); with a payload that is not logprobs
# (malformed); or with tokens that do not spell the content (misaligned).
LOGPROBS_MODES = ("honour", "ignore", "refuse", "malformed", "misaligned")
HISTORY_REASONING = ("any", "require", "forbid")
CACHE_REPORTS = ("none", "openai", "deepseek")
LIST_QUIRKS = (
    "too_few", "too_many", "duplicates", "code_fence", "numbering", "object_wrapped", "prose",
    "plain_lines", "bulleted", "quoted_items", "mixed_types", "near_json",
)  # fmt: skip


@dataclass(frozen=True)
class FakeConfig:
    """How the fake model behaves; rates are probabilities per request (0..1)."""

    latency: float = 0.0
    jitter: float = 0.0
    # Requests processed at once, like a llama.cpp server's slots (0: no limit); the others
    # wait in a queue, and their latency starts when a slot frees.
    slots: int = 0
    reasoning_style: str = "reasoning_content"
    model: str = "fake-model"
    seed: int = 0
    # Faults
    rate_429: float = 0.0
    retry_after: float = 1.0
    retry_after_format: str = "seconds"  # seconds | ms | date
    rate_500: float = 0.0
    rate_stall: float = 0.0
    stall_seconds: float = 60.0
    rate_malformed: float = 0.0
    rate_truncated: float = 0.0
    rate_empty: float = 0.0
    # List quirks
    too_few: float = 0.0
    too_many: float = 0.0
    duplicates: float = 0.0
    code_fence: float = 0.0
    numbering: float = 0.0
    object_wrapped: float = 0.0
    prose: float = 0.0
    plain_lines: float = 0.0  # numbered lines instead of JSON
    bulleted: float = 0.0  # `- item` / `* item` lines instead of JSON
    quoted_items: float = 0.0  # each item's text wrapped in quotes
    mixed_types: float = 0.0  # numbers and null among the strings
    near_json: float = 0.0  # single quotes and trailing commas: JSON that needs repair
    # Answer 400 to any request with a response_format, like servers without support.
    reject_response_format: bool = False
    # Answer 400 to a json_schema holding minItems / maxItems, like servers whose schema
    # support stops short of them.
    reject_item_counts: bool = False
    # What the server says of reasoning sent back in a conversation's history (see
    # HISTORY_REASONING): "require" answers 400 when an earlier assistant turn comes without
    # its reasoning_content (DeepSeek's thinking models), "forbid" when one comes with it.
    history_reasoning: str = "any"
    # Answer llama-server's 400 `exceed_context_size_error` to a prompt of more (estimated)
    # tokens than this.
    context_size: int | None = None
    # The model name the server reports, whatever was asked (llama-server reports its alias
    # or file path); None reports the requested one.
    reported_model: str | None = None
    # Accept response_format but answer list prompts as if it were not there (the quirks
    # apply), like servers that silently drop it.
    ignore_response_format: bool = False
    # Keys: when set, requests must carry `Authorization: Bearer <key>` (never logged).
    require_api_key: str | None = field(default=None, repr=False)
    # A hostile or careless server quoting the Authorization header back in its reply:
    # `raw` as text, `escaped` inside a JSON string with every key character \u-escaped,
    # `split` broken over a line break.
    echo_authorization: str | None = None
    # Keep request bodies and arrival times (tests); a long-running process can turn it off.
    log_prompts: bool = True
    # Logprobs (see LOGPROBS_MODES); token ids given as llama.cpp gives them (`id`), and the
    # most top_logprobs taken (vLLM's and OpenAI's default cap is 20; None: no cap).
    logprobs_mode: str = "honour"
    logprobs_ids: bool = True
    max_top_logprobs: int | None = None
    # The directory of a tokenizer.json the soft labels' tokens and ids come from (a tiny
    # student's, testing.tiny_student); None: the fake model's own words.
    vocabulary: str | None = None
    # Score given text as vLLM does: a request with `prompt_logprobs: K` gets, per token of
    # its templated prompt, the token and its top-K alternatives. False: the field is
    # ignored, as llama.cpp's server ignores it.
    scores_prompts: bool = True
    # Length of the vectors `/v1/embeddings` answers with.
    embedding_dims: int = 64
    # Prompt caching: how the usage reports input tokens served from the cache (a prefix
    # seen before, in blocks of CACHE_BLOCK_CHARS): `openai` (prompt_tokens_details
    # .cached_tokens), `deepseek` (prompt_cache_hit_tokens), or `none`.
    cache_report: str = "none"
    # Batch interface (/v1/files, /v1/batches): seconds from a batch's creation to its end;
    # how many lines, in all, fail (each the first ones of the batches to come, answered
    # with a 500 in the error file); how many batches to come expire with half their lines
    # done (the rest `batch_expired` in the error file).
    batch_delay: float = 0.0
    batch_failed_lines: int = 0
    batch_expire: int = 0

    def __post_init__(self) -> None:
        if self.reasoning_style not in REASONING_STYLES:
            raise ValueError(f"reasoning_style must be one of {', '.join(REASONING_STYLES)}")
        if self.history_reasoning not in HISTORY_REASONING:
            raise ValueError(f"history_reasoning must be one of {', '.join(HISTORY_REASONING)}")
        if self.logprobs_mode not in LOGPROBS_MODES:
            raise ValueError(f"logprobs_mode must be one of {', '.join(LOGPROBS_MODES)}")
        if self.cache_report not in CACHE_REPORTS:
            raise ValueError(f"cache_report must be one of {', '.join(CACHE_REPORTS)}")
        if self.echo_authorization not in (None, *ECHO_STYLES):
            raise ValueError(f"echo_authorization must be one of {', '.join(ECHO_STYLES)}")

    def fault_rates(self) -> list[tuple[str, float]]:
        return [
            ("429", self.rate_429),
            ("500", self.rate_500),
            ("stall", self.rate_stall),
            ("malformed", self.rate_malformed),
            ("truncated", self.rate_truncated),
            ("empty", self.rate_empty),
        ]

    def public_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["require_api_key"] = self.require_api_key is not None
        return data

    @classmethod
    def field_names(cls) -> set[str]:
        return {f.name for f in fields(cls)}


@dataclass
class FakeStats:
    """A snapshot of what the server saw."""

    in_flight: int
    max_in_flight: int
    total: int
    by_kind: dict[str, int]
    by_status: dict[int, int]
    by_outcome: dict[str, int]
    bodies: list[dict[str, Any]]
    arrivals: list[float]
    # Complete, fault-free 200 replies (a request cancelled by its client is not one).
    whole_replies: int = 0

    @property
    def prompts(self) -> list[str]:
        """The last user message of every logged request."""
        texts = []
        for body in self.bodies:
            users = [
                m.get("content", "") for m in body.get("messages", []) if m.get("role") == "user"
            ]
            texts.append(users[-1] if users else "")
        return texts

    def max_in_window(self, seconds: float) -> int:
        """The most requests that arrived within any window of this length."""
        times = sorted(self.arrivals)
        best, start = 0, 0
        for end, moment in enumerate(times):
            while moment - times[start] > seconds:
                start += 1
            best = max(best, end - start + 1)
        return best

    def as_dict(self) -> dict[str, Any]:
        return {
            "in_flight": self.in_flight,
            "max_in_flight": self.max_in_flight,
            "total": self.total,
            "by_kind": self.by_kind,
            "by_status": {str(k): v for k, v in self.by_status.items()},
            "by_outcome": self.by_outcome,
            "whole_replies": self.whole_replies,
        }


class Counters:
    """Live counters, updated by the server thread and read from any thread."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.in_flight = 0
        self.forced: deque[str] = deque()
        self.reset()

    def reset(self) -> None:
        with self._lock:
            self.max_in_flight = self.in_flight
            self.total = 0
            self.by_kind: Counter[str] = Counter()
            self.by_status: Counter[int] = Counter()
            self.by_outcome: Counter[str] = Counter()
            self.whole_replies = 0
            self.bodies: list[dict[str, Any]] = []
            self.arrivals: list[float] = []
            self.forced.clear()

    def enter(self, log: bool) -> None:
        """Count a request; its arrival time is kept only with the prompt log (memory)."""
        with self._lock:
            self.in_flight += 1
            self.total += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
            if log:
                self.arrivals.append(time.monotonic())

    def leave(self, kind: str, status: int, outcome: str) -> None:
        with self._lock:
            self.in_flight -= 1
            self.by_kind[kind] += 1
            self.by_status[status] += 1
            self.by_outcome[outcome] += 1
            if outcome == "ok" and status == 200:
                self.whole_replies += 1

    def log_body(self, body: dict[str, Any]) -> None:
        with self._lock:
            self.bodies.append(body)

    def next_forced(self) -> str | None:
        with self._lock:
            return self.forced.popleft() if self.forced else None

    def snapshot(self) -> FakeStats:
        with self._lock:
            return FakeStats(
                in_flight=self.in_flight,
                max_in_flight=self.max_in_flight,
                total=self.total,
                by_kind=dict(self.by_kind),
                by_status=dict(self.by_status),
                by_outcome=dict(self.by_outcome),
                bodies=list(self.bodies),
                arrivals=list(self.arrivals),
                whole_replies=self.whole_replies,
            )

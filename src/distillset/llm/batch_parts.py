"""The parts of batch mode: its options, and a request, a chunk of requests and a batch
as the queue (llm.batch) follows them."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field

from distillset.config import Settings
from distillset.llm.batch_api import RemoteBatch
from distillset.llm.config import EndpointConfig
from distillset.llm.results import ChatResult

# OpenAI's limits: 50,000 requests and 200 MB per input file.
MAX_LINES = 50_000
MAX_BYTES = 190 * 1024 * 1024


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
class BatchRequest:
    key: str
    canonical: str
    endpoint: EndpointConfig
    purpose: str
    future: asyncio.Future[ChatResult]
    resubmits: int = 0
    asked: bool = False  # a caller of this run waits for it (not only found in a stored batch)


@dataclass
class Chunk:
    endpoint: EndpointConfig
    purpose: str
    requests: list[BatchRequest] = field(default_factory=list)
    size: int = 0
    started: float = field(default_factory=time.monotonic)


@dataclass
class OpenBatch:
    """A batch submitted (or being submitted) by this run or found open at its start."""

    row_id: int
    endpoint: EndpointConfig
    requests: dict[str, BatchRequest]
    remote: RemoteBatch | None = None
    submitted_at: float = field(default_factory=time.monotonic)

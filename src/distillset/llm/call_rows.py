"""What the call log hands back for a cached request."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class StoredCall:
    """A successful row found for a request key."""

    id: int
    response_body: str
    latency_ms: float | None

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from distillset.llm.retry import backoff_delay, is_retryable_status, retry_after_seconds


@pytest.mark.parametrize("status", [408, 409, 429, 500, 502, 503, 529])
def test_retryable(status: int) -> None:
    assert is_retryable_status(status)


@pytest.mark.parametrize("status", [400, 401, 403, 404, 422])
def test_not_retryable(status: int) -> None:
    assert not is_retryable_status(status)


def test_retry_after_forms() -> None:
    now = datetime(2026, 1, 1, 12, 0, 0, tzinfo=UTC)
    assert retry_after_seconds({"retry-after": "7"}) == 7.0
    assert retry_after_seconds({"retry-after": "1.5"}) == 1.5
    assert retry_after_seconds({"retry-after-ms": "250"}) == 0.25
    assert retry_after_seconds({"retry-after-ms": "250", "retry-after": "9"}) == 0.25
    date = "Thu, 01 Jan 2026 12:10:00 GMT"
    assert retry_after_seconds({"retry-after": date}, now=now) == 600.0
    assert retry_after_seconds({"retry-after": "Thu, 01 Jan 2026 11:00:00 GMT"}, now=now) == 0.0
    assert retry_after_seconds({"retry-after": "soon"}) is None
    assert retry_after_seconds({}) is None


def test_long_retry_after_is_kept() -> None:
    assert retry_after_seconds({"retry-after": "3600"}) == 3600.0


def test_backoff_grows_and_is_capped() -> None:
    for number in range(6):
        delay = backoff_delay(number, 0.5, 4.0)
        ceiling = min(4.0, 0.5 * 2**number)
        assert ceiling / 2 <= delay <= ceiling

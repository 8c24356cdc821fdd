"""Per-minute limits drawn in grants from a bucket shared by several limiters."""

from __future__ import annotations

import asyncio
import threading

import pytest

from distillset.llm.limiter import Limiter
from distillset.llm.rate_grants import GRANT_SECONDS, SharedBucket, draw_grant


def test_a_grant_takes_what_is_asked_of_what_the_bucket_holds() -> None:
    # 2 per second, burst of 2: full after a long pause, never above it.
    assert draw_grant(0.0, 100.0, 2.0, 2.0, need=1, want=1.5) == (1.5, 0.5, 0.0)
    # Less than wanted but enough for the need: what there is.
    assert draw_grant(0.5, 0.5, 2.0, 2.0, need=1, want=3) == (1.5, 0.0, 0.0)


def test_an_empty_bucket_grants_nothing_and_says_how_long_to_wait() -> None:
    granted, level, wait = draw_grant(0.0, 0.25, 2.0, 2.0, need=1, want=1)
    assert (granted, level) == (0.0, 0.5)
    assert wait == pytest.approx(0.25)  # 0.5 more at 2 per second
    # A clock read before the last draw counts no refill (never a negative one).
    assert draw_grant(0.5, -3.0, 2.0, 2.0, need=1, want=1)[:2] == (0.0, 0.5)


def test_a_need_above_the_burst_is_granted_from_a_full_bucket_which_then_owes_it() -> None:
    granted, level, wait = draw_grant(10.0, 0.0, 10.0, 10.0, need=25, want=25)
    assert (granted, level, wait) == (25, -15.0, 0.0)
    granted, level, wait = draw_grant(level, 1.0, 10.0, 10.0, need=1, want=1)
    assert (granted, level) == (0.0, -5.0)  # 15 owed, 10 refilled
    assert wait == pytest.approx(0.6)


def test_a_bucket_needs_a_rate() -> None:
    with pytest.raises(ValueError, match="positive rate"):
        draw_grant(0.0, 1.0, 0.0, 1.0, need=1, want=1)


class CountingSource:
    """An in-memory shared bucket that never refills: what it grants is all there is."""

    def __init__(self, level: float) -> None:
        self.level = level
        self.granted = 0.0
        self.draws = 0
        self._lock = threading.Lock()

    def draw(
        self, kind: str, rate: float, capacity: float, need: float, want: float
    ) -> tuple[float, float]:
        with self._lock:
            self.draws += 1
            granted, self.level, wait = draw_grant(self.level, 0.0, rate, float("inf"), need, want)
            self.granted += granted
            return granted, 0.0 if granted else 60.0  # (empty for good)

    def for_limit(self, name: str) -> CountingSource:
        return self


def test_limiters_sharing_a_bucket_send_no_more_than_it_granted_in_few_draws() -> None:
    source = CountingSource(level=40)
    sent = [0, 0]

    async def send(limiter: Limiter, which: int) -> None:
        permit = await limiter.acquire()
        sent[which] += 1
        limiter.release(permit)

    async def scenario() -> None:
        limiters = [Limiter(8, requests_per_minute=6000), Limiter(8, requests_per_minute=6000)]
        for limiter in limiters:
            limiter.share_rates(source)
        tasks = [
            asyncio.create_task(send(limiters[n % 2], n % 2)) for n in range(60)
        ]  # 60 wanted, 40 in the bucket
        for _ in range(500):
            if source.level == 0 and sum(sent) == source.granted:
                break
            await asyncio.sleep(0.01)
        await asyncio.sleep(0.05)
        assert source.granted == 40
        # (Fewer only if a grant lapsed before it was spent: a very slow machine.)
        assert 0 < sum(sent) <= 40
        # Grants of GRANT_SECONDS of the rate (25 requests), not one draw per request.
        assert source.draws < 20
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    asyncio.run(scenario())
    assert GRANT_SECONDS * 6000 / 60 == 25


def test_what_is_left_of_a_grant_lapses_but_a_debt_stays() -> None:
    lock = threading.Lock()
    bucket = SharedBucket(CountingSource(0), "tokens", per_minute=600, capacity=10, lock=lock)
    bucket.allowance, bucket.lapses_at = 5.0, 100.0
    assert bucket.wait_time(5, now=99.0) == 0.0
    assert bucket.wait_time(5, now=100.0) > 0  # lapsed
    assert bucket.allowance == 0.0
    bucket.take(3)
    bucket.give_back(-2)  # used 2 more than estimated
    assert bucket.wait_time(0, now=200.0) > 0
    assert bucket.allowance == -5.0
    assert bucket.start_draw(0, now=200.0)  # the debt is drawn for
    assert not bucket.start_draw(0, now=200.0)  # (one draw at a time)


def test_a_refund_never_grows_the_allowance_past_a_grant() -> None:
    bucket = SharedBucket(
        CountingSource(0), "tokens", per_minute=600, capacity=10, lock=threading.Lock()
    )
    bucket.allowance = 1.0
    bucket.give_back(100)
    assert bucket.allowance == bucket.grant == 2.5


def test_sharing_the_rates_is_undone_with_none() -> None:
    limiter = Limiter(4, requests_per_minute=60, tokens_per_minute=6000)
    source = CountingSource(10)
    limiter.share_rates(source)
    assert limiter.rates is source
    limiter.share_rates(None)
    assert limiter.rates is None

    async def one() -> None:
        limiter.release(await limiter.acquire(10))

    asyncio.run(one())  # from its own buckets again
    assert source.draws == 0

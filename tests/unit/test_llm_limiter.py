from __future__ import annotations

import asyncio
import threading

from distillset.llm.limiter import Limiter, LimiterRegistry, TokenBucket


async def _hold(limiter: Limiter, gauge: dict[str, int], release: asyncio.Event) -> None:
    permit = await limiter.acquire()
    gauge["now"] += 1
    gauge["max"] = max(gauge["max"], gauge["now"])
    await release.wait()
    gauge["now"] -= 1
    limiter.release(permit)


def test_never_more_than_the_limit_and_slots_pass_on_one_by_one() -> None:
    async def scenario() -> None:
        limiter = Limiter(3)
        gauge = {"now": 0, "max": 0}
        release = asyncio.Event()
        tasks = [asyncio.create_task(_hold(limiter, gauge, release)) for _ in range(30)]
        for _ in range(20):
            await asyncio.sleep(0)
        assert gauge["now"] == 3
        release.set()
        await asyncio.gather(*tasks)
        assert gauge["max"] == 3
        assert limiter.in_flight == 0

    asyncio.run(scenario())


def test_sliding_window_refills_a_slot_as_soon_as_one_frees() -> None:
    async def scenario() -> None:
        limiter = Limiter(2)
        first = await limiter.acquire()
        await limiter.acquire()
        waiting = asyncio.create_task(limiter.acquire())
        await asyncio.sleep(0)
        assert not waiting.done()
        limiter.release(first)
        await asyncio.wait_for(waiting, 5)
        assert limiter.in_flight == 2

    asyncio.run(scenario())


def test_cancelled_waiters_give_their_slot_back() -> None:
    async def scenario() -> None:
        limiter = Limiter(1)
        held = await limiter.acquire()
        waiters = [asyncio.create_task(limiter.acquire()) for _ in range(3)]
        await asyncio.sleep(0)
        limiter.release(held)
        for waiter in waiters:
            waiter.cancel()
        await asyncio.gather(*waiters, return_exceptions=True)
        assert limiter.in_flight == 0
        again = await asyncio.wait_for(limiter.acquire(), 5)
        limiter.release(again)

    asyncio.run(scenario())


def test_a_slot_granted_from_another_thread_comes_back_when_its_waiter_is_cancelled() -> None:
    async def scenario() -> None:
        limiter = Limiter(1)
        held = await limiter.acquire()
        waiter = asyncio.create_task(limiter.acquire())
        await asyncio.sleep(0)
        # Released where no loop runs: the grant reaches this loop as a callback...
        releasing = threading.Thread(target=limiter.release, args=(held,))
        releasing.start()
        releasing.join()
        waiter.cancel()  # ...and the waiter is cancelled before that callback runs.
        await asyncio.gather(waiter, return_exceptions=True)
        assert waiter.cancelled()
        assert limiter.in_flight == 0
        again = await asyncio.wait_for(limiter.acquire(), 5)
        limiter.release(again)

    asyncio.run(scenario())


def test_limit_is_shared_across_event_loops_in_threads() -> None:
    limiter = Limiter(2)
    lock = threading.Lock()
    gauge = {"now": 0, "max": 0}

    async def worker() -> None:
        for _ in range(20):
            permit = await limiter.acquire()
            with lock:
                gauge["now"] += 1
                gauge["max"] = max(gauge["max"], gauge["now"])
            await asyncio.sleep(0.001)
            with lock:
                gauge["now"] -= 1
            limiter.release(permit)

    threads = [threading.Thread(target=asyncio.run, args=(worker(),)) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert gauge["max"] == 2
    assert limiter.in_flight == 0


def test_registry_shares_one_limiter_per_key_and_applies_new_settings() -> None:
    registry = LimiterRegistry()
    first = registry.get(("project", 1), 4, None, None)
    assert registry.get(("project", 1), 6, None, None) is first
    assert first.max_concurrency == 6
    assert registry.get(("project", 2), 4, None, None) is not first


def test_token_bucket_allows_one_burst_then_paces() -> None:
    bucket = TokenBucket(per_minute=600)  # 10 per second, burst of 10
    now = bucket.updated
    for _ in range(10):
        assert bucket.wait_time(1, now) == 0
        bucket.take(1)
    assert abs(bucket.wait_time(1, now) - 0.1) < 1e-9
    assert bucket.wait_time(1, now + 0.1) < 1e-9


def test_token_bucket_admits_a_cost_larger_than_its_burst_from_full() -> None:
    bucket = TokenBucket(per_minute=60)  # burst of 1
    now = bucket.updated
    assert bucket.wait_time(500, now) == 0
    bucket.take(500)
    assert bucket.wait_time(1, now) > 400
    bucket.give_back(499)  # settled: only 1 token was used
    assert bucket.wait_time(1, now) <= 1.0


def test_reserved_slots_stay_free_until_given_back() -> None:
    async def scenario() -> None:
        limiter = Limiter(3)
        assert limiter.reserve(5) == 3  # never more than the concurrency
        limiter.unreserve(1)
        first = await limiter.acquire()
        waiting = asyncio.ensure_future(limiter.acquire())
        await asyncio.sleep(0.01)
        assert not waiting.done() and limiter.in_flight == 1
        limiter.unreserve(1)  # a slot comes back: the waiter gets it
        second = await asyncio.wait_for(waiting, 1)
        assert limiter.in_flight == 2
        limiter.release(first)
        limiter.release(second)

    asyncio.run(scenario())

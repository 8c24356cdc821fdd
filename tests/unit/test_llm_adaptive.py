"""The learned concurrency of an endpoint: slow start, one cut per burst, queueing seen."""

from __future__ import annotations

from distillset.llm.adaptive import INITIAL_LIMIT, RECENT, AdaptiveLimit


def _answer(limit: AdaptiveLimit, seconds: float, *, full: bool = True, tokens: int = 100) -> None:
    limit.answered(limit.epoch, "answer", seconds, tokens, full)


def test_it_starts_low_grows_while_in_use_and_never_passes_the_ceiling() -> None:
    limit = AdaptiveLimit(ceiling=6)
    assert limit.slots == INITIAL_LIMIT
    _answer(limit, 1.0, full=False)  # a reply while slots were free says nothing of more
    assert limit.slots == INITIAL_LIMIT
    for _ in range(20):
        _answer(limit, 1.0)
    assert limit.slots == 6


def test_a_burst_of_overloads_cuts_once() -> None:
    limit = AdaptiveLimit(ceiling=64)
    for _ in range(20):
        _answer(limit, 1.0)
    before, sent_in = limit.limit, limit.epoch
    for _ in range(10):  # ten 429s for requests all sent before the cut
        limit.overloaded(sent_in)
    assert limit.limit == before * 0.7 and not limit.slow_start
    limit.overloaded(limit.epoch)  # a request sent after the cut: a new sign
    assert limit.limit == before * 0.7 * 0.7
    assert AdaptiveLimit(ceiling=3).limit >= 1


def test_replies_queued_behind_others_cut_the_limit_and_ordinary_spread_does_not() -> None:
    limit = AdaptiveLimit(ceiling=12)
    for seconds in [1.0, 1.2, 0.9, 1.1, 1.3, 1.0, 0.95, 1.25] * 3:  # lengths vary a little
        _answer(limit, seconds)
    assert limit.epoch == 0
    grown = limit.limit
    for _ in range(RECENT):  # queued: each reply takes three times as long per token
        _answer(limit, 3.0)
    assert limit.epoch == 1 and limit.limit < grown


def test_time_is_taken_per_generated_token() -> None:
    limit = AdaptiveLimit(ceiling=64)
    for _ in range(10):
        _answer(limit, 1.0, tokens=100)
    for _ in range(RECENT):  # four times the text in four times the time: not queued
        _answer(limit, 4.0, tokens=400)
    assert limit.epoch == 0


def test_a_queued_reply_does_not_grow_the_limit_and_big_limits_ignore_slowdowns() -> None:
    limit = AdaptiveLimit(ceiling=64)
    for _ in range(4):
        _answer(limit, 1.0)
    grown = limit.limit
    _answer(limit, 2.0)  # waited behind another request: no evidence of room for more
    assert limit.limit == grown
    for _ in range(40):
        _answer(limit, 1.0)
    assert limit.limit > 16
    for _ in range(RECENT):  # above a few slots, slower replies are a busy client's
        _answer(limit, 3.0)
    assert limit.epoch == 0

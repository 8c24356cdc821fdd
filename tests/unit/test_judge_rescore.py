"""A rescore task's account of what it scored: exact after any mix of runs, and compact."""

from __future__ import annotations

import random

import pytest

from distillset.quality.rescore import ScoredRanges


def run_once(
    state: dict[str, object],
    covered: list[int],
    scored: set[int],
    rng: random.Random,
    *,
    window: int = 8,
    fail_rate: float = 0.1,
    stop_after: int | None = None,
) -> dict[str, object]:
    """One run as the judge does it: records read in id order, up to ``window`` in flight,
    finishing in any order, some failing; stops (a crash) after ``stop_after`` finishes.
    Checks after every step that the ranges cover exactly the scored records."""
    ranges = ScoredRanges.from_dict(state)
    todo = iter(record_id for record_id in covered if not ranges.covers(record_id))
    in_flight: list[int] = []
    finished = 0
    while stop_after is None or finished < stop_after:
        while len(in_flight) < window and (record_id := next(todo, None)) is not None:
            ranges.read(record_id)
            in_flight.append(record_id)
        if not in_flight:
            break
        record_id = in_flight.pop(rng.randrange(len(in_flight)))
        finished += 1
        if rng.random() >= fail_rate:
            ranges.score(record_id)
            scored.add(record_id)
        assert [i for i in covered if ranges.covers(i)] == sorted(scored)
        assert ranges.scored == len(scored)
    return ranges.as_dict()


@pytest.mark.parametrize("seed", range(20))
def test_ranges_cover_exactly_the_scored_records_across_crashes_and_resumes(seed: int) -> None:
    rng = random.Random(seed)
    # The filter's records: ids with gaps (records of other tags, deleted ones).
    covered = sorted(rng.sample(range(1, 400), 150))
    scored: set[int] = set()
    state: dict[str, object] = {}
    for _ in range(4):  # crashes part way through
        state = run_once(state, covered, scored, rng, stop_after=rng.randrange(1, 60))
    while len(scored) < len(covered):  # resumes until nothing fails
        state = run_once(state, covered, scored, rng, fail_rate=0.05)
    assert ScoredRanges.from_dict(state).scored == len(covered)


def test_a_run_without_failures_leaves_one_range() -> None:
    covered = [2, 3, 5, 8, 13, 21, 34]
    state = run_once({}, covered, set(), random.Random(1), window=3, fail_rate=0)
    assert state == {"records": 7, "ranges": [[2, 34]]}


def test_failures_stay_open_and_split_the_ranges_until_scored() -> None:
    ranges = ScoredRanges()
    for record_id in (1, 2, 3, 4):
        ranges.read(record_id)
    for record_id in (4, 1, 3):  # 2 failed
        ranges.score(record_id)
    assert ranges.as_dict() == {"records": 3, "ranges": [[1, 1], [3, 4]]}
    resumed = ScoredRanges.from_dict(ranges.as_dict())
    assert [record_id for record_id in range(1, 6) if not resumed.covers(record_id)] == [2, 5]
    resumed.read(2)
    resumed.score(2)
    assert resumed.as_dict() == {"records": 4, "ranges": [[1, 4]]}
    # 5 (say, a record added since) has not been read: it is not claimed.
    assert not resumed.covers(5)

"""Choosing records while streaming: at most K per leaf tag, and a stratified held-out split.

Both decisions are made record by record with one small counter per tag, so memory grows with
the number of tags, never with the number of records.
"""

from __future__ import annotations

import math
import random
from collections import Counter
from dataclasses import dataclass

from distillset.domain import InvalidInputError


@dataclass(frozen=True)
class SplitSpec:
    """A held-out split: its name (used in file names) and the fraction of each tag it takes."""

    name: str
    fraction: float

    @classmethod
    def parse(cls, text: str) -> SplitSpec:
        """`eval=0.05` (or just `0.05`, named `eval`)."""
        name, _, value = text.rpartition("=")
        name = name.strip() or "eval"
        try:
            fraction = float(value)
        except ValueError:
            raise InvalidInputError(f"invalid split {text!r}: write it as eval=0.05") from None
        if not name.replace("_", "").replace("-", "").isalnum() or name == "train":
            raise InvalidInputError(f"invalid split name {name!r}: use letters, digits, - or _")
        if not 0 < fraction < 1:
            raise InvalidInputError(f"a split fraction is between 0 and 1, not {value}")
        return cls(name, fraction)


class BalancedLimit:
    """Keeps at most ``per_tag`` records of each leaf tag (the first ones in id order)."""

    def __init__(self, per_tag: int) -> None:
        if per_tag < 1:
            raise InvalidInputError("--balanced takes a count of at least 1")
        self.per_tag = per_tag
        self._kept: Counter[int | None] = Counter()

    def keep(self, tag_id: int | None) -> bool:
        if self._kept[tag_id] >= self.per_tag:
            return False
        self._kept[tag_id] += 1
        return True


class StratifiedSplit:
    """Sends ``fraction`` of each tag's records to the held-out split, evenly spread.

    Systematic sampling per tag: the k-th record of a tag is held out whenever
    ``floor((k + offset) * fraction)`` steps up, with a per-tag offset drawn from a seeded
    generator. Each tag gives its share (within one record) and the same seed gives the same
    split every time.
    """

    def __init__(self, fraction: float, seed: int) -> None:
        self.fraction = fraction
        self.seed = seed
        self._seen: Counter[int | None] = Counter()
        self._offsets: dict[int | None, float] = {}

    def _offset(self, tag_id: int | None) -> float:
        offset = self._offsets.get(tag_id)
        if offset is None:
            offset = random.Random(f"{self.seed}:{tag_id}").random() / self.fraction
            self._offsets[tag_id] = offset
        return offset

    def held_out(self, tag_id: int | None) -> bool:
        seen = self._seen[tag_id]
        self._seen[tag_id] = seen + 1
        offset = self._offset(tag_id)
        return math.floor((seen + 1 + offset) * self.fraction) > math.floor(
            (seen + offset) * self.fraction
        )

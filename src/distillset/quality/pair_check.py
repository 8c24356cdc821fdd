"""A cheap second look at two questions whose vectors are close: is one a near miss of the
other rather than the same question in other words?

A sentence embedding scores "How often should beginners who train alone do yoga?" and the
same question for cyclists above most true paraphrases: almost every word is shared. Two
signs tell such near misses apart, and both only ever veto a pair the vectors found:

- the questions name different numbers ("5 km" / "10 km");
- the questions are word for word the same but for one stretch, and that stretch was added,
  dropped, or swapped for words of another meaning ("beginners" / "cyclists"; a synonym,
  "fix" / "repair", keeps the pair). A paraphrase that rewords more than one stretch is
  left to the vectors.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from difflib import SequenceMatcher

import numpy as np

from distillset.quality.embedders import CachedEmbedder, Embedder

# Two swapped stretches at least this similar mean the same ("fix" / "repair"); below it
# they name different things. bench/dedup.py: 0.5 and 0.7 veto the same near misses.
SWAP_SIMILARITY = 0.5
_WORD = re.compile(r"[^\W_]+")
_NUMBER = re.compile(r"\d+(?:[.,]\d+)*")


def numbers_differ(first: str, second: str) -> bool:
    """The two texts name different numbers (as multisets: order is free)."""
    return sorted(_NUMBER.findall(first)) != sorted(_NUMBER.findall(second))


def one_changed_stretch(first: str, second: str) -> tuple[str, str] | None:
    """The words of each text in the one stretch where they differ (either may be empty: an
    insertion), when the texts (case and punctuation aside) differ in exactly one; else None."""
    words_first = _WORD.findall(first.lower())
    words_second = _WORD.findall(second.lower())
    changes = [
        opcode
        for opcode in SequenceMatcher(None, words_first, words_second, autojunk=False).get_opcodes()
        if opcode[0] != "equal"
    ]
    if len(changes) != 1:
        return None
    _, start_first, stop_first, start_second, stop_second = changes[0]
    return (
        " ".join(words_first[start_first:stop_first]),
        " ".join(words_second[start_second:stop_second]),
    )


class NearMissCheck:
    """``check(row, other)``: False when the questions ``texts[row]`` and ``texts[other]``
    are a near miss (see the module), True when they may be duplicates. ``prepare`` with the
    pairs about to be checked embeds their swapped stretches in one batch; each stretch is
    embedded once (a project repeats them often)."""

    def __init__(self, texts: Sequence[str], embedder: Embedder) -> None:
        self.texts = texts
        # Stretches are not worth a disk cache (and a write per stretch).
        self.embedder = embedder.inner if isinstance(embedder, CachedEmbedder) else embedder
        self._vectors: dict[str, np.ndarray] = {}

    def prepare(self, pairs: Iterable[tuple[int, int]]) -> None:
        phrases: set[str] = set()
        for row, other in pairs:
            first, second = self.texts[row], self.texts[other]
            if numbers_differ(first, second):
                continue  # vetoed without a look at the words
            stretch = one_changed_stretch(first, second)
            if stretch is not None and all(stretch):
                phrases.update(phrase for phrase in stretch if phrase not in self._vectors)
        if phrases:
            ordered = sorted(phrases)
            self._vectors.update(zip(ordered, self.embedder.embed(ordered), strict=True))

    def __call__(self, row: int, other: int) -> bool:
        first, second = self.texts[row], self.texts[other]
        if numbers_differ(first, second):
            return False
        stretch = one_changed_stretch(first, second)
        if stretch is None:
            return True
        left, right = stretch
        if not left or not right:  # a qualifier added or dropped changes the question
            return False
        missing = [phrase for phrase in stretch if phrase not in self._vectors]
        if missing:
            self.prepare([(row, other)])
        return float(self._vectors[left] @ self._vectors[right]) >= SWAP_SIMILARITY

"""The generation-time semantic guard drops what the vectors call close, unless the
near-miss rule (generation.near_miss) says the two are different questions."""

from __future__ import annotations

import asyncio
import re

import numpy as np
import pytest

from distillset.domain import InvalidInputError
from distillset.generation.semantic_guard import SemanticGuard

EXISTING = ["How often should sprinters do yoga?"]


class BagOfWords:
    """Texts to word-count vectors: texts sharing most words are close."""

    def __init__(self) -> None:
        self.calls: list[list[str]] = []
        self.words: dict[str, int] = {}

    async def __call__(self, texts: list[str]) -> np.ndarray:
        self.calls.append(list(texts))
        rows = np.zeros((len(texts), 128), dtype=np.float32)
        for row, text in enumerate(texts):
            for word in re.findall(r"\w+", text.lower()):
                rows[row, self.words.setdefault(word, len(self.words))] += 1.0
        return rows


def screen(guard: SemanticGuard, candidates: list[str]) -> list[str]:
    return asyncio.run(guard.screen(candidates))


def test_paraphrases_are_dropped_and_near_misses_kept() -> None:
    embed = BagOfWords()
    guard = SemanticGuard(embed, 0.8, lambda: list(EXISTING))
    candidates = [
        "Briefly, how often should sprinters do yoga?",  # the same question: dropped
        "How often should swimmers do yoga?",  # another group: kept
        "How often should swimmers do yoga in hot weather?",  # a detail added: kept
        "How often should swimmers not do yoga?",  # a negation: kept
        "HOW OFTEN SHOULD SWIMMERS DO YOGA",  # a copy of a candidate kept above: dropped
        "How often should sprinters do yoga for 20 minutes?",  # a number: kept
    ]
    kept = screen(guard, candidates)
    assert kept == [candidates[1], candidates[2], candidates[3], candidates[5]]
    assert guard.dropped == [candidates[0], candidates[4]]
    # The swapped phrase of the one near miss that needs vectors, in one batch.
    assert embed.calls[2:] == [["sprinters", "swimmers"]]
    # What was kept joins the index: a later screen drops its repeats.
    assert screen(guard, ["Briefly, how often should swimmers do yoga in hot weather?"]) == []


def test_a_dropped_candidate_is_not_in_the_index() -> None:
    guard = SemanticGuard(BagOfWords(), 0.8, lambda: [])
    candidates = [
        "How often should sprinters do yoga?",
        "Briefly, please, just how often should sprinters do yoga?",  # dropped: the first
        # Close (0.87) to the dropped one only (0.71 to the first): nothing drops it.
        "Briefly, please, just, actually, simply, really: how often should sprinters do yoga?",
    ]
    kept = screen(guard, candidates)
    assert kept == [candidates[0], candidates[2]]


def test_a_threshold_out_of_range_is_refused() -> None:
    with pytest.raises(InvalidInputError, match="at most 1"):
        SemanticGuard(BagOfWords(), 1.5, list)

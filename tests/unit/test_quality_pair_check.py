"""The near-miss veto on pairs of questions whose vectors are close."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np

from distillset.quality import semantic
from distillset.quality.pair_check import NearMissCheck, numbers_differ, one_changed_stretch


class PhraseEmbedder:
    """Fixed vectors per phrase: 'fix' and 'repair' alike, everything else orthogonal."""

    name = "phrases"

    def __init__(self) -> None:
        self.calls: list[list[str]] = []
        self.known: dict[str, int] = {}

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        self.calls.append(list(texts))
        rows = np.zeros((len(texts), 64), dtype=np.float32)
        for row, text in enumerate(texts):
            index = (
                0 if text in ("fix", "repair") else 1 + self.known.setdefault(text, len(self.known))
            )
            rows[row, index] = 1.0
        return rows


def test_numbers_differ_as_a_multiset() -> None:
    assert numbers_differ("Run 5 km in 20 minutes?", "Run 10 km in 20 minutes?")
    assert not numbers_differ("Run 5 km in 20 minutes?", "In 20 minutes, run 5 km?")
    assert numbers_differ("Lift 2.5 kg?", "Lift 2 kg?")
    assert not numbers_differ("What is a volley?", "Define a volley.")


def test_one_changed_stretch_ignores_case_and_punctuation() -> None:
    # No stretch changed at all: nothing to veto on.
    assert one_changed_stretch("How often should I rest?", "HOW OFTEN SHOULD I REST") is None
    assert one_changed_stretch(
        "How often should beginners who train alone rest?",
        "How often should cyclists who train alone rest?",
    ) == ("beginners", "cyclists")
    assert one_changed_stretch("How should I rest?", "How should I rest in hot weather?") == (
        "",
        "in hot weather",
    )
    # Reworded in two places (a moved phrase counts twice): left to the vectors.
    assert (
        one_changed_stretch("What is a volley in tennis?", "In tennis, what is a volley?") is None
    )


def test_the_check_vetoes_near_misses_and_keeps_synonyms_and_rewordings() -> None:
    texts = [
        "How do I fix a flat tyre?",  # 0
        "How do I repair a flat tyre?",  # 1: a synonym swapped
        "How do I fix a flat tyre on a bike?",  # 2: a qualifier added
        "How do I fix a flat tyre in 10 minutes?",  # 3
        "How do I fix a flat tyre in 5 minutes?",  # 4: another number
        "How do I patch a tyre that went flat?",  # 5: reworded throughout
        "HOW DO I FIX A FLAT TYRE",  # 6: the same words
    ]
    embedder = PhraseEmbedder()
    check = NearMissCheck(texts, embedder)
    assert check(1, 0)
    assert not check(2, 0)
    assert not check(4, 3)
    assert check(5, 0)
    assert check(6, 0)
    assert not check(0, 3)
    # Each swapped stretch is embedded once however often it is asked about.
    assert check(1, 0) and check(0, 1)
    assert embedder.calls == [["fix", "repair"]]
    # prepare embeds the stretches of many pairs at once.
    check.prepare([(0, 1), (0, 2), (0, 3), (3, 4)])
    assert embedder.calls == [["fix", "repair"]]
    other = NearMissCheck(texts + ["How do I mend a flat tyre?"], PhraseEmbedder())
    other.prepare([(7, 0), (1, 0), (7, 1)])
    assert other.embedder.calls == [["fix", "mend", "repair"]]  # type: ignore[attr-defined]
    assert not other(7, 0) and other(1, 0)


class Refuse:
    def __init__(self, pairs: set[tuple[int, int]]) -> None:
        self.pairs = pairs
        self.prepared: list[tuple[int, int]] = []

    def prepare(self, pairs: Iterable[tuple[int, int]]) -> None:
        self.prepared.extend(pairs)

    def __call__(self, row: int, earlier: int) -> bool:
        return (row, earlier) not in self.pairs


def test_grouping_skips_the_heads_the_check_refuses() -> None:
    vectors = np.array([[1.0, 0.0], [1.0, 0.0], [0.999, 0.0447], [1.0, 0.0]], dtype=np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    plain = semantic.group_rows(vectors, 0.9)
    assert [[row for row, _ in group] for group in plain] == [[0, 1, 2, 3]]
    # Rows 1 and 2 may not join row 0: row 1 starts a group, row 2 joins it; row 3, as like
    # both first rows, joins the older.
    groups = semantic.group_rows(vectors, 0.9, Refuse({(1, 0), (2, 0)}))
    assert [[row for row, _ in group] for group in groups] == [[0, 3], [1, 2]]

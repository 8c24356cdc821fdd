"""The near-miss veto on pairs of questions whose vectors are close (generation.near_miss),
as the quality scan groups with it."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np

from distillset.generation.near_miss import (
    NearMissCheck,
    changed_stretches,
    closing_detail,
    negations_differ,
    numbers_differ,
    phrases_to_embed,
    same_question,
    verdict,
)
from distillset.quality import semantic


class PhraseEmbedder:
    """Fixed vectors per phrase: 'fix', 'repair' and 'patch' alike, everything else
    orthogonal."""

    name = "phrases"

    def __init__(self) -> None:
        self.calls: list[list[str]] = []
        self.known: dict[str, int] = {}

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        self.calls.append(list(texts))
        rows = np.zeros((len(texts), 64), dtype=np.float32)
        for row, text in enumerate(texts):
            index = (
                0
                if text in ("fix", "repair", "patch")
                else 1 + self.known.setdefault(text, len(self.known))
            )
            rows[row, index] = 1.0
        return rows


def test_numbers_differ_as_a_multiset() -> None:
    assert numbers_differ("Run 5 km in 20 minutes?", "Run 10 km in 20 minutes?")
    assert not numbers_differ("Run 5 km in 20 minutes?", "In 20 minutes, run 5 km?")
    assert numbers_differ("Lift 2.5 kg?", "Lift 2 kg?")
    assert not numbers_differ("What is a volley?", "Define a volley.")


def test_changed_stretches_ignore_case_and_punctuation() -> None:
    assert changed_stretches("How often should I rest?", "HOW OFTEN SHOULD I REST") == (5, [])
    assert changed_stretches(
        "How often should beginners who train alone rest?",
        "How often should cyclists who train alone rest?",
    ) == (3, [("beginners", "cyclists")])
    assert changed_stretches("How should I rest?", "How should I rest in hot weather?") == (
        4,
        [("", "in hot weather")],
    )
    # A moved phrase counts twice; the texts open differently.
    assert changed_stretches("What is a volley in tennis?", "In tennis, what is a volley?") == (
        0,
        [("", "in tennis"), ("in tennis", "")],
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
    check = NearMissCheck(texts, embedder.embed)
    assert check(1, 0)
    assert not check(2, 0)
    assert not check(4, 3)
    assert check(5, 0)  # one opening: "fix" / "patch" must be synonyms, and are
    assert check(6, 0)
    assert not check(0, 3)
    # Each swapped phrase is embedded once however often it is asked about.
    assert check(1, 0) and check(0, 1) and check(0, 5)
    assert embedder.calls == [["fix", "repair"], ["patch"]]
    # prepare embeds the phrases of many pairs at once.
    check.prepare([(0, 1), (0, 2), (0, 3), (3, 4)])
    assert embedder.calls == [["fix", "repair"], ["patch"]]
    mending = PhraseEmbedder()
    other = NearMissCheck(texts + ["How do I mend a flat tyre?"], mending.embed)
    other.prepare([(7, 0), (1, 0), (7, 1)])
    assert mending.calls == [["fix", "mend", "repair"]]
    assert not other(7, 0) and other(1, 0)


def test_negations_count_denials() -> None:
    assert negations_differ("Should sprinters stretch?", "Should sprinters not stretch?")
    assert negations_differ("Do sprinters stretch?", "Don't sprinters stretch?")
    assert negations_differ("Can I train with a cold?", "Can I train without a cold?")
    assert not negations_differ("Why not stretch?", "Why shouldn't I stretch?")


# Pairs a reader calls two questions: the rule vetoes them whatever the vectors say.
NEAR_MISSES = [
    ("How far is 5 km in miles?", "How far is 10 km in miles?"),
    ("Should sprinters stretch before a race?", "Should sprinters not stretch before a race?"),
    ("Is it safe to swim after eating?", "Isn't it safe to swim after eating?"),
    ("How should I rest?", "How should I rest in hot weather?"),
    ("How do I fix a flat tyre on a bike?", "How do I fix a flat tyre?"),
    (
        "What are the benefits of yoga for rowers who are coming back from injury?",
        "What are the benefits of yoga for rowers who want to avoid injuries?",
    ),
    ("How often should sprinters do yoga?", "How often should swimmers do yoga?"),
    ("Why do sprinters stretch?", "How do sprinters stretch?"),
    ("Should I stretch before a run?", "Should I stretch after a run?"),
    # One opening, several stretches, one of them another detail.
    (
        "How can beginners who train alone measure progress from yoga in hot weather?",
        "How can beginners who train twice a day measure progress from yoga in winter?",
    ),
    (
        "What do sprinters usually get wrong about yoga?",
        "What do swimmers usually get wrong about yoga before a race?",
    ),
    # One opening, a synonym swapped and a phrase of circumstance added.
    ("How can I fix a flat tyre?", "How can I mend a flat tyre on a mountain road?"),
    # Other frames: a phrase of circumstance ends one of them only, or each differently.
    ("How do I keep basil alive?", "What keeps basil alive through the winter?"),
    ("How does a heat pump work in winter?", "Can you explain how a heat pump works?"),
    ("How can I keep bread fresh in summer?", "What keeps bread fresh during a long trip?"),
    ("Where should I store fresh herbs?", "How do herbs stay fresh when the power fails?"),
]
# Pairs a reader calls one question: the rule leaves them to the vectors.
SAME = [
    ("How do I fix a flat tyre?", "How do I repair a flat tyre?"),
    ("How do I fix a flat tyre?", "HOW DO I FIX A FLAT TYRE"),
    ("How do I fix a flat tyre?", "How do I fix the flat tyre?"),
    ("How do I fix a flat tyre?", "How do I fix flat tyres?"),
    ("How do I fix a flat tyre?", "Briefly, how do I fix a flat tyre?"),
    ("How do I fix a flat tyre?", "How can I fix a flat tyre?"),
    ("How do I fix a flat tyre?", "How do I patch a tyre that went flat?"),
    ("What is a volley in tennis?", "In tennis, what is a volley?"),
    ("Why not stretch cold muscles?", "Why shouldn't I stretch cold muscles?"),
    # One opening, several stretches: words moved, or added to a rewording.
    ("How often should I stretch before a run?", "How often, before a run, should I stretch?"),
    ("How do I fix a flat tyre?", "How do I mend a tyre that is flat?"),
    # Only filler differs beside the swap: one stretch, a synonym.
    ("How should I fix a flat tyre?", "How can I repair a flat tyre?"),
    # Other frames, the same circumstance (moved or not), or none.
    ("How can I keep bread fresh in summer?", "In summer, what keeps bread fresh?"),
    (
        "What is the best way to store fresh herbs in the fridge?",
        "How should fresh herbs be stored in the fridge?",
    ),
    ("How does a heat pump work?", "Can you explain how a heat pump works?"),
]


class WordVectors:
    """Synonyms share a vector, any other phrase has its own."""

    SYNONYMS = {"repair": "fix", "mend": "fix", "patch": "fix"}

    def __init__(self) -> None:
        self.known: dict[str, int] = {}

    def __call__(self, texts: list[str]) -> np.ndarray:
        rows = np.zeros((len(texts), 64), dtype=np.float32)
        for row, text in enumerate(texts):
            word = self.SYNONYMS.get(text, text)
            rows[row, self.known.setdefault(word, len(self.known))] = 1.0
        return rows


def test_near_misses_are_vetoed_and_rewordings_kept() -> None:
    embed = WordVectors()
    pairs = NEAR_MISSES + SAME
    needed = sorted(phrases_to_embed(pairs))
    vectors = dict(zip(needed, embed(needed), strict=True))
    for first, second in NEAR_MISSES:
        assert not same_question(first, second, vectors), (first, second)
        assert not same_question(second, first, vectors), (second, first)
    for first, second in SAME:
        assert same_question(first, second, vectors), (first, second)
        assert same_question(second, first, vectors), (second, first)


def test_a_swap_compares_only_the_words_that_differ() -> None:
    # "injury" is in both stretches: the phrases compared are what is left.
    assert verdict(
        "Yoga for rowers who are coming back from injury?",
        "Yoga for rowers who want to avoid injuries?",
    ) == [("coming back from", "want avoid")]
    assert verdict("How do I fix a tyre?", "How do I repair a tyre?") == [("fix", "repair")]
    assert verdict("How do I fix a tyre?", "Briefly, how do I fix the tyres?") is True
    # Several stretches: each swap is compared, a word added beside them is not a veto.
    assert verdict("How can I fix a tyre in winter?", "How can I mend a flat tyre in June?") == [
        ("fix", "mend"),
        ("winter", "june"),
    ]
    # Another opening: left to the vectors.
    assert verdict("How can I fix a tyre in winter?", "In winter, what mends a tyre?") is True


def test_a_closing_detail_is_the_phrase_of_circumstance_after_the_shared_words() -> None:
    basil = {"what", "keep", "basil", "alive"}
    assert closing_detail("How do I keep basil alive through the winter?", basil) == (
        "through winter"
    )
    # A shared preposition does not end it; the words before the preposition are not in it.
    herbs = {"store", "herb", "in", "fridge"}
    assert closing_detail("How should herbs be kept cool in the freezer?", herbs) == "in freezer"
    # Nothing after the shared words, a verb, or a preposition alone: no detail.
    assert closing_detail("Where do I store herbs?", herbs) == ""
    assert closing_detail("Can you explain how a heat pump works?", {"heat", "pump"}) == ""
    assert closing_detail("Which herbs does basil grow with?", {"herb", "basil"}) == ""


def test_other_frames_compare_their_closing_details() -> None:
    assert verdict(
        "How can I keep bread fresh in summer?", "What keeps bread fresh during a long trip?"
    ) == [("in summer", "during long trip")]
    assert verdict(
        "What is the best way to store fresh herbs in the fridge?",
        "How should fresh herbs be stored in the freezer?",
    ) == [("in fridge", "in freezer")]
    assert verdict("How do I keep basil alive?", "What keeps basil alive through the winter?") is (
        False
    )
    assert verdict("How does a heat pump work?", "Can you explain how a heat pump works?") is True
    # A stretch of filler alone is no change: one swap is left.
    assert verdict("How should I knead dough by hand?", "How can I knead dough with a mixer?") == [
        ("by hand", "with mixer")
    ]


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

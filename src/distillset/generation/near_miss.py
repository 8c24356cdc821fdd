"""A cheap second look at two questions whose vectors are close: is one a near miss of the
other rather than the same question in other words?

A sentence embedding scores "How often should beginners who train alone do yoga?" and the
same question for cyclists above most true paraphrases: almost every word is shared. These
signs tell such near misses apart, and all of them only ever veto a pair the vectors found:

- the questions name different numbers ("5 km" / "10 km");
- one asks the negation of the other ("Should I stretch?" / "Should I not stretch?");
- the questions are word for word the same but for one stretch, and that stretch adds or
  drops a detail ("... in hot weather"), or swaps words for words of another meaning
  ("beginners" / "cyclists");
- the questions open alike ("How often should ...", one frame) and differ in several
  stretches, one of which swaps words for words of another meaning ("beginners who train
  alone ... in hot weather" / "cyclists who train alone ... before a race"), or adds a
  phrase of circumstance ("... in a cast-iron pan");
- the questions are reworded from their first words on (another frame), and one of them
  ends with a phrase of circumstance that the other lacks, or each ends with one of another
  meaning ("How can I keep bread fresh in summer?" / "What keeps bread fresh during a
  long trip?"). Why: English puts the when, where and under which condition of a
  question (a preposition or subordinating conjunction and what it governs) at its end,
  after what it asks about, whatever words frame the question; so the words after the last
  word both questions share are a detail of the question, not of its frame, and a rewording
  keeps them. The frames themselves are still left to the vectors: two wordings of one
  question share no words in their frames ("How do I ..." / "What is the best way to ..."),
  so comparing frames would veto paraphrases.

Stretches that differ only by filler ("How should I ..." / "How can I ...") are no change:
"How should I knead dough by hand?" / "How can I knead dough with a mixer?" differ in one
stretch, a swap, and are compared as such.

A synonym ("fix" / "repair"), an inflection ("injury" / "injuries"), an article, a word
about the answer's style ("briefly"), or words moved elsewhere in the question keep the
pair.

It lives below both of its users, the generation-time guard (semantic_guard) and the quality
scan (quality.semantic), so that generation drops the pairs the report flags.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from difflib import SequenceMatcher

import numpy as np

# Two swapped phrases at least this similar (cosine of all-MiniLM-L6-v2 vectors) mean the
# same. Measured: "kids"/"children" 0.88, "buy"/"purchase" 0.87, "start"/"begin" 0.84,
# "fix"/"repair" 0.63, "fix"/"patch" 0.56, "learn"/"study" 0.54 against "marathon runners"/
# "sprinters" 0.70, "sprinters"/"swimmers" 0.54, "static"/"dynamic" 0.46, "python"/"java"
# 0.45: single words overlap, so the bar stays low (a veto only when clearly different);
# bench/dedup.py scores 0.5 and 0.6 alike.
SWAP_SIMILARITY = 0.5
# Questions that open with at least this many of the same words ask in one frame ("How
# often should ..."): then every stretch where they differ must be a rewording.
SAME_OPENING = 2
_WORD = re.compile(r"[^\W_]+")
_NUMBER = re.compile(r"\d+(?:[.,]\d+)*")
# Words that deny: "not", "no", "never", the "t" of "don't" once punctuation is gone.
NEGATIONS = frozenset({"not", "no", "never", "without", "nor", "none", "nothing", "t", "cannot"})
# Words whose addition, removal or exchange leaves the question what it was: articles,
# pronouns, auxiliaries (with the stems of their "n't" forms), and words about the answer's
# style; negations too, once their counts agree. Question words and prepositions ("before" /
# "after") are not among them.
_FILLER_WORDS = (
    "a an the this that these those some any i me my we our us you your one is are was were be"
    " been am do does did can could should would will may might must shall to of please"
    " isn aren wasn weren don doesn didn couldn shouldn wouldn won mustn haven hasn hadn"
    " briefly concisely exactly actually really simply basically just"
)
FILLER = NEGATIONS | frozenset(_FILLER_WORDS.split())
# Words that open a phrase or clause of circumstance (when, where, under which condition):
# prepositions and subordinating conjunctions. English puts such a phrase at the end of a
# question, after what it asks about, whatever the question's frame.
_CIRCUMSTANCE_WORDS = (
    "about above across after against along among around at before behind below beneath"
    " beside between beyond by despite during except for from in inside into near off on onto"
    " outside over past since through throughout till toward towards under underneath until"
    " upon via within if unless when whenever where wherever while whilst"
)
CIRCUMSTANCE = frozenset(_CIRCUMSTANCE_WORDS.split())

Verdict = bool | list[tuple[str, str]]
Embed = Callable[[list[str]], np.ndarray]


def _words(text: str) -> list[str]:
    return _WORD.findall(text.lower())


def _stem(word: str) -> str:
    """A crude singular: "injuries" ~ "injury", "tyres" ~ "tyre" (enough to see that an
    inflection is not a new word)."""
    if word.endswith("ies") and len(word) > 4:
        return word[:-3] + "y"
    if word.endswith("s") and not word.endswith("ss") and len(word) > 3:
        return word[:-1]
    return word


def numbers_differ(first: str, second: str) -> bool:
    """The two texts name different numbers (as multisets: order is free)."""
    return sorted(_NUMBER.findall(first)) != sorted(_NUMBER.findall(second))


def negations_differ(first: str, second: str) -> bool:
    """One text denies more often than the other ("should" / "should not")."""
    return _denials(first) != _denials(second)


def _denials(text: str) -> int:
    return sum(word in NEGATIONS for word in _words(text))


def changed_stretches(first: str, second: str) -> tuple[int, list[tuple[str, str]]]:
    """How many words the texts open with in common, and the words of each text in every
    stretch where they differ (either side may be empty: an insertion); case and punctuation
    aside."""
    words_first, words_second = _words(first), _words(second)
    opcodes = SequenceMatcher(None, words_first, words_second, autojunk=False).get_opcodes()
    opening = opcodes[0][2] if opcodes and opcodes[0][0] == "equal" else 0
    return opening, [
        (" ".join(words_first[start:stop]), " ".join(words_second[begin:end]))
        for kind, start, stop, begin, end in opcodes
        if kind != "equal"
    ]


def _meaningful(stretch: str, other: set[str]) -> str:
    """The words of a changed stretch that say something the other text does not: filler and
    words the other text has too (moved, or inflected: ``other`` holds its stems) left out."""
    return " ".join(
        word for word in stretch.split() if word not in FILLER and _stem(word) not in other
    )


def verdict(first: str, second: str) -> Verdict:
    """True: the vectors decide (the texts may be one question); False: a near miss; pairs of
    phrases: a near miss unless each pair means the same (see ``same_question``)."""
    if numbers_differ(first, second) or negations_differ(first, second):
        return False
    opening, stretches = changed_stretches(first, second)
    stems_first = {_stem(word) for word in _words(first)}
    stems_second = {_stem(word) for word in _words(second)}
    # Stretches that differ only by filler ("How should ..." / "How can ...") change nothing:
    # only the others count, moved words among them (a moved phrase is a new frame).
    stretches = [
        (stretch_first, stretch_second)
        for stretch_first, stretch_second in stretches
        if any(word not in FILLER for word in f"{stretch_first} {stretch_second}".split())
    ]
    if len(stretches) > 1 and opening < SAME_OPENING:
        return _across_frames(first, second, stems_first, stems_second)
    swaps: list[tuple[str, str]] = []
    for stretch_first, stretch_second in stretches:
        left = _meaningful(stretch_first, stems_second)
        right = _meaningful(stretch_second, stems_first)
        if left and right:
            swaps.append((left, right))
        elif (left or right) and (len(stretches) == 1 or _circumstance((left or right).split())):
            return False  # the only change adds or drops a detail, or a circumstance
    return swaps or True


def _across_frames(
    first: str, second: str, stems_first: set[str], stems_second: set[str]
) -> Verdict:
    """Questions reworded from their first words on: the frames are left to the vectors, but
    not a circumstance that only one of them ends with, or that each ends with differently
    (see ``closing_detail``)."""
    detail_first = closing_detail(first, stems_second)
    detail_second = closing_detail(second, stems_first)
    if detail_first and detail_second:
        return [(detail_first, detail_second)]
    return not (detail_first or detail_second)


def closing_detail(text: str, other: set[str]) -> str:
    """The phrase of circumstance ("in a cast-iron pan", "when it rains") that ends ``text``
    after the last word that the other text has too (``other`` holds the other's stems; a
    shared preposition does not end the phrase: "in a pan" / "in an oven"); empty when
    none ends it (filler aside)."""
    tail: list[str] = []
    for word in reversed([word for word in _words(text) if word not in FILLER]):
        if _stem(word) in other and word not in CIRCUMSTANCE:
            break
        tail.append(word)
    tail.reverse()
    opens = next((index for index, word in enumerate(tail) if word in CIRCUMSTANCE), len(tail))
    return " ".join(tail[opens:]) if _circumstance(tail[opens:]) else ""


def _circumstance(words: list[str]) -> bool:
    """The words (filler left out) are a phrase of circumstance: a preposition or
    subordinating conjunction and what it governs ("through the winter")."""
    return len(words) > 1 and words[0] in CIRCUMSTANCE


def phrases_to_embed(pairs: Iterable[tuple[str, str]]) -> set[str]:
    """The phrases whose vectors ``same_question`` needs for these pairs of texts."""
    phrases: set[str] = set()
    for first, second in pairs:
        found = verdict(first, second)
        if isinstance(found, list):
            phrases.update(phrase for swap in found for phrase in swap)
    return phrases


def same_question(first: str, second: str, phrase_vectors: Mapping[str, np.ndarray]) -> bool:
    """False when ``second`` is a near miss of ``first`` (see the module); ``phrase_vectors``
    holds the unit vectors of the phrases that ``phrases_to_embed`` named for the pair."""
    return _settle(verdict(first, second), phrase_vectors)


def _settle(found: Verdict, phrase_vectors: Mapping[str, np.ndarray]) -> bool:
    if not isinstance(found, list):
        return found
    return all(
        float(phrase_vectors[left] @ phrase_vectors[right]) >= SWAP_SIMILARITY
        for left, right in found
    )


class NearMissCheck:
    """``check(row, other)``: False when the questions ``texts[row]`` and ``texts[other]``
    are a near miss (see the module), True when they may be duplicates. ``prepare`` with the
    pairs about to be checked embeds their swapped phrases in one batch (``embed``: texts to
    unit vectors) and keeps their verdicts until the next ``prepare``; each phrase is embedded
    once (a project repeats them often)."""

    def __init__(self, texts: Sequence[str], embed: Embed) -> None:
        self.texts = texts
        self.embed = embed
        self._vectors: dict[str, np.ndarray] = {}
        self._verdicts: dict[tuple[int, int], Verdict] = {}

    def prepare(self, pairs: Iterable[tuple[int, int]]) -> None:
        self._verdicts = {
            (row, other): verdict(self.texts[row], self.texts[other]) for row, other in pairs
        }
        self._embed_missing(self._verdicts.values())

    def _embed_missing(self, verdicts: Iterable[Verdict]) -> None:
        needed = {
            phrase
            for found in verdicts
            if isinstance(found, list)
            for swap in found
            for phrase in swap
            if phrase not in self._vectors
        }
        if needed:
            ordered = sorted(needed)
            self._vectors.update(zip(ordered, self.embed(ordered), strict=True))

    def __call__(self, row: int, other: int) -> bool:
        found = self._verdicts.get((row, other))
        if found is None:  # not prepared
            found = verdict(self.texts[row], self.texts[other])
            self._embed_missing([found])
        return _settle(found, self._vectors)

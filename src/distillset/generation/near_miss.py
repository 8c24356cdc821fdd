"""A cheap second look at two questions whose vectors are close: is one a near miss of the
other rather than the same question in other words?

A sentence embedding scores "How often should beginners who train alone do yoga?" and the
same question for cyclists above most true paraphrases: almost every word is shared. These
signs tell such near misses apart, and all of them only ever veto a pair the vectors found:

- the questions name different numbers ("5 km" / "10 km");
- one asks the negation of the other ("Should I stretch?" / "Should I not stretch?");
- the questions are word for word the same but for one stretch, and that stretch adds or
  drops a detail ("... in hot weather"), or swaps words for words of another meaning
  ("beginners" / "cyclists"). A synonym ("fix" / "repair"), an inflection ("injury" /
  "injuries"), an article or a word about the answer's style ("briefly") keeps the pair. A
  paraphrase that rewords more than one stretch is left to the vectors.

It lives below both of its users, the generation-time guard (semantic_guard) and the quality
scan (quality.semantic), so that generation drops the pairs the report flags.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from difflib import SequenceMatcher

import numpy as np

# Two swapped stretches at least this similar (cosine of all-MiniLM-L6-v2 vectors) mean the
# same. Measured: synonyms "kids"/"children" 0.88, "buy"/"purchase" 0.87, "start"/"begin"
# 0.84, "risks"/"dangers" 0.84, "fix"/"repair" 0.63; other things "sprinters"/"swimmers"
# 0.54, "static"/"dynamic" 0.46, "python"/"java" 0.45, "benefits"/"risks" 0.34.
SWAP_SIMILARITY = 0.6
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

Verdict = bool | tuple[str, str]
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


def one_changed_stretch(first: str, second: str) -> tuple[str, str] | None:
    """The words of each text in the one stretch where they differ (either may be empty: an
    insertion), when the texts (case and punctuation aside) differ in exactly one; else None."""
    words_first, words_second = _words(first), _words(second)
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


def _meaningful(stretch: str, other: str) -> str:
    """The words of a changed stretch that say something the other stretch does not: filler
    and words the other has too (inflections aside) left out."""
    shared = {_stem(word) for word in other.split()}
    return " ".join(
        word for word in stretch.split() if word not in FILLER and _stem(word) not in shared
    )


def verdict(first: str, second: str) -> Verdict:
    """True: the vectors decide (the texts may be one question); False: a near miss; two
    phrases: a near miss unless the phrases mean the same (see ``same_question``)."""
    if numbers_differ(first, second) or negations_differ(first, second):
        return False
    stretch = one_changed_stretch(first, second)
    if stretch is None:
        return True
    left, right = _meaningful(*stretch), _meaningful(stretch[1], stretch[0])
    if not left and not right:  # only filler or inflections changed
        return True
    if not left or not right:  # a detail added or dropped changes the question
        return False
    return left, right


def phrases_to_embed(pairs: Iterable[tuple[str, str]]) -> set[str]:
    """The phrases whose vectors ``same_question`` needs for these pairs of texts."""
    phrases: set[str] = set()
    for first, second in pairs:
        found = verdict(first, second)
        if isinstance(found, tuple):
            phrases.update(found)
    return phrases


def same_question(first: str, second: str, phrase_vectors: Mapping[str, np.ndarray]) -> bool:
    """False when ``second`` is a near miss of ``first`` (see the module); ``phrase_vectors``
    holds the unit vectors of the phrases that ``phrases_to_embed`` named for the pair."""
    return _settle(verdict(first, second), phrase_vectors)


def _settle(found: Verdict, phrase_vectors: Mapping[str, np.ndarray]) -> bool:
    if not isinstance(found, tuple):
        return found
    left, right = found
    return float(phrase_vectors[left] @ phrase_vectors[right]) >= SWAP_SIMILARITY


class NearMissCheck:
    """``check(row, other)``: False when the questions ``texts[row]`` and ``texts[other]``
    are a near miss (see the module), True when they may be duplicates. ``prepare`` with the
    pairs about to be checked embeds their swapped phrases in one batch (``embed``: texts to
    unit vectors); each phrase is embedded once (a project repeats them often)."""

    def __init__(self, texts: Sequence[str], embed: Embed) -> None:
        self.texts = texts
        self.embed = embed
        self._vectors: dict[str, np.ndarray] = {}

    def prepare(self, pairs: Iterable[tuple[int, int]]) -> None:
        needed = phrases_to_embed((self.texts[row], self.texts[other]) for row, other in pairs)
        missing = sorted(needed - self._vectors.keys())
        if missing:
            self._vectors.update(zip(missing, self.embed(missing), strict=True))

    def __call__(self, row: int, other: int) -> bool:
        found = verdict(self.texts[row], self.texts[other])
        if isinstance(found, tuple) and not self._vectors.keys() >= set(found):
            self.prepare([(row, other)])
        return _settle(found, self._vectors)

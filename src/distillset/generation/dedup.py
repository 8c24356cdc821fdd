"""Choosing which of a model's proposed items are new: exact and near-duplicate removal."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from difflib import SequenceMatcher

from distillset.domain import normalize_text

# Two texts at or above this similarity ratio are the same item said twice.
NEAR_DUPLICATE_RATIO = 0.9

# ...and the part where they differ is at most this many characters, or itself similar.
MAX_SMALL_DIFFERENCE = 3

_NON_WORD = re.compile(r"[\W_]+", re.UNICODE)
_DIGIT = re.compile(r"\d")


def comparison_key(text: str) -> str:
    """Case, width, spacing and punctuation folded: `Ball-games!` ~ `ball games`."""
    return _NON_WORD.sub(" ", normalize_text(text)).strip()


def _common_prefix_length(key: str, other: str, limit: int) -> int:
    # Binary search over slice comparisons: C-speed, unlike a character loop in Python.
    low, high = 0, limit
    while low < high:
        middle = (low + high + 1) // 2
        if key[:middle] == other[:middle]:
            low = middle
        else:
            high = middle - 1
    return low


def _common_suffix_length(key: str, other: str, limit: int) -> int:
    low, high = 0, limit
    while low < high:
        middle = (low + high + 1) // 2
        if key[len(key) - middle :] == other[len(other) - middle :]:
            low = middle
        else:
            high = middle - 1
    return low


def _differing_parts(key: str, other: str) -> tuple[str, str]:
    """What is left of two texts once their common beginning and ending are removed."""
    shortest = min(len(key), len(other))
    start = _common_prefix_length(key, other, shortest)
    end = _common_suffix_length(key, other, shortest - start)
    return key[start : len(key) - end], other[start : len(other) - end]


def _tokens(text: str) -> list[str]:
    # Words where the text has spaces; characters for scripts written without them.
    return text.split() if " " in text else list(text)


def is_near_duplicate(key: str, other: str) -> bool:
    """Two comparison keys that say the same thing: `Ball games` ~ `ball game`.

    A plain similarity ratio is not enough: `Ethics of <long path>` and `History of <long
    path>` share most characters yet are different items. So the texts are compared where
    they differ: a small difference (a plural, an article, a spelling) in otherwise equal
    texts, or differing parts that are themselves near-identical. Linear in the common part,
    which keeps checking hundreds of long questions cheap.
    """
    if key == other:
        return True
    left, right = _differing_parts(key, other)
    if _DIGIT.search(left) or _DIGIT.search(right):
        return False  # `Level 1` and `Level 2` are different items
    total = len(key) + len(other)
    common = total - len(left) - len(right)
    if max(len(left), len(right)) <= MAX_SMALL_DIFFERENCE:
        matcher = SequenceMatcher(None, left, right, autojunk=False)
        matched = sum(block.size for block in matcher.get_matching_blocks())
        return (common + 2 * matched) / total >= NEAR_DUPLICATE_RATIO
    if common / total < NEAR_DUPLICATE_RATIO / 2:
        return False
    middle = SequenceMatcher(None, _tokens(left), _tokens(right), autojunk=False)
    return (
        middle.real_quick_ratio() >= NEAR_DUPLICATE_RATIO
        and middle.quick_ratio() >= NEAR_DUPLICATE_RATIO
        and middle.ratio() >= NEAR_DUPLICATE_RATIO
    )


def pick_new(
    candidates: Iterable[str],
    existing: Iterable[str],
    limit: int,
    clean: Callable[[str], str] = str.strip,
    forbidden: Iterable[str] = (),
) -> list[str]:
    """Up to ``limit`` cleaned candidates, none a duplicate of an existing item or of each other.

    ``forbidden`` texts are refused like duplicates without being items (a tag's own path:
    a sub-tag or a question that only repeats it says nothing new)."""
    kept: list[str] = []
    keys = [comparison_key(item) for item in (*existing, *forbidden)]
    for candidate in candidates:
        if len(kept) >= limit:
            break
        text = clean(candidate)
        key = comparison_key(text)
        if not key or any(is_near_duplicate(key, other) for other in keys):
            continue
        kept.append(text)
        keys.append(key)
    return kept

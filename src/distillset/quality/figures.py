"""Small figures the report is made of: approximate token counts, histograms, percentiles."""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from typing import Any

_CJK = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff]")
_WORD = re.compile(r"[^\W_]+|[^\w\s]", re.UNICODE)


def approx_tokens(text: str | None) -> int:
    """About how many tokens a text is for a usual BPE tokenizer: a CJK character is about
    one, a word or punctuation mark of other scripts about 1.3 (no tokenizer is loaded)."""
    if not text:
        return 0
    cjk = len(_CJK.findall(text))
    rest = _CJK.sub(" ", text)
    return cjk + math.ceil(len(_WORD.findall(rest)) * 1.3)


def percentile(ordered: Sequence[float], share: float) -> float | None:
    """The value below which ``share`` of the sorted values lie (nearest rank)."""
    if not ordered:
        return None
    rank = min(len(ordered) - 1, max(0, math.ceil(share * len(ordered)) - 1))
    return float(ordered[rank])


def histogram(values: Sequence[float], bins: int = 10) -> dict[str, Any]:
    """Equal-width bins from 0 to the largest value: edges (bins + 1) and counts."""
    top = max(values, default=0)
    width = max(1, math.ceil(top / bins)) if top else 1
    counts = [0] * bins
    for value in values:
        counts[min(bins - 1, int(value // width))] += 1
    return {"edges": [width * i for i in range(bins + 1)], "counts": counts}


def distribution(values: list[int]) -> dict[str, Any]:
    """Count, mean, median, p90, max and a histogram of some lengths."""
    ordered = sorted(values)
    return {
        "count": len(ordered),
        "mean": round(sum(ordered) / len(ordered), 1) if ordered else None,
        "median": percentile(ordered, 0.5),
        "p90": percentile(ordered, 0.9),
        "max": ordered[-1] if ordered else None,
        "histogram": histogram(ordered),
    }

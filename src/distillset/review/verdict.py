"""Reading a judge's reply: `{"score": x, "reason": "..."}`, also inside fences or prose."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any

import json_repair

from distillset.llm import ModelOutputError, split_reasoning

MAX_REASON_CHARS = 1_000

_OBJECT = re.compile(r"\{.*\}", re.DOTALL)
# Prose forms: `score: 4.5`, `Score = 4/5`, `**Score:** 3.5 out of 5`, `评分：4`.
_PROSE_SCORE = re.compile(
    r"(?:score|rating|grade|评分|得分|分数)\W{0,6}?(-?\d+(?:\.\d+)?)(?:\s*(?:/|out of)\s*(\d+))?",
    re.IGNORECASE,
)
_PROSE_REASON = re.compile(r"(?:reason|理由|原因)\W{0,6}(.+)", re.IGNORECASE)


@dataclass(frozen=True)
class Verdict:
    score: float
    reason: str


def clamp_score(value: float) -> float:
    """Into 0-5, rounded to the nearest half step."""
    if math.isnan(value):
        raise ModelOutputError("the judge's score is not a number")
    return min(5.0, max(0.0, round(value * 2) / 2))


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        match = re.search(r"-?\d+(?:\.\d+)?", value)
        if match:
            scale = re.search(r"/\s*(\d+)", value[match.end() :])
            number = float(match.group())
            return number * 5 / float(scale.group(1)) if scale and scale.group(1) != "0" else number
    return None


def _from_object(text: str) -> Verdict | None:
    match = _OBJECT.search(text)
    if match is None:
        return None
    data = json_repair.loads(match.group())
    if not isinstance(data, dict):
        return None
    fields = {str(key).lower(): value for key, value in data.items()}
    score = _number(fields.get("score", fields.get("rating")))
    if score is None:
        return None
    reason = fields.get("reason", fields.get("reasoning", fields.get("explanation", "")))
    return Verdict(clamp_score(score), str(reason or "").strip()[:MAX_REASON_CHARS])


def _from_prose(text: str) -> Verdict | None:
    match = _PROSE_SCORE.search(text)
    if match is None:
        return None
    score = float(match.group(1))
    if match.group(2) and match.group(2) != "0":
        score = score * 5 / float(match.group(2))
    reason_match = _PROSE_REASON.search(text)
    reason = reason_match.group(1) if reason_match else text
    return Verdict(clamp_score(score), reason.strip()[:MAX_REASON_CHARS])


def parse_verdict(text: str) -> Verdict:
    """The score (clamped to 0-5, half steps) and reason; ModelOutputError when none."""
    # The judge's thinking is no verdict, nor is a reply cut off while still thinking.
    _, cleaned = split_reasoning({"content": text})
    verdict = _from_object(cleaned) or _from_prose(cleaned)
    if verdict is None:
        raise ModelOutputError(f"no score in the judge's reply: {cleaned[:200]!r}")
    return verdict

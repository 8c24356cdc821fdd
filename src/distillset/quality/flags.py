"""Automatic flags on a record, computed from its texts without a model.

Each rule says one thing a reviewer would want to see: the teacher refused, answered in
another language than the project's, let its reasoning into the answer, was cut off, wrote
far more or less than its neighbours in the tag, or only said the question again. The rules
err on the side of silence: a flag should be worth a look.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from distillset.generation.dedup import comparison_key

REFUSAL = "refusal"
WRONG_LANGUAGE = "wrong_language"
LEAKED_REASONING = "leaked_reasoning"
TRUNCATED = "truncated"
LENGTH_OUTLIER = "length_outlier"
RESTATES_QUESTION = "restates_question"
FLAG_KINDS = (
    REFUSAL,
    WRONG_LANGUAGE,
    LEAKED_REASONING,
    TRUNCATED,
    LENGTH_OUTLIER,
    RESTATES_QUESTION,
)

# A refusal says so at once: only the answer's beginning is read.
REFUSAL_WINDOW = 300
_REFUSAL = re.compile(
    r"^\W*(?:i'?m|i am) sorry,? (?:but )?i (?:can'?t|cannot|can not|won'?t|am (?:not able|unable))"
    r"|\bi (?:can'?t|cannot|can not|won'?t|will not|am unable to|am not able to|must decline to)"
    r" (?:help|assist|provide|answer|comply|fulfil|fulfill|support|do that|share|give)"
    r"|\bas an ai(?: language model| assistant)?,? i (?:can'?t|cannot|don'?t|do not|am unable)"
    r"|^\W*i (?:must|have to) (?:decline|refuse)"
    r"|(?:抱歉|对不起|很遗憾)[，,。\s]*(?:但)?我(?:无法|不能|没法)"
    r"|作为(?:一个)?(?:ai|人工智能)(?:语言模型|助手)?[，,\s]*我(?:无法|不能)"
    r"|^\W*我(?:无法|不能)(?:回答|提供|协助|帮助|满足)",
    re.IGNORECASE | re.MULTILINE,
)
_REASONING_TAG = re.compile(r"</?\s*(?:think|thinking|reasoning|reflection)\s*>", re.IGNORECASE)
_REASONING_START = re.compile(
    r"^\W*(?:(?:okay|ok|alright|hmm+|well),? (?:so |let me |let's |the user |i need |i should )"
    r"|let me think|let's think step by step|first,? i need to"
    r"|the user (?:is asking|asks|asked|wants)"
    r"|(?:嗯|好的)[，,\s]*(?:用户|我需要|让我)|用户(?:问|想|希望))",
    re.IGNORECASE,
)
# An answer ending on one of these was cut mid-sentence.
_OPEN_END = frozenset(",;:(-—–/\\&=+")
_DANGLING_WORDS = frozenset(
    "and or but the a an of to with which that because for in on by as is are than".split()  # noqa: SIM905
)
_TERMINAL = ".!?。！？…)]}\"'»”’`*|>$"
_WORD = re.compile(r"\w+", re.UNICODE)
# Robust z-score (0.6745 (x - median) / MAD) beyond which a length is an outlier
# (Iglewicz and Hoaglin), among at least this many records of the tag.
OUTLIER_Z = 3.5
MIN_TAG_RECORDS = 8


@dataclass(frozen=True)
class Flag:
    kind: str
    detail: str

    def as_dict(self) -> dict[str, str]:
        return {"kind": self.kind, "detail": self.detail}


@dataclass(frozen=True)
class LengthStats:
    """A tag's answer lengths (characters): median and median absolute deviation."""

    median: float
    mad: float
    count: int


@dataclass
class FlagContext:
    """What the rules need besides the record: the project's language, and per tag the
    length statistics of its answers (see flag_scan.flag_context)."""

    language: str
    lengths: dict[int | None, LengthStats] = field(default_factory=dict)


def is_refusal(answer: str) -> bool:
    return _REFUSAL.search(answer[:REFUSAL_WINDOW]) is not None


def leaked_reasoning(answer: str) -> str | None:
    tag = _REASONING_TAG.search(answer)
    if tag is not None:
        return f"the answer holds {tag.group(0)!r}"
    if _REASONING_START.search(answer[:200]) is not None:
        return "the answer opens with thinking aloud"
    return None


def truncation(answer: str, finish_reason: str | None) -> str | None:
    if finish_reason == "length":
        return "the model stopped at its token limit"
    text = answer.rstrip()
    if not text:
        return None
    if text.count("```") % 2:
        return "a code block is left open"
    if text[-1] in _OPEN_END:
        return f"ends on {text[-1]!r}"
    last_paragraph = text.rsplit("\n\n", 1)[-1].strip()
    words = _WORD.findall(last_paragraph)
    if not words or text[-1] in _TERMINAL or not text[-1].isalpha():
        return None
    if words[-1].lower() in _DANGLING_WORDS:
        return f"ends on {words[-1]!r}"
    if len(words) >= 12 and last_paragraph[0].isalpha():
        return "ends mid-sentence"
    return None


def _units(key: str) -> list[str]:
    # Words where the text has spaces; characters for scripts written without them.
    return key.split() if " " in key else list(key.replace(" ", ""))


def restates_question(question: str, answer: str) -> bool:
    """The answer is the question again, or little more than its words."""
    question_key, answer_key = comparison_key(question), comparison_key(answer)
    if not answer_key:
        return False
    if answer_key == question_key:
        return True
    asked, said = _units(question_key), _units(answer_key)
    if len(said) > 1.5 * len(asked) + 3:
        return False
    shared = sum(1 for unit in said if unit in set(asked))
    return shared / len(said) >= 0.8


def length_outlier(length: int, stats: LengthStats | None) -> str | None:
    if stats is None or stats.count < MIN_TAG_RECORDS or stats.mad == 0:
        return None
    z = 0.6745 * (length - stats.median) / stats.mad
    if abs(z) <= OUTLIER_Z:
        return None
    side = "longer" if z > 0 else "shorter"
    return f"{length} characters, far {side} than its tag's median {stats.median:g} (z={z:.1f})"


def record_flags(record: Any, context: FlagContext, language: str | None) -> list[Flag]:
    """The flags of one record (a DatasetRecord: question, answer, finish_reason, tag_id);
    ``language`` is the answer's detected language (None: could not tell)."""
    answer = record.answer or ""
    flags: list[Flag] = []
    if is_refusal(answer):
        flags.append(Flag(REFUSAL, "the answer declines to answer"))
    if language is not None and language != context.language:
        flags.append(Flag(WRONG_LANGUAGE, f"written in {language}, not {context.language}"))
    leak = leaked_reasoning(answer)
    if leak is not None:
        flags.append(Flag(LEAKED_REASONING, leak))
    cut = truncation(answer, record.finish_reason)
    if cut is not None:
        flags.append(Flag(TRUNCATED, cut))
    outlier = length_outlier(len(answer), context.lengths.get(record.tag_id))
    if outlier is not None:
        flags.append(Flag(LENGTH_OUTLIER, outlier))
    if restates_question(record.question, answer):
        flags.append(Flag(RESTATES_QUESTION, "the answer says little more than the question"))
    return flags

"""The judge's two questions in an evaluation: a 0–5 grade (with or without the teacher's
answer as the reference), and which of two answers is better (asked in both orders)."""

from __future__ import annotations

import re
from typing import Any

import json_repair

from distillset.llm import ModelOutputError

GRADE = """You are a strict reviewer grading an answer to a question about "{topic}".

Question:
{question}
{reference}
Answer to grade:
{answer}

Grade the answer from 0 to 5 in steps of 0.5:
- 5: accurate, complete, clear and well organised; nothing to fix.
- 4: accurate and useful, with small gaps or imprecisions.
- 3: mostly right but incomplete, vague or partly off-topic.
- 2: noticeable errors or large gaps.
- 1: mostly wrong or unhelpful.
- 0: wrong, empty, harmful or not an answer to the question.

Reply with one JSON object and nothing else: {{"score": <number>, "reason": "<one sentence>"}}"""

REFERENCE = """
A reference answer by an expert (judge the answer against it; it need not be word for word):
{reference}
"""

PAIRWISE = """You compare two answers to a question about "{topic}".

Question:
{question}

Answer A:
{first}

Answer B:
{second}

Which answer is better: more accurate, complete and clear? Ignore length and order.
Reply with one JSON object and nothing else:
{{"winner": "A" | "B" | "tie", "reason": "<one sentence>"}}"""

_OBJECT = re.compile(r"\{.*\}", re.DOTALL)
WINNERS = ("A", "B", "tie")


def grade_prompt(topic: str, question: str, answer: str, reference: str | None) -> str:
    block = REFERENCE.format(reference=reference) if reference is not None else ""
    return GRADE.format(topic=topic, question=question, answer=answer, reference=block)


def pairwise_prompt(topic: str, question: str, first: str, second: str) -> str:
    return PAIRWISE.format(topic=topic, question=question, first=first, second=second)


def parse_winner(text: str) -> str:
    """ "A", "B" or "tie" from a pairwise reply (a JSON object, possibly in prose)."""
    match = _OBJECT.search(text)
    data: Any = json_repair.loads(match.group()) if match else None
    if isinstance(data, dict):
        winner = str(data.get("winner", "")).strip().strip('"').lower()
        for choice in WINNERS:
            if winner in (choice.lower(), f"answer {choice.lower()}"):
                return choice
    raise ModelOutputError(f"no readable winner in the judge's reply: {text[:80]!r}")


def verdict_of(first_order: str, second_order: str) -> str:
    """The student's result from the two orders (student first, then teacher first):
    "win", "loss" or "tie"; orders that disagree cancel out as a tie."""
    votes = {"A": 1, "B": -1, "tie": 0}
    total = votes[first_order] - votes[second_order]
    return "win" if total > 0 else "loss" if total < 0 else "tie"

"""The quality report of a project: one JSON-able dict that the terminal, `--json`, the HTML
file and the web page all render.

It reads the records once (lengths, scores, flags and languages together), the tree and the
call log with a few aggregate queries, and, when an embedder is given, embeds the questions
once for both the semantic duplicates and the diversity figures.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from distillset.domain import InvalidInputError
from distillset.quality.coverage import DEFAULT_FEW, coverage
from distillset.quality.diversity import diversity
from distillset.quality.embedders import Embedder
from distillset.quality.figures import approx_tokens, distribution
from distillset.quality.flag_scan import FlagSummary, flagged_records
from distillset.quality.semantic import (
    DEFAULT_THRESHOLD,
    checked_threshold,
    groups_of,
    question_vectors,
)
from distillset.review import difficulty_counts, find_duplicates
from distillset.store.models import Answer, LlmCall, Project, Question, Tag
from distillset.store.queries import TagPaths

SCORE_STEPS = [step / 2 for step in range(11)]  # 0, 0.5, ... 5


def _count(session: Session, stmt: Any) -> int:
    return int(session.scalar(stmt) or 0)


def stage_counts(session: Session, project: Project) -> dict[str, Any]:
    """Tags, questions (answered, failed, waiting) and records (confirmed, scored)."""
    pid = project.id
    answered = select(Answer.id).where(Answer.question_id == Question.id).exists()
    questions = select(func.count(Question.id)).where(Question.project_id == pid)
    records = select(func.count(Answer.id)).where(Answer.project_id == pid)
    total_questions = _count(session, questions)
    answered_questions = _count(session, questions.where(answered))
    failed = _count(session, questions.where(~answered, Question.last_error.is_not(None)))
    return {
        "tags": _count(session, select(func.count(Tag.id)).where(Tag.project_id == pid)),
        "questions": total_questions,
        "answered": answered_questions,
        "failed": failed,
        "unanswered": total_questions - answered_questions,
        "records": _count(session, records),
        "confirmed": _count(session, records.where(Answer.confirmed.is_(True))),
        "scored": _count(session, records.where(Answer.score >= 0)),
        "with_reasoning": _count(session, records.where(Answer.reasoning.is_not(None))),
    }


def models_and_cost(session: Session, project: Project, records: int) -> dict[str, Any]:
    """Records and tokens per answering model, and what the calls cost per purpose."""
    models = [
        {
            "model": model or "unknown",
            "records": int(count),
            "input_tokens": int(tokens_in or 0),
            "output_tokens": int(tokens_out or 0),
        }
        for model, count, tokens_in, tokens_out in session.execute(
            select(
                Answer.model,
                func.count(Answer.id),
                func.sum(Answer.input_tokens),
                func.sum(Answer.output_tokens),
            )
            .where(Answer.project_id == project.id)
            .group_by(Answer.model)
            .order_by(func.count(Answer.id).desc())
        )
    ]
    purposes = {
        purpose: {
            "calls": int(calls),
            "cost": None if cost is None else round(float(cost), 6),
            # Input tokens the provider served from its prompt cache, at its cache-hit price.
            "cached_input_tokens": int(cached or 0),
        }
        for purpose, calls, cost, cached in session.execute(
            select(
                LlmCall.purpose,
                func.count(LlmCall.id),
                func.sum(LlmCall.cost),
                func.sum(LlmCall.cached_input_tokens),
            )
            .where(LlmCall.project_id == project.id)
            .group_by(LlmCall.purpose)
        )
    }
    known = [item["cost"] for item in purposes.values() if item["cost"] is not None]
    total = round(sum(known), 6) if known else None
    return {
        "models": models,
        "calls": purposes,
        "total_cost": total,
        "cost_per_record": round(total / records, 6) if total is not None and records else None,
    }


def _record_pass(session: Session, project: Project, examples: int) -> dict[str, Any]:
    lengths: dict[str, list[int]] = {"question": [], "reasoning": [], "answer": []}
    scores: Counter[float] = Counter()
    flags = FlagSummary()
    for record, found, language in flagged_records(session, project):
        lengths["question"].append(approx_tokens(record.question))
        lengths["answer"].append(approx_tokens(record.answer))
        if record.reasoning:
            lengths["reasoning"].append(approx_tokens(record.reasoning))
        score = record.score
        if score is not None:
            scores[min(SCORE_STEPS, key=lambda step: abs(step - score))] += 1
        flags.add(record, found, language, examples)
    flag_data = flags.as_dict()
    return {
        "lengths": {part: distribution(values) for part, values in lengths.items()},
        "scores": {
            "steps": SCORE_STEPS,
            "counts": [scores.get(step, 0) for step in SCORE_STEPS],
            "unscored": flags.records - sum(scores.values()),
        },
        "languages": flag_data.pop("languages"),
        "flags": flag_data,
    }


def _lexical(session: Session, project: Project, examples: int) -> dict[str, Any]:
    groups = find_duplicates(session, project)
    return {
        "groups": len(groups),
        "questions": sum(1 for g in groups if g.part == "question"),
        "answers": sum(1 for g in groups if g.part == "answer"),
        "duplicate_records": len({rid for g in groups for rid in g.record_ids[1:]}),
        "examples": [g.as_dict() for g in groups[:examples]],
    }


def _semantic(
    session: Session, project: Project, embedder: Embedder, threshold: float, examples: int
) -> tuple[dict[str, Any], dict[str, Any]]:
    rows, vectors = question_vectors(session, project, embedder)
    groups = groups_of(session, project, rows, vectors, threshold, embedder)
    semantic = {
        "computed": True,
        "model": embedder.name,
        "threshold": threshold,
        "groups": len(groups),
        "duplicate_questions": sum(len(g.question_ids) - 1 for g in groups),
        "examples": [g.as_dict() for g in groups[:examples]],
    }
    paths = TagPaths(session, project.id)
    paths.load(row.tag_id for row in rows)
    figures = diversity(vectors, [paths.path(row.tag_id) for row in rows]).as_dict()
    return semantic, {"computed": True, "model": embedder.name, **figures}


def build_report(
    session: Session,
    project: Project,
    *,
    embedder: Embedder | None = None,
    threshold: float = DEFAULT_THRESHOLD,
    few: int = DEFAULT_FEW,
    examples: int = 3,
    embedder_problem: str | None = None,
) -> dict[str, Any]:
    """The whole report. Without an embedder the semantic duplicates and the diversity say
    why they were not computed (``embedder_problem``)."""
    checked_threshold(threshold)
    if few < 1 or examples < 0:
        raise InvalidInputError("--few must be at least 1 and --examples at least 0")
    stages = stage_counts(session, project)
    report: dict[str, Any] = {
        "project": {"name": project.name, "topic": project.topic, "language": project.language},
        "stages": stages,
        "coverage": coverage(session, project, few).as_dict(),
        **_record_pass(session, project, examples),
        # Questions per difficulty rating (1-10, `dataset rate --difficulty`) and unrated.
        "difficulty": difficulty_counts(session, project.id),
    }
    lexical = _lexical(session, project, examples)
    if embedder is None:
        missing = {"computed": False, "reason": embedder_problem or "no embedding model given"}
        semantic, spread = dict(missing), dict(missing)
    else:
        semantic, spread = _semantic(session, project, embedder, threshold, examples)
    report["duplicates"] = {"lexical": lexical, "semantic": semantic}
    report["diversity"] = spread
    report["cost"] = models_and_cost(session, project, stages["records"])
    return report

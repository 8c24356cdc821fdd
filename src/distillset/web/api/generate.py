"""Generation awaited in the request: sub-tags, questions of a tag, one answer."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from distillset.web.api import _generation as generation
from distillset.web.deps import AppSettings, Runner
from distillset.web.schemas import AnswerOne, GenerateQuestions, GenerateTags, RowId

router = APIRouter(prefix="/projects/{project_id}", tags=["generation"])


@router.post("/tags/generate")
async def generate_tags(
    project_id: RowId, body: GenerateTags, runner: Runner, settings: AppSettings
) -> dict[str, Any]:
    """Create `count` more sub-tags of `parent_id` (top-level tags without it)."""
    result = await generation.add_sub_tags(
        runner, settings, project_id, body.parent_id, body.count, body.max_cost
    )
    return {"created": result.created, "wanted": result.wanted, "error": result.error}


@router.post("/tags/{tag_id}/questions/generate")
async def generate_questions(
    project_id: RowId,
    tag_id: RowId,
    body: GenerateQuestions,
    runner: Runner,
    settings: AppSettings,
) -> dict[str, Any]:
    """Create `count` more questions for the tag (existing ones are shown to the model)."""
    result = await generation.add_questions(
        runner, settings, project_id, tag_id, body.count, body.max_cost
    )
    return {"created": result.created, "wanted": result.wanted, "error": result.error}


@router.post("/questions/{question_id}/answer")
async def answer_question(
    project_id: RowId,
    question_id: RowId,
    runner: Runner,
    settings: AppSettings,
    body: AnswerOne | None = None,
) -> dict[str, Any]:
    """Answer one question with the answer model. An answered one is left as it is, unless
    `fresh` asks for a new sample: that replaces the answer (unconfirmed, unscored)."""
    fresh = body.fresh if body is not None else False
    outcome = await generation.answer_one(runner, settings, project_id, question_id, fresh=fresh)
    return {
        "question_id": question_id,
        "answer_id": outcome.answer_id,
        "skipped": outcome.skipped,
        "error": outcome.error,
    }

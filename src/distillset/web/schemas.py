"""Request bodies of the REST API (validated by pydantic: bad input answers 422)."""

from __future__ import annotations

import math
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, field_validator

from distillset.domain import CLEAR, MAX_ID, InvalidInputError, unstorable_reason

Structured = Literal["json_schema", "json_object", "none"]

# SQLite's INTEGER range: a larger number cannot name a row, and the driver raises on it.
# A row id in a path, a query or a body: out of range answers 422, never a database error.
RowId = Annotated[int, Field(ge=1, le=MAX_ID)]
# A keyset cursor: the id of the last row already shown (0 starts before the first).
AfterId = Annotated[int, Field(ge=0, le=MAX_ID)]

BUDGET_RULE = "the budget (max cost) must be a number above 0, or empty for the project's budget"


def checked_budget(value: Any) -> float | None:
    """A task's own budget as sent or typed: None when absent or empty (the project's
    budget applies), else a finite number above 0. The core (runs.set_budget) stores it."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, bool):  # JSON true is no amount
        raise ValueError(f"{BUDGET_RULE}, not {value!r}")
    try:
        number = float(value.strip() if isinstance(value, str) else value)
    except (TypeError, ValueError):
        raise ValueError(f"{BUDGET_RULE}, not {value!r}") from None
    if not math.isfinite(number) or number <= 0:
        raise ValueError(f"{BUDGET_RULE}, not {value!r}")
    return number


def form_budget(text: str) -> float | None:
    """The budget typed in a form field of its own (a multipart or Form() parameter),
    refused as a body's max_cost is."""
    try:
        return checked_budget(text)
    except ValueError as exc:
        raise InvalidInputError(f"max_cost: {exc}") from None


# A task's budget, in the endpoints' price unit: it pauses before a call that could exceed it.
Budget = Annotated[
    float | None,
    BeforeValidator(checked_budget),
    Field(description="the task's budget (null: the project's budget)"),
]


def _texts(value: Any) -> list[str]:
    """Every string in a field's value, keys of JSON objects included."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [text for pair in value.items() for item in pair for text in _texts(item)]
    if isinstance(value, list | tuple):
        return [text for item in value for text in _texts(item)]
    return []


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid")

    @field_validator("*")
    @classmethod
    def _storable(cls, value: Any) -> Any:
        # A JSON escape of a lone surrogate or a control character (NUL...): refused here,
        # with the field that holds it, before any service or column (a JSON column would
        # store it, PostgreSQL refuse NUL, a page or terminal not show it). The services
        # check the same (domain.checked_text) for the CLI and the Python API.
        for text in _texts(value):
            reason = unstorable_reason(text)
            if reason is not None:
                raise ValueError(reason)
        return value

    def changes(self) -> dict[str, Any]:
        """The fields a PATCH names: an explicit null removes the setting (the services'
        CLEAR, refused for what cannot be removed), an absent field leaves it as it is."""
        return {
            key: CLEAR if value is None else value
            for key, value in self.model_dump(exclude_unset=True).items()
        }


# Lengths of names and labels are checked by the services, with the same limit and message
# as the CLI and the Python API (domain.checked_text), not here.
class ProjectCreate(Body):
    name: str = Field(min_length=1)
    topic: str | None = None
    language: str = "en"
    description: str = ""


class ProjectUpdate(Body):
    name: str | None = Field(default=None, min_length=1)
    topic: str | None = None
    description: str | None = None
    language: str | None = None
    question_model: str | None = None
    answer_model: str | None = None
    max_concurrency: int | None = None
    requests_per_minute: int | None = None
    tokens_per_minute: int | None = None
    max_retries: int | None = None
    request_timeout: float | None = None
    answer_system_prompt: str | None = None
    max_cost: float | None = Field(
        default=None,
        description="budget of each task started without one, in the endpoints' price unit "
        "(null or 0: no budget)",
    )


class ConversationUpdate(Body):
    confirmed: bool | None = None
    score: float | None = Field(default=None, ge=0, le=5, description="null clears it")
    score_reason: str | None = Field(default=None, max_length=5_000)
    note: str | None = Field(default=None, description="'' or null removes it")


class ConversationJudge(Body):
    """Judge complete conversations: by id, or by filters (a tag's subtree, confirmed,
    scored, a score range); unscored ones unless `rescore` (or ids) says scored ones too."""

    model: str | None = Field(default=None, description="judge endpoint (default: answer model)")
    ids: list[RowId] | None = Field(default=None, max_length=100_000)
    tag_id: RowId | None = Field(default=None, description="a tag and its whole subtree")
    confirmed: bool | None = None
    scored: bool | None = None
    min_score: float | None = Field(default=None, ge=0, le=5)
    max_score: float | None = Field(default=None, ge=0, le=5)
    rescore: bool = Field(default=False, description="score scored ones again too")
    fresh: bool = Field(default=False, description="new verdicts, not stored model replies")
    max_cost: Budget = None


class TurnUpdate(Body):
    content: str | None = None
    reasoning: str | None = None


class MultiTurnUpdate(Body):
    scenario: str | None = None
    user_role: str | None = None
    assistant_role: str | None = None
    rounds: int | None = Field(default=None, ge=1, le=20)
    system_prompt: str | None = None
    user_model: str | None = Field(
        default=None, description="the endpoint that plays the user ('': the question model)"
    )


class EndpointFields(Body):
    base_url: str | None = None
    model: str | None = None
    api_key_env: str | None = None
    api_key_name: str | None = None
    api_key: str | None = Field(
        default=None,
        description="the key itself, kept in the keys file under api_key_name; never returned",
        json_schema_extra={"writeOnly": True},
    )
    structured_output: Structured | None = None
    extra_body: dict[str, Any] | None = None
    temperature: float | None = None
    max_tokens: int | None = None
    top_p: float | None = None
    concurrency: int | None = None
    rpm: int | None = None
    tpm: int | None = None
    price_input_per_m: float | None = None
    price_output_per_m: float | None = None
    price_cached_input_per_m: float | None = None
    batch_discount: float | None = Field(
        default=None, description="share taken off the prices for batched requests (0.5: half)"
    )
    stream: bool | None = Field(default=None, description="request answers streamed")
    logprobs: int | None = Field(
        default=None, description="top-K alternatives kept per answer token (0: no soft labels)"
    )
    tokenizer: str | None = Field(
        default=None, description="the tokenizer the token ids belong to (a Hugging Face repo id)"
    )


class EndpointCreate(EndpointFields):
    alias: str = Field(min_length=1)
    model: str = Field(min_length=1)
    preset: str | None = None


class TagCreate(Body):
    label: str = Field(min_length=1)
    parent_id: RowId | None = None


class TagRename(Body):
    label: str = Field(min_length=1)


# "count" adds that many to what exists, bounded like the CLI's --count.
MAX_COUNT = 100


class GenerateTags(Body):
    parent_id: RowId | None = None
    count: int = Field(default=10, ge=1, le=MAX_COUNT)
    max_cost: Budget = None


class GenerateQuestions(Body):
    count: int = Field(default=10, ge=1, le=MAX_COUNT)
    max_cost: Budget = None


class AnswerOne(Body):
    fresh: bool = Field(
        default=False, description="ask the model for a new sample, not the stored reply"
    )


class AutoDistill(Body):
    topic: str | None = None
    levels: int = Field(default=2, ge=1, le=6)
    tags_per_level: int = Field(default=10, ge=1, le=100)
    questions_per_tag: int = Field(default=10, ge=1, le=100)
    dataset_type: Literal["single", "multi", "both"] = Field(
        default="single",
        description="single answers, multi-turn conversations (the project's setting), or both",
    )
    samples: int = Field(default=1, ge=1, le=16, description="answers per question (best-of-N)")
    temperature: float | None = Field(
        default=None, ge=0, le=2, description="sampling temperature of the answers"
    )
    fresh: bool = Field(default=False, description="new samples, not stored model replies")
    batch_answers: bool = Field(
        default=False, description="answers through the answer model's batch interface"
    )
    confirm_large: bool = Field(
        default=False, description="start a plan above the bound on calls or cost (see the plan)"
    )
    max_cost: Budget = None


class AnswerTask(Body):
    tag_id: RowId | None = None
    samples: int = Field(default=1, ge=1, le=16, description="answers per question (best-of-N)")
    temperature: float | None = Field(
        default=None, ge=0, le=2, description="sampling temperature of the answers"
    )
    fresh: bool = Field(default=False, description="new samples, not stored model replies")
    batch: bool = Field(default=False, description="through the answer model's batch interface")
    confirm_large: bool = Field(
        default=False, description="start a plan above the bound on calls or cost (see the plan)"
    )
    max_cost: Budget = None


class RecordUpdate(Body):
    answer: str | None = None
    reasoning: str | None = None
    question: str | None = None
    confirmed: bool | None = None
    score: float | None = Field(default=None, ge=0, le=5)
    note: str | None = None
    labels: list[str] | None = None


class PromptOverride(Body):
    template: str = Field(min_length=1)


class BulkConfirm(Body):
    ids: list[RowId] = Field(min_length=1, max_length=10_000)
    confirmed: bool = True


class QuestionEdit(Body):
    text: str = Field(min_length=1, description="the new text; the answers stay")


class QuestionSelection(Body):
    """Questions by id, or by filters (a tag's subtree, answered or not, text); every
    question of the project only with `all`."""

    ids: list[RowId] | None = Field(default=None, max_length=100_000)
    tag_id: RowId | None = Field(default=None, description="a tag and its whole subtree")
    answered: bool | None = None
    q: str | None = Field(default=None, max_length=500, description="text in the question")
    all: bool = Field(default=False, description="every question of the project")


class QuestionMove(QuestionSelection):
    to_tag_id: RowId = Field(description="the tag to move them under")


class SampleSelection(Body):
    by: Literal["judge", "consistency"] = Field(
        description="judge: score the samples and choose the best (a task); consistency: "
        "majority vote on the final answer"
    )
    tag_id: RowId | None = None
    model: str | None = Field(default=None, max_length=100, description="judge endpoint alias")
    fresh: bool = Field(default=False, description="new verdicts, not stored model replies")
    max_cost: Budget = None


class DifficultyRating(Body):
    """Have the judge rate questions' difficulty (1-10, with a reason) as a task."""

    tag_id: RowId | None = Field(default=None, description="a tag and its whole subtree")
    model: str | None = Field(default=None, max_length=100, description="judge endpoint alias")
    rerate: bool = Field(default=False, description="rate every question again, rated ones too")
    fresh: bool = Field(default=False, description="new verdicts, not stored model replies")
    max_cost: Budget = None


class TokenScoring(Body):
    """Soft labels for existing answers: an open-weight teacher (a vLLM server) scores each
    record's tokens; by id, by a tag's subtree, or every record with `all`."""

    endpoint: str = Field(min_length=1, max_length=100, description="the scoring endpoint")
    k: int = Field(default=20, ge=1, le=1000, description="alternatives kept per token")
    ids: list[RowId] | None = Field(default=None, max_length=100_000)
    tag_id: RowId | None = Field(default=None, description="a tag and its whole subtree")
    all: bool = Field(default=False, description="every record of the project")
    max_cost: Budget = None


class RecordRefine(Body):
    """Rewrite records following one advice: by id, or by filters (a tag's subtree,
    confirmed, scored, a score range, text); every record of the project only with `all`."""

    advice: str = Field(min_length=1, max_length=5_000)
    model: str | None = Field(default=None, description="endpoint alias (default: answer model)")
    ids: list[RowId] | None = Field(default=None, max_length=100_000)
    tag_id: RowId | None = Field(default=None, description="a tag and its whole subtree")
    confirmed: bool | None = None
    scored: bool | None = None
    min_score: float | None = Field(default=None, ge=0, le=5)
    max_score: float | None = Field(default=None, ge=0, le=5)
    q: str | None = Field(default=None, max_length=500)
    all: bool = Field(default=False, description="every record of the project")
    max_cost: Budget = None


class OneRefine(Body):
    advice: str = Field(min_length=1, max_length=5_000)
    model: str | None = None
    max_cost: Budget = None


class RecordRestore(Body):
    version: int = Field(ge=1, le=MAX_ID)


class TaskResume(Body):
    max_cost: Budget = Field(
        default=None, description="a new budget (a task paused at its budget needs a higher one)"
    )

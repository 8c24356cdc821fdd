"""What a task's calls were billed, read from the usage log (llm_calls)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from distillset.store import LlmCall


def billed_usage(session: Session, task_id: int) -> dict[str, Any]:
    """What the task's calls were billed, from the usage log: totals (failed calls included,
    since they were paid for too) and the part of them spent on calls that failed."""
    failed = LlmCall.status != "ok"

    def part(column: Any) -> Any:
        return func.sum(case((failed, column), else_=None))

    row = session.execute(
        select(
            func.sum(LlmCall.input_tokens),
            func.sum(LlmCall.output_tokens),
            func.sum(LlmCall.cost),
            func.sum(LlmCall.cached_input_tokens),
            part(LlmCall.input_tokens),
            part(LlmCall.output_tokens),
            part(LlmCall.cost),
        ).where(LlmCall.task_id == task_id)
    ).one()
    tokens_in, tokens_out, cost, cached_in, failed_in, failed_out, failed_cost = row
    return {
        "input_tokens": int(tokens_in or 0),
        # Of the input tokens, those the provider served from its prompt cache (cheaper).
        "cached_input_tokens": int(cached_in or 0),
        "output_tokens": int(tokens_out or 0),
        "cost": None if cost is None else round(float(cost), 6),
        "failed_input_tokens": int(failed_in or 0),
        "failed_output_tokens": int(failed_out or 0),
        "failed_cost": None if failed_cost is None else round(float(failed_cost), 6),
    }


def billed_so_far(session: Session, task_id: int) -> tuple[float, int]:
    """The task's billed cost and the number of attempts (requests sent) the usage log holds
    for it."""
    cost, attempts = session.execute(
        select(func.sum(LlmCall.cost), func.sum(LlmCall.attempts)).where(LlmCall.task_id == task_id)
    ).one()
    return float(cost or 0.0), int(attempts or 0)


# How many of an endpoint's latest calls for one purpose its estimates average.
OBSERVED_CALLS = 200


def observed_tokens(
    session: Session, endpoint_alias: str, purpose: str
) -> tuple[float, float, int] | None:
    """Average input and output tokens of the endpoint's latest successful calls for the
    purpose (tags, questions, answer...), and how many calls that is; None before any."""
    latest = (
        select(LlmCall.input_tokens, LlmCall.output_tokens)
        .where(
            LlmCall.endpoint_alias == endpoint_alias,
            LlmCall.purpose == purpose,
            LlmCall.status == "ok",
            LlmCall.output_tokens.is_not(None),
        )
        .order_by(LlmCall.id.desc())
        .limit(OBSERVED_CALLS)
        .subquery()
    )
    tokens_in, tokens_out, calls = session.execute(
        select(func.avg(latest.c.input_tokens), func.avg(latest.c.output_tokens), func.count())
    ).one()
    if not calls:
        return None
    return float(tokens_in or 0.0), float(tokens_out or 0.0), int(calls)

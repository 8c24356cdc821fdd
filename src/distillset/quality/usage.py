"""What a project's model calls used and cost, read from the usage log (llm_calls): totals,
per endpoint (its model), per day, the latency distribution and per task. Every figure is
summed in the database, so the page costs the same at a million calls as at ten."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Date, case, cast, func, select
from sqlalchemy.orm import Session

from distillset.store import LlmCall, ModelEndpoint, Task

# Latency buckets, upper bounds in seconds (the last one is open).
LATENCY_EDGES = (0.5, 1, 2, 5, 10, 30, 60)
PERCENTILES = (50, 90, 99)
TASKS_SHOWN = 50


def _failed() -> Any:
    return LlmCall.status != "ok"


def _sums() -> tuple[Any, ...]:
    """Calls, failed calls, input tokens, output tokens, cost (NULL when no call had a price)."""
    return (
        func.count(LlmCall.id),
        func.sum(case((_failed(), 1), else_=0)),
        func.sum(LlmCall.input_tokens),
        func.sum(LlmCall.output_tokens),
        func.sum(LlmCall.cost),
    )


def _figures(calls: Any, failed: Any, tokens_in: Any, tokens_out: Any, cost: Any) -> dict[str, Any]:
    return {
        "calls": int(calls or 0),
        "failed": int(failed or 0),
        "input_tokens": int(tokens_in or 0),
        "output_tokens": int(tokens_out or 0),
        "cost": None if cost is None else round(float(cost), 6),
    }


def _per_model(session: Session, project_id: int) -> list[dict[str, Any]]:
    rows = session.execute(
        select(LlmCall.endpoint_alias, ModelEndpoint.model, *_sums(), func.avg(LlmCall.latency_ms))
        .outerjoin(ModelEndpoint, ModelEndpoint.alias == LlmCall.endpoint_alias)
        .where(LlmCall.project_id == project_id)
        .group_by(LlmCall.endpoint_alias, ModelEndpoint.model)
        .order_by(func.count(LlmCall.id).desc())
    )
    return [
        {
            "endpoint": alias,
            "model": model,  # None: the endpoint was removed since
            **_figures(*sums),
            "mean_latency_ms": None if mean is None else round(float(mean), 1),
        }
        for alias, model, *sums, mean in rows
    ]


def _day(session: Session) -> Any:
    # SQLite keeps datetimes as text (date() reads them); PostgreSQL casts to a date.
    if session.get_bind().dialect.name == "sqlite":
        return func.date(LlmCall.created_at)
    return cast(LlmCall.created_at, Date)


def _per_day(session: Session, project_id: int) -> list[dict[str, Any]]:
    day = _day(session).label("day")
    rows = session.execute(
        select(day, *_sums()).where(LlmCall.project_id == project_id).group_by(day).order_by(day)
    )
    return [{"day": str(when), **_figures(*sums)} for when, *sums in rows]


def _latency(session: Session, project_id: int) -> dict[str, Any]:
    """Successful calls' latency: counts per bucket, and percentiles (None before any call)."""
    ok = (LlmCall.project_id == project_id, LlmCall.status == "ok", LlmCall.latency_ms.is_not(None))
    seconds = LlmCall.latency_ms / 1000.0
    buckets = [
        func.sum(case(((seconds >= low) & (seconds < high), 1), else_=0))
        for low, high in zip((0, *LATENCY_EDGES), (*LATENCY_EDGES, float("inf")), strict=True)
    ]
    # An open last bucket: `seconds < inf` is not portable, so count it as the rest.
    total, *counts = session.execute(select(func.count(LlmCall.id), *buckets[:-1]).where(*ok)).one()
    total = int(total or 0)
    counts = [int(c or 0) for c in counts]
    counts.append(total - sum(counts))
    # In seconds, short enough to sit under a bar.
    labels = [
        f"<{LATENCY_EDGES[0]:g}",
        *(f"{low:g}–{high:g}" for low, high in zip(LATENCY_EDGES, LATENCY_EDGES[1:], strict=False)),
        f"≥{LATENCY_EDGES[-1]:g}",
    ]
    percentiles: dict[str, float | None] = {}
    for q in PERCENTILES:
        value = None
        if total:
            offset = min(total - 1, (total * q) // 100)
            value = session.execute(
                select(LlmCall.latency_ms)
                .where(*ok)
                .order_by(LlmCall.latency_ms)
                .offset(offset)
                .limit(1)
            ).scalar_one()
        percentiles[f"p{q}"] = None if value is None else round(float(value), 1)
    # Bucket labels in seconds, their counts, and percentiles in milliseconds.
    return {"calls": total, "buckets": labels, "counts": counts, "percentiles_ms": percentiles}


def _per_task(session: Session, project_id: int) -> list[dict[str, Any]]:
    rows = session.execute(
        select(LlmCall.task_id, Task.kind, Task.status, Task.created_at, *_sums())
        .join(Task, Task.id == LlmCall.task_id)
        .where(LlmCall.project_id == project_id)
        .group_by(LlmCall.task_id, Task.kind, Task.status, Task.created_at)
        .order_by(LlmCall.task_id.desc())
        .limit(TASKS_SHOWN)
    )
    return [
        {
            "task_id": task_id,
            "kind": kind,
            "status": status,
            "created_at": created,
            **_figures(*sums),
        }
        for task_id, kind, status, created, *sums in rows
    ]


def usage_report(session: Session, project_id: int) -> dict[str, Any]:
    """The project's usage: totals, per model, per day, latency, and the latest tasks' cost."""
    totals = _figures(
        *session.execute(select(*_sums()).where(LlmCall.project_id == project_id)).one()
    )
    return {
        "totals": totals,
        "models": _per_model(session, project_id),
        "days": _per_day(session, project_id),
        "latency": _latency(session, project_id),
        "tasks": _per_task(session, project_id),
    }

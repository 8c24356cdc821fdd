"""What a project's model calls used and cost, read from the usage log (llm_calls): totals,
per endpoint (its model), per day, the latency distribution and per task. Every figure is
summed in the database in three passes over the project's calls (by day and endpoint, by latency
bin, by task), never loading the calls themselves."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Date, Integer, case, cast, func, select
from sqlalchemy.orm import Session

from distillset.store import LlmCall, ModelEndpoint, Task

# Latency buckets, upper bounds in seconds (the last one is open).
LATENCY_EDGES = (0.5, 1, 2, 5, 10, 30, 60)
PERCENTILES = (50, 90, 99)
TASKS_SHOWN = 50


# What each group of calls adds up: calls, failed, input tokens, output tokens, cost, and the
# latency sum and count (for a mean).
_FIELDS = ("calls", "failed", "input_tokens", "output_tokens", "cost", "latency_sum", "timed")


def _sums() -> tuple[Any, ...]:
    return (
        func.count(LlmCall.id),
        func.sum(case((LlmCall.status != "ok", 1), else_=0)),
        func.sum(LlmCall.input_tokens),
        func.sum(LlmCall.output_tokens),
        func.sum(LlmCall.cost),  # NULL when no call of the group had a price
        func.sum(LlmCall.latency_ms),
        func.count(LlmCall.latency_ms),
    )


def _add(into: dict[str, Any], values: tuple[Any, ...]) -> None:
    for name, value in zip(_FIELDS, values, strict=True):
        if value is None:
            continue
        into[name] = (into.get(name) or 0) + value


def _figures(group: dict[str, Any]) -> dict[str, Any]:
    cost = group.get("cost")
    return {
        "calls": int(group.get("calls") or 0),
        "failed": int(group.get("failed") or 0),
        "input_tokens": int(group.get("input_tokens") or 0),
        "output_tokens": int(group.get("output_tokens") or 0),
        "cost": None if cost is None else round(float(cost), 6),
    }


def _day(session: Session) -> Any:
    # SQLite keeps datetimes as ISO text (its first 10 characters are the day: cheaper than
    # date(), which parses it); PostgreSQL casts to a date.
    if session.get_bind().dialect.name == "sqlite":
        return func.substr(LlmCall.created_at, 1, 10)
    return cast(LlmCall.created_at, Date)


def _by_day_and_endpoint(session: Session, project_id: int) -> dict[str, Any]:
    """Totals, per endpoint and per day, from one pass over the project's calls grouped by
    (day, endpoint): a handful of rows, summed again here."""
    day = _day(session).label("day")
    rows = session.execute(
        select(day, LlmCall.endpoint_alias, *_sums())
        .where(LlmCall.project_id == project_id)
        .group_by(day, LlmCall.endpoint_alias)
    )
    totals: dict[str, Any] = {}
    models: dict[str, dict[str, Any]] = {}
    days: dict[str, dict[str, Any]] = {}
    for when, alias, *values in rows:
        for group in (totals, models.setdefault(alias, {}), days.setdefault(str(when), {})):
            _add(group, tuple(values))
    names = dict(
        session.execute(
            select(ModelEndpoint.alias, ModelEndpoint.model).where(
                ModelEndpoint.alias.in_(list(models))
            )
        ).all()
    )
    per_model = [
        {
            "endpoint": alias,
            "model": names.get(alias),  # None: the endpoint was removed since
            **_figures(group),
            "mean_latency_ms": (
                round(group["latency_sum"] / group["timed"], 1) if group.get("timed") else None
            ),
        }
        for alias, group in sorted(models.items(), key=lambda item: (-item[1]["calls"], item[0]))
    ]
    per_day = [{"day": when, **_figures(group)} for when, group in sorted(days.items())]
    return {"totals": _figures(totals), "models": per_model, "days": per_day}


# Latency is counted in fine bins in the database (one pass, no sort of the calls): 10 ms wide
# below 10 s, 1 s wide above. Percentiles are read from them (the upper edge of the bin the
# percentile falls in), the chart's buckets summed from them.
FINE_MS, FINE_LIMIT_MS, COARSE_MS = 10, 10_000, 1000


def _bin(session: Session) -> Any:
    latency = LlmCall.latency_ms
    fine, coarse = (
        latency / FINE_MS,
        FINE_LIMIT_MS / FINE_MS + (latency - FINE_LIMIT_MS) / COARSE_MS,
    )
    value = case((latency < FINE_LIMIT_MS, fine), else_=coarse)
    # Truncated toward zero alike on both databases (PostgreSQL's cast would round).
    if session.get_bind().dialect.name == "sqlite":
        return cast(value, Integer)
    return cast(func.floor(value), Integer)


def _bin_top_ms(index: int) -> float:
    fine_bins = FINE_LIMIT_MS // FINE_MS
    if index < fine_bins:
        return float((index + 1) * FINE_MS)
    return float(FINE_LIMIT_MS + (index - fine_bins + 1) * COARSE_MS)


def _percentiles(bins: list[tuple[int, int]], total: int) -> dict[str, float | None]:
    found: dict[str, float | None] = {f"p{q}": None for q in PERCENTILES}
    if not total:
        return found
    seen = 0
    wanted = [(q, max(1, -(-total * q // 100))) for q in PERCENTILES]  # rank, rounded up
    for index, count in bins:
        seen += count
        for q, rank in wanted:
            if found[f"p{q}"] is None and seen >= rank:
                found[f"p{q}"] = _bin_top_ms(index)
    return found


def _latency(session: Session, project_id: int) -> dict[str, Any]:
    """Successful calls' latency: counts per chart bucket (labels in seconds), and the 50th,
    90th and 99th percentiles in milliseconds (None before any call)."""
    index = _bin(session).label("bin")
    rows = session.execute(
        select(index, func.count())
        .where(
            LlmCall.project_id == project_id,
            LlmCall.status == "ok",
            LlmCall.latency_ms.is_not(None),
        )
        .group_by(index)
        .order_by(index)
    ).all()
    bins = [(int(i), int(n)) for i, n in rows]
    total = sum(n for _, n in bins)
    counts = [0] * (len(LATENCY_EDGES) + 1)
    for i, n in bins:
        top = _bin_top_ms(i) / 1000  # the bins nest in the chart's buckets
        counts[sum(1 for edge in LATENCY_EDGES if top > edge)] += n
    # In seconds, short enough to sit under a bar.
    labels = [
        f"<{LATENCY_EDGES[0]:g}",
        *(f"{low:g}–{high:g}" for low, high in zip(LATENCY_EDGES, LATENCY_EDGES[1:], strict=False)),
        f"≥{LATENCY_EDGES[-1]:g}",
    ]
    return {
        "calls": total,
        "buckets": labels,
        "counts": counts,
        "percentiles_ms": _percentiles(bins, total),
    }


def _per_task(session: Session, project_id: int) -> list[dict[str, Any]]:
    rows = session.execute(
        select(LlmCall.task_id, Task.kind, Task.status, Task.created_at, *_sums())
        .join(Task, Task.id == LlmCall.task_id)
        .where(LlmCall.project_id == project_id)
        .group_by(LlmCall.task_id, Task.kind, Task.status, Task.created_at)
        .order_by(LlmCall.task_id.desc())
        .limit(TASKS_SHOWN)
    )
    found = []
    for task_id, kind, status, created, *values in rows:
        group: dict[str, Any] = {}
        _add(group, tuple(values))
        found.append(
            {
                "task_id": task_id,
                "kind": kind,
                "status": status,
                "created_at": created,
                **_figures(group),
            }
        )
    return found


def usage_report(session: Session, project_id: int) -> dict[str, Any]:
    """The project's usage: totals, per model, per day, latency, and the latest tasks' cost."""
    return {
        **_by_day_and_endpoint(session, project_id),
        "latency": _latency(session, project_id),
        "tasks": _per_task(session, project_id),
    }

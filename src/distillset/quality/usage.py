"""What a project's model calls used and cost: totals, per endpoint (its model), per day, the
latency distribution and per task. Read from the usage rollup (usage_rollup, usage_latency),
which triggers keep in step with the usage log (llm_calls) as calls are written, updated and
deleted: the report reads a few rows per day, endpoint, task and writer (the connections that
logged them), never the calls."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from distillset.store import ModelEndpoint, Task, UsageLatency, UsageRollup
from distillset.store.models import LATENCY_COARSE_MS, LATENCY_FINE_LIMIT_MS, LATENCY_FINE_MS

# Latency buckets, upper bounds in seconds (the last one is open).
LATENCY_EDGES = (0.5, 1, 2, 5, 10, 30, 60)
PERCENTILES = (50, 90, 99)
TASKS_SHOWN = 50


# What each group of calls adds up: calls, failed, input tokens, output tokens, cost and how
# many calls had a price, and the latency sum and count (for a mean).
_FIELDS = (
    "calls",
    "failed",
    "input_tokens",
    "output_tokens",
    "cost",
    "priced",
    "latency_sum",
    "timed",
)


def _sums() -> tuple[Any, ...]:
    return tuple(func.sum(getattr(UsageRollup, name)) for name in _FIELDS)


def _has_calls() -> Any:
    # The rollup keeps a part per writer; a group whose parts sum to no calls has none (its
    # parts cancel: one writer logged the calls, another deleted them).
    return func.sum(UsageRollup.calls) > 0


def _add(into: dict[str, Any], values: tuple[Any, ...]) -> None:
    for name, value in zip(_FIELDS, values, strict=True):
        into[name] = into.get(name, 0) + (value or 0)


def _figures(group: dict[str, Any]) -> dict[str, Any]:
    return {
        "calls": int(group.get("calls") or 0),
        "failed": int(group.get("failed") or 0),
        "input_tokens": int(group.get("input_tokens") or 0),
        "output_tokens": int(group.get("output_tokens") or 0),
        # None when no call of the group had a price.
        "cost": round(float(group["cost"]), 6) if group.get("priced") else None,
    }


def _by_day_and_endpoint(session: Session, project_id: int) -> dict[str, Any]:
    """Totals, per endpoint and per day, from the rollup's rows grouped by (day, endpoint):
    a handful of rows, summed again here."""
    rows = session.execute(
        select(UsageRollup.day, UsageRollup.endpoint_alias, *_sums())
        .where(UsageRollup.project_id == project_id)
        .group_by(UsageRollup.day, UsageRollup.endpoint_alias)
        .having(_has_calls())
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


# Percentiles are read from the latency bins (the upper edge of the bin the percentile falls
# in), the chart's buckets summed from them.
def _bin_top_ms(index: int) -> float:
    fine_bins = LATENCY_FINE_LIMIT_MS // LATENCY_FINE_MS
    if index < fine_bins:
        return float((index + 1) * LATENCY_FINE_MS)
    return float(LATENCY_FINE_LIMIT_MS + (index - fine_bins + 1) * LATENCY_COARSE_MS)


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
    rows = session.execute(
        select(UsageLatency.bin, func.sum(UsageLatency.calls))
        .where(UsageLatency.project_id == project_id)
        .group_by(UsageLatency.bin)
        .having(func.sum(UsageLatency.calls) > 0)
        .order_by(UsageLatency.bin)
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
        select(UsageRollup.task_id, Task.kind, Task.status, Task.created_at, *_sums())
        .join(Task, Task.id == UsageRollup.task_id)
        .where(UsageRollup.project_id == project_id)
        .group_by(UsageRollup.task_id, Task.kind, Task.status, Task.created_at)
        .having(_has_calls())
        .order_by(UsageRollup.task_id.desc())
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

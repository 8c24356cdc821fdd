"""Page: usage and cost of the project's model calls, with server-rendered SVG charts."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response
from markupsafe import Markup

from distillset import quality
from distillset.web.deps import DbSession, project_by_id
from distillset.web.pages.common import render
from distillset.web.schemas import RowId

router = APIRouter(prefix="/projects/{project_id}")

# The per-day charts show the latest days (the table below them has every day).
CHART_DAYS = 30


def _charts(report: dict[str, Any]) -> list[Markup]:
    """Calls and cost per model, calls and tokens per day, and the latency distribution; the
    chart functions escape every label."""
    models, days = report["models"], report["days"][-CHART_DAYS:]
    charts = []
    if models:
        names = [m["endpoint"] for m in models]
        charts.append(quality.hbar_chart("Calls per model", names, [m["calls"] for m in models]))
        if any(m["cost"] for m in models):
            costs = [m["cost"] or 0.0 for m in models]
            charts.append(quality.hbar_chart("Cost per model ($)", names, costs))
    if days:
        labels = [d["day"][5:] for d in days]  # MM-DD
        charts.append(quality.bar_chart("Calls per day", labels, [d["calls"] for d in days]))
        tokens = [d["input_tokens"] + d["output_tokens"] for d in days]
        charts.append(quality.bar_chart("Tokens per day", labels, tokens))
    latency = report["latency"]
    if latency["calls"]:
        charts.append(
            quality.bar_chart(
                "Latency of successful calls (seconds)", latency["buckets"], latency["counts"]
            )
        )
    return [Markup(chart) for chart in charts]  # noqa: S704 - built with every text escaped


@router.get("/usage")
def usage_page(project_id: RowId, request: Request, session: DbSession) -> Response:
    project = project_by_id(session, project_id)
    report = quality.usage_report(session, project.id)
    return render(
        request,
        "usage.html",
        project=project,
        active="usage",
        report=report,
        charts=_charts(report),
    )

"""`distillset usage`: calls, tokens, failures and cost per model, per day and per task, and
the latency of successful calls, from the usage log."""

from __future__ import annotations

from typing import Any

import typer

from distillset import quality, resolve
from distillset.cli.app import app
from distillset.cli.common import (
    JsonOption,
    ProjectArgument,
    print_json,
    print_table,
    say,
    state_of,
)


def _cost(value: float | None) -> str:
    return "unknown" if value is None else f"${value:,.4f}"


def _row(name: str, figures: dict[str, Any]) -> list[str]:
    return [
        name,
        f"{figures['calls']:,}",
        f"{figures['failed']:,}",
        f"{figures['input_tokens']:,}",
        f"{figures['output_tokens']:,}",
        _cost(figures["cost"]),
    ]


@app.command("usage")
def usage_command(
    ctx: typer.Context, name: str = ProjectArgument, as_json: bool = JsonOption
) -> None:
    """Usage and cost: calls, tokens, failures and cost per model, day and task; latency.

    A cost is unknown where the endpoint has no price (`model set ALIAS --price-in X
    --price-out Y`)."""
    state = state_of(ctx)
    with state.store.session() as session:
        project = resolve.project_named(session, name)
        report = quality.usage_report(session, project.id)
    if as_json:
        print_json(report)
        return
    columns = ["", "calls", "failed", "input tokens", "output tokens", "cost"]
    print_table(
        columns,
        [
            _row("total", report["totals"]),
            *(_row(f"model {m['endpoint']}", m) for m in report["models"]),
            *(_row(d["day"], d) for d in report["days"]),
            *(_row(f"task {t['task_id']} ({t['kind']})", t) for t in report["tasks"]),
        ],
    )
    percentiles = report["latency"]["percentiles_ms"]
    if percentiles["p50"] is not None:
        say(
            "latency of successful calls: "
            + ", ".join(f"{name} ≤ {value / 1000:,.2f} s" for name, value in percentiles.items())
        )

"""`distillset model test ALIAS`: one tiny request to see that an endpoint works."""

from __future__ import annotations

import asyncio

import typer

from distillset.cli.common import JsonOption, print_fields, print_json, state_of
from distillset.cli.models import model_app
from distillset.llm.config import EndpointConfig
from distillset.llm.probe import probe_endpoint
from distillset.services.endpoints import get_endpoint


@model_app.command("test")
def model_test(
    ctx: typer.Context,
    alias: str = typer.Argument(..., help="The endpoint to try."),
    timeout: float = typer.Option(60.0, "--timeout", min=1, help="Seconds to wait for a reply."),
    as_json: bool = JsonOption,
) -> None:
    """Send one tiny request: latency, structured output support, reasoning."""
    state = state_of(ctx)
    with state.store.session() as session:
        endpoint = EndpointConfig.from_endpoint(get_endpoint(session, alias), state.settings)
    report = asyncio.run(probe_endpoint(state.store, endpoint, timeout=timeout))
    if as_json:
        print_json(report.as_dict())
        return
    structured = "works" if report.structured_output_works else "does not work"
    print_fields(
        {
            "endpoint": f"{report.alias} ({report.model})",
            "latency": f"{report.latency_ms:.0f} ms",
            "reply": report.reply,
            "structured output": f"{report.structured_output} {structured}",
            "reasoning returned": "yes" if report.reasoning else "no",
        }
    )

"""`distillset model test ALIAS`: one tiny request to see that an endpoint works; `distillset
model available ALIAS`: the models its server offers."""

from __future__ import annotations

import asyncio

import typer

from distillset.cli.common import JsonOption, print_fields, print_json, state_of
from distillset.cli.models import model_app
from distillset.llm import PROBE_TIMEOUT, ProbeReport, probe_endpoint, provider_models
from distillset.projects import endpoint_config, get_endpoint


@model_app.command("test")
def model_test(
    ctx: typer.Context,
    alias: str = typer.Argument(..., help="The endpoint to try."),
    timeout: float = typer.Option(
        PROBE_TIMEOUT, "--timeout", min=1, help="Seconds to wait for each reply."
    ),
    as_json: bool = JsonOption,
) -> None:
    """Send one tiny request: latency, structured output support, reasoning, model name."""
    state = state_of(ctx)
    with state.store.session() as session:
        endpoint = endpoint_config(get_endpoint(session, alias), state.settings)
    report = asyncio.run(probe_endpoint(state.store, endpoint, timeout=timeout))
    if as_json:
        print_json(report.as_dict())
    else:
        print_fields(_fields(report))
        for warning in warnings(report):
            typer.echo(f"warning: {warning}", err=True)
    if not report.ok:
        raise typer.Exit(1)


def _fields(report: ProbeReport) -> dict[str, str]:
    model = report.model or "(no reply)"
    if not report.model_matches:
        model += f" (configured: {report.configured_model})"
    fields = {
        "endpoint": report.alias,
        "model": model,
        "key": f"missing ({report.key_missing})" if report.key_missing else "sent",
        "latency": f"{report.latency_ms:.0f} ms",
        "reply": report.reply,
    }
    if report.server_model:
        served = ", ".join(f"{name} {value}" for name, value in report.server_model.items())
        fields["served model"] = served
    return fields | report.verdicts


def warnings(report: ProbeReport) -> list[str]:
    """What the user should act on: a key named but missing, another model answering."""
    found = []
    if report.key_missing:
        found.append(f"no API key was sent: {report.key_missing}")
    if not report.model_matches:
        found.append(
            f"the server reports model {report.model!r}, not the configured "
            f"{report.configured_model!r}: records will name {report.model!r}"
        )
    return found


@model_app.command("available")
def model_available(
    ctx: typer.Context,
    alias: str = typer.Argument(..., help="The endpoint whose server to ask."),
    timeout: float = typer.Option(
        PROBE_TIMEOUT, "--timeout", min=1, help="Seconds to wait for the reply."
    ),
    as_json: bool = JsonOption,
) -> None:
    """List the models the endpoint's server offers (its /models).

    Choose one with `model set ALIAS --model ID`."""
    state = state_of(ctx)
    with state.store.session() as session:
        endpoint = endpoint_config(get_endpoint(session, alias), state.settings)
    models = asyncio.run(provider_models(endpoint, timeout=timeout))
    if as_json:
        print_json({"alias": alias, "models": models})
        return
    for model in models:
        typer.echo(model)

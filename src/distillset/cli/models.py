"""`distillset model ...` (endpoints) and `distillset keys ...` (API keys)."""

from __future__ import annotations

import json
import sys
from typing import Any

import typer

from distillset import projects as project_core
from distillset.cli.app import app
from distillset.cli.common import (
    JsonOption,
    number_or_clear,
    print_json,
    print_table,
    report,
    say,
    show,
    state_of,
)
from distillset.cli.lazy import LazyGroup
from distillset.domain import CLEAR, InvalidInputError
from distillset.projects import list_key_names, remove_key, set_key

# `model test` lives in cli/model_probe.py (it needs the gateway): see cli/lazy.py.
model_app = typer.Typer(
    name="model",
    cls=LazyGroup,
    no_args_is_help=True,
    help="Model endpoints: any OpenAI-compatible server.",
)
keys_app = typer.Typer(name="keys", no_args_is_help=True, help="API keys (kept in a 0600 file).")
app.add_typer(model_app)
app.add_typer(keys_app)

# Endpoint settings `model add` and `model set` share; None means "not given". The numbers
# are read as text so that `none` can remove a setting (see _numbers).
TemperatureOption = typer.Option(
    None, "--temperature", help="Sampling temperature (0 is valid; 'none' unsets it)."
)
MaxTokensOption = typer.Option(None, "--max-tokens", help="Most tokens per reply ('none' unsets).")
TopPOption = typer.Option(None, "--top-p", help="Nucleus sampling ('none' unsets it).")
ConcurrencyOption = typer.Option(
    None, "--concurrency", help="Max requests in flight ('none': no limit)."
)
RpmOption = typer.Option(None, "--rpm", help="Requests per minute ('none' or 0: no limit).")
TpmOption = typer.Option(None, "--tpm", help="Tokens per minute ('none' or 0: no limit).")
StructuredOption = typer.Option(
    None,
    "--structured",
    help="Structured output the server supports: json_schema, json_object or none.",
)
ADAPTIVE_HELP = (
    "Learn how many requests the server takes at once, under --concurrency and the "
    "project's limit (--fixed: always that limit)."
)
PriceInOption = typer.Option(None, "--price-in", help="Price per 1M input tokens ('none' unsets).")
PriceOutOption = typer.Option(
    None, "--price-out", help="Price per 1M output tokens ('none' unsets)."
)
PriceCachedInOption = typer.Option(
    None,
    "--price-cached-in",
    help="Price per 1M input tokens served from the prompt cache ('none': the input price).",
)
BatchDiscountOption = typer.Option(
    None,
    "--batch-discount",
    help="Share taken off the prices for batched requests, e.g. 0.5 ('none' unsets).",
)
ExtraBodyOption = typer.Option(
    None, "--extra-body", help="JSON object merged into each request body."
)
LogprobsOption = typer.Option(
    None,
    "--logprobs",
    help="Soft labels: keep the top K alternatives of every answer token (0: off).",
)
TokenizerOption = typer.Option(
    None,
    "--tokenizer",
    help="The tokenizer the token ids belong to, e.g. a Hugging Face repo id ('none' unsets).",
)
ReasoningHistoryOption = typer.Option(
    None,
    "--reasoning-history/--no-reasoning-history",
    help="Send the assistant turns' reasoning back in a conversation's history "
    "(default: what the preset needs; DeepSeek's thinking models need it).",
)
ApiKeyEnvOption = typer.Option(None, "--api-key-env", help="Read the key from this env var.")
KeyNameOption = typer.Option(None, "--key-name", help="Use this keys-file entry.")


AliasArgument = typer.Argument(..., help="Endpoint alias.")
KeyNameArgument = typer.Argument(..., help="Name of the key.")


def _given(**settings: Any) -> dict[str, Any]:
    return {name: value for name, value in settings.items() if value is not None}


# The number options: the setting each one changes, its flag and its type.
_NUMBER_OPTIONS: dict[str, tuple[str, type[int] | type[float]]] = {
    "temperature": ("--temperature", float),
    "max_tokens": ("--max-tokens", int),
    "top_p": ("--top-p", float),
    "concurrency": ("--concurrency", int),
    "rpm": ("--rpm", int),
    "tpm": ("--tpm", int),
    "price_input_per_m": ("--price-in", float),
    "price_output_per_m": ("--price-out", float),
    "price_cached_input_per_m": ("--price-cached-in", float),
    "batch_discount": ("--batch-discount", float),
}


def _numbers(**texts: str | None) -> dict[str, Any]:
    """The number options given, by setting: a number, or CLEAR for `none`."""
    return _given(
        **{name: number_or_clear(text, *_NUMBER_OPTIONS[name]) for name, text in texts.items()}
    )


def _extra_body(text: str | None) -> dict[str, Any] | None:
    if text is None:
        return None
    try:
        value = json.loads(text)
    except ValueError as exc:
        raise InvalidInputError(f"--extra-body is not valid JSON: {exc}") from exc
    if not isinstance(value, dict):
        raise InvalidInputError("--extra-body must be a JSON object, e.g. '{\"top_k\": 20}'")
    return value


def warn(warnings: list[str]) -> None:
    """Warnings on stderr, so that --json output stays one document."""
    for warning in warnings:
        typer.echo(f"warning: {warning}", err=True)


def _warn_missing_key(alias: str, ctx: typer.Context) -> None:
    """A key the endpoint names but that is not there is said plainly, not accepted silently."""
    state = state_of(ctx)
    with state.store.session() as session:
        warning = project_core.key_warning(
            state.settings, project_core.get_endpoint(session, alias)
        )
    warn([] if warning is None else [warning])


@model_app.command("add")
def model_add(
    ctx: typer.Context,
    alias: str = typer.Argument(..., help="Short name used by projects, e.g. 'ds'."),
    model: str = typer.Option(..., "--model", help="Model name the server expects."),
    base_url: str | None = typer.Option(None, "--base-url", help="OpenAI-compatible base URL."),
    preset: str | None = typer.Option(
        None, "--preset", help=f"Fill the base URL: {', '.join(sorted(project_core.PRESETS))}."
    ),
    api_key_env: str | None = ApiKeyEnvOption,
    key_name: str | None = KeyNameOption,
    temperature: str | None = TemperatureOption,
    max_tokens: str | None = MaxTokensOption,
    top_p: str | None = TopPOption,
    concurrency: str | None = ConcurrencyOption,
    rpm: str | None = RpmOption,
    tpm: str | None = TpmOption,
    structured: str | None = StructuredOption,
    price_in: str | None = PriceInOption,
    price_out: str | None = PriceOutOption,
    price_cached_in: str | None = PriceCachedInOption,
    batch_discount: str | None = BatchDiscountOption,
    extra_body: str | None = ExtraBodyOption,
    stream: bool = typer.Option(
        False, "--stream/--no-stream", help="Request answers streamed (same result)."
    ),
    adaptive: bool = typer.Option(True, "--adaptive/--fixed", help=ADAPTIVE_HELP),
    logprobs: int | None = LogprobsOption,
    tokenizer: str | None = TokenizerOption,
    reasoning_history: bool | None = ReasoningHistoryOption,
    as_json: bool = JsonOption,
) -> None:
    """Register an OpenAI-compatible model endpoint."""
    state = state_of(ctx)
    with state.store.session() as session:
        endpoint = project_core.add_endpoint(
            session,
            alias,
            model=model,
            base_url=base_url,
            preset=preset,
            api_key_env=api_key_env,
            api_key_name=key_name,
            structured_output=structured,
            extra_body=_extra_body(extra_body),
            stream=stream,
            adaptive=adaptive,
            tokenizer=tokenizer,
            reasoning_in_history=reasoning_history,
            **_given(logprobs=logprobs),
            **_numbers(
                temperature=temperature,
                max_tokens=max_tokens,
                top_p=top_p,
                concurrency=concurrency,
                rpm=rpm,
                tpm=tpm,
                price_input_per_m=price_in,
                price_output_per_m=price_out,
                price_cached_input_per_m=price_cached_in,
                batch_discount=batch_discount,
            ),
        )
        data = project_core.endpoint_as_dict(endpoint, state.settings)
    report(
        data,
        as_json,
        f"added model endpoint {data['alias']!r} ({data['model']} at {data['base_url']})",
    )
    _warn_missing_key(data["alias"], ctx)


@model_app.command("set")
def model_set(
    ctx: typer.Context,
    alias: str = AliasArgument,
    model: str | None = typer.Option(None, "--model", help="Model name the server expects."),
    base_url: str | None = typer.Option(None, "--base-url", help="OpenAI-compatible base URL."),
    api_key_env: str | None = ApiKeyEnvOption,
    key_name: str | None = KeyNameOption,
    temperature: str | None = TemperatureOption,
    max_tokens: str | None = MaxTokensOption,
    top_p: str | None = TopPOption,
    concurrency: str | None = ConcurrencyOption,
    rpm: str | None = RpmOption,
    tpm: str | None = TpmOption,
    structured: str | None = StructuredOption,
    price_in: str | None = PriceInOption,
    price_out: str | None = PriceOutOption,
    price_cached_in: str | None = PriceCachedInOption,
    batch_discount: str | None = BatchDiscountOption,
    extra_body: str | None = ExtraBodyOption,
    stream: bool | None = typer.Option(
        None, "--stream/--no-stream", help="Request answers streamed (same result)."
    ),
    adaptive: bool | None = typer.Option(None, "--adaptive/--fixed", help=ADAPTIVE_HELP),
    logprobs: int | None = LogprobsOption,
    tokenizer: str | None = TokenizerOption,
    reasoning_history: bool | None = ReasoningHistoryOption,
    as_json: bool = JsonOption,
) -> None:
    """Change settings of an endpoint (only the options given)."""
    state = state_of(ctx)
    changes = _given(
        model=model,
        base_url=base_url,
        structured_output=structured,
        extra_body=_extra_body(extra_body),
        stream=stream,
        adaptive=adaptive,
        logprobs=logprobs,
        tokenizer=CLEAR if tokenizer is not None and tokenizer.lower() == CLEAR else tokenizer,
        reasoning_in_history=reasoning_history,
    ) | _numbers(
        temperature=temperature,
        max_tokens=max_tokens,
        top_p=top_p,
        concurrency=concurrency,
        rpm=rpm,
        tpm=tpm,
        price_input_per_m=price_in,
        price_output_per_m=price_out,
        price_cached_input_per_m=price_cached_in,
        batch_discount=batch_discount,
    )
    changes |= project_core.key_reference_changes(api_key_env, key_name)
    if not changes:
        raise InvalidInputError("nothing to change: give at least one option")
    with state.store.session() as session:
        endpoint = project_core.get_endpoint(session, alias)
        project_core.update_endpoint(session, endpoint, **changes)
        data = project_core.endpoint_as_dict(endpoint, state.settings)
    report(data, as_json, f"updated model endpoint {alias!r}")
    _warn_missing_key(alias, ctx)


def _key_reference(data: dict[str, Any]) -> str:
    if data["api_key_name"]:
        return f"keys:{data['api_key_name']}"
    if data["api_key_env"]:
        return f"env:{data['api_key_env']}"
    return "env:OPENAI_API_KEY"


@model_app.command("list")
def model_list(ctx: typer.Context, as_json: bool = JsonOption) -> None:
    """List the registered endpoints (key references only, never keys)."""
    state = state_of(ctx)
    with state.store.session() as session:
        rows = [
            project_core.endpoint_as_dict(e, state.settings)
            for e in project_core.list_endpoints(session)
        ]
    if as_json:
        print_json(rows)
        return
    print_table(
        ["alias", "model", "base_url", "key", "key_set", "structured"],
        [
            [
                r["alias"],
                r["model"],
                r["base_url"],
                _key_reference(r),
                r["key_set"],
                r["structured_output"],
            ]
            for r in rows
        ],
    )


@model_app.command("show")
def model_show(ctx: typer.Context, alias: str = AliasArgument, as_json: bool = JsonOption) -> None:
    """Show one endpoint's settings."""
    state = state_of(ctx)
    with state.store.session() as session:
        data = project_core.endpoint_as_dict(
            project_core.get_endpoint(session, alias), state.settings
        )
    show(data, as_json)


@model_app.command("remove")
def model_remove(ctx: typer.Context, alias: str = AliasArgument) -> None:
    """Forget an endpoint (projects using it lose that model choice)."""
    with state_of(ctx).store.session() as session:
        project_core.remove_endpoint(session, project_core.get_endpoint(session, alias))
    say(f"removed model endpoint {alias!r}")


def _stdin_is_terminal() -> bool:
    return sys.stdin.isatty()


def _read_secret(name: str) -> str:
    """From stdin when piped, else a hidden prompt; the value is never echoed."""
    if _stdin_is_terminal():
        return str(typer.prompt(f"Key for {name}", hide_input=True))
    return sys.stdin.readline()


@keys_app.command("set")
def keys_set(ctx: typer.Context, name: str = KeyNameArgument) -> None:
    """Store a key in the keys file (read from stdin or a hidden prompt)."""
    settings = state_of(ctx).settings
    set_key(settings, name, _read_secret(name))
    say(f"stored key {name!r} in {settings.resolved_keys_file}")


@keys_app.command("list")
def keys_list(ctx: typer.Context, as_json: bool = JsonOption) -> None:
    """List key names (never their values)."""
    names = list_key_names(state_of(ctx).settings)
    if as_json:
        print_json(names)
    else:
        print_table(["name"], [[name] for name in names])


@keys_app.command("remove")
def keys_remove(ctx: typer.Context, name: str = KeyNameArgument) -> None:
    """Delete a key from the keys file."""
    remove_key(state_of(ctx).settings, name)
    say(f"removed key {name!r}")

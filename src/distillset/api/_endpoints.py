"""Model endpoints and API keys from Python, as `distillset model ...` and `keys ...` do.

Endpoints are shared by every project (a project picks them by alias), so these are
functions. Each takes optional ``settings`` (default: from the environment) and ``store``
(default: one opened for the call). A key is never returned: endpoints only name where
their key is found (``api_key_env`` or ``api_key_name``) and say whether it is set.
"""

from __future__ import annotations

from typing import Any

from distillset import projects as project_core
from distillset.api._common import opened, run_blocking
from distillset.config import Settings, load_settings
from distillset.domain import InvalidInputError
from distillset.llm import PROBE_TIMEOUT, probe_endpoint, provider_models
from distillset.store import Store


def add_endpoint(
    alias: str,
    *,
    model: str,
    base_url: str | None = None,
    preset: str | None = None,
    api_key_env: str | None = None,
    api_key_name: str | None = None,
    structured_output: str | None = None,
    extra_body: dict[str, Any] | None = None,
    stream: bool = False,
    logprobs: int = 0,
    tokenizer: str | None = None,
    settings: Settings | None = None,
    store: Store | None = None,
    **limits_and_sampling: Any,
) -> dict[str, Any]:
    """Register an OpenAI-compatible endpoint under ``alias``; returns its settings.

    ``limits_and_sampling``: temperature, max_tokens, top_p, concurrency, rpm, tpm,
    price_input_per_m, price_output_per_m. The base URL comes from ``base_url``, the
    ``preset`` (deepseek, openai, vllm, ...) or OPENAI_BASE_URL. ``logprobs`` K > 0 keeps
    the teacher's top K alternatives of every answer token (soft labels), ``tokenizer``
    names the tokenizer their ids belong to.
    """
    with opened(settings, store) as (settings, store), store.session() as session:
        endpoint = project_core.add_endpoint(
            session, alias, model=model, base_url=base_url, preset=preset,
            api_key_env=api_key_env, api_key_name=api_key_name,
            structured_output=structured_output, extra_body=extra_body, stream=stream,
            logprobs=logprobs, tokenizer=tokenizer, **limits_and_sampling,
        )  # fmt: skip
        return project_core.endpoint_as_dict(endpoint, settings)


def set_endpoint(
    alias: str,
    *,
    api_key_env: str | None = None,
    api_key_name: str | None = None,
    settings: Settings | None = None,
    store: Store | None = None,
    **changes: Any,
) -> dict[str, Any]:
    """Change the settings given (as in ``add_endpoint``; ``CLEAR`` from `distillset.domain`
    unsets an optional one); naming a key by env var or keys-file entry clears the other."""
    changes = {k: v for k, v in changes.items() if v is not None}
    changes |= project_core.key_reference_changes(api_key_env, api_key_name)
    if not changes:
        raise InvalidInputError("nothing to change: give at least one option")
    with opened(settings, store) as (settings, store), store.session() as session:
        endpoint = project_core.get_endpoint(session, alias)
        project_core.update_endpoint(session, endpoint, **changes)
        return project_core.endpoint_as_dict(endpoint, settings)


def list_endpoints(
    *, settings: Settings | None = None, store: Store | None = None
) -> list[dict[str, Any]]:
    """Every registered endpoint's settings, by alias."""
    with opened(settings, store) as (settings, store), store.session() as session:
        return [
            project_core.endpoint_as_dict(e, settings) for e in project_core.list_endpoints(session)
        ]


def show_endpoint(
    alias: str, *, settings: Settings | None = None, store: Store | None = None
) -> dict[str, Any]:
    """One endpoint's settings (``key_set`` says whether its key is found)."""
    with opened(settings, store) as (settings, store), store.session() as session:
        return project_core.endpoint_as_dict(project_core.get_endpoint(session, alias), settings)


def remove_endpoint(
    alias: str, *, settings: Settings | None = None, store: Store | None = None
) -> None:
    """Forget an endpoint (projects using it lose that model choice)."""
    with opened(settings, store) as (settings, store), store.session() as session:
        project_core.remove_endpoint(session, project_core.get_endpoint(session, alias))


def test_endpoint(
    alias: str,
    *,
    timeout: float = PROBE_TIMEOUT,
    settings: Settings | None = None,
    store: Store | None = None,
) -> dict[str, Any]:
    """Send one tiny request, as `model test --json`: ``ok``, latency, the model that
    answered, whether structured output and reasoning work."""
    with opened(settings, store) as (settings, store):
        with store.session() as session:
            config = project_core.endpoint_config(
                project_core.get_endpoint(session, alias), settings
            )
        return run_blocking(probe_endpoint(store, config, timeout=timeout)).as_dict()


def available_models(
    alias: str,
    *,
    timeout: float = PROBE_TIMEOUT,
    settings: Settings | None = None,
    store: Store | None = None,
) -> list[str]:
    """The models the endpoint's server offers (its /models), sorted, as `model available`;
    ModelCallError saying why when it lists none."""
    with opened(settings, store) as (settings, store):
        with store.session() as session:
            config = project_core.endpoint_config(
                project_core.get_endpoint(session, alias), settings
            )
        return run_blocking(provider_models(config, timeout=timeout))


# Not a test function, whatever pytest's collector thinks of the name.
test_endpoint.__test__ = False  # type: ignore[attr-defined]


def set_key(name: str, value: str, *, settings: Settings | None = None) -> None:
    """Store a key in the keys file (a 0600 file, never the database)."""
    project_core.set_key(settings or load_settings(), name, value)


def list_keys(*, settings: Settings | None = None) -> list[str]:
    """The names in the keys file (never the keys)."""
    return project_core.list_key_names(settings or load_settings())


def remove_key(name: str, *, settings: Settings | None = None) -> None:
    """Delete a key from the keys file."""
    project_core.remove_key(settings or load_settings(), name)

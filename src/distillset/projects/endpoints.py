"""Model endpoints: any OpenAI-compatible server, with presets for the common providers."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlparse

from sqlalchemy import select
from sqlalchemy.orm import Session

from distillset.config import Settings
from distillset.domain import (
    CLEAR,
    MAX_NAME_LENGTH,
    MAX_URL_LENGTH,
    ConflictError,
    InvalidInputError,
    NotFoundError,
    StructuredOutput,
    checked_text,
)
from distillset.projects.key_sources import KeyReference, RemoteKeys
from distillset.projects.keys import (
    UNUSABLE_KEY,
    check_env_name,
    check_key_name,
    read_key,
    sendable_key,
)
from distillset.store.models import ModelEndpoint, Project

if TYPE_CHECKING:
    from distillset.llm.config import EndpointConfig


@dataclass(frozen=True)
class Preset:
    base_url: str
    key_env: str | None
    structured_output: str = "json_object"
    # Whether the provider wants an assistant turn's reasoning sent back in a conversation's
    # history (DeepSeek's thinking models do); the others get the answers only.
    reasoning_in_history: bool = False
    label: str = ""  # the provider's name where the preset's differs


# Base URLs as each provider documents its OpenAI-compatible API.


PRESETS: dict[str, Preset] = {
    "openai": Preset("https://api.openai.com/v1", "OPENAI_API_KEY", "json_schema"),
    "deepseek": Preset(
        "https://api.deepseek.com/v1", "DEEPSEEK_API_KEY", reasoning_in_history=True
    ),
    "openrouter": Preset("https://openrouter.ai/api/v1", "OPENROUTER_API_KEY"),
    "siliconflow": Preset("https://api.siliconflow.cn/v1", "SILICONFLOW_API_KEY"),
    "zhipu": Preset("https://open.bigmodel.cn/api/paas/v4", "ZHIPU_API_KEY"),
    "groq": Preset("https://api.groq.com/openai/v1", "GROQ_API_KEY"),
    "xai": Preset("https://api.x.ai/v1", "XAI_API_KEY"),
    # Volcengine Ark (Doubao models; the model is a model id or an ep-... endpoint id).
    "volcengine": Preset(
        "https://ark.cn-beijing.volces.com/api/v3", "ARK_API_KEY", label="Volcengine Ark (Doubao)"
    ),
    # Alibaba Cloud Model Studio (Bailian) through DashScope's compatible mode.
    "dashscope": Preset(
        "https://dashscope.aliyuncs.com/compatible-mode/v1",
        "DASHSCOPE_API_KEY",
        label="Alibaba Bailian (DashScope)",
    ),
    # MiniMax documents no response_format: lists are asked for in the prompt.
    "minimax": Preset("https://api.minimax.io/v1", "MINIMAX_API_KEY", "none", label="MiniMax"),
    "302ai": Preset("https://api.302.ai/v1", "AI302_API_KEY", label="302.AI"),
    "ollama": Preset("http://localhost:11434/v1", None),
    "vllm": Preset("http://localhost:8000/v1", None, "json_schema"),
    "llamacpp": Preset("http://localhost:8080/v1", None, "json_schema"),
    "lmstudio": Preset("http://localhost:1234/v1", None, "json_schema"),
}

_RANGES: dict[str, tuple[float, float]] = {
    "temperature": (0.0, 2.0),
    "top_p": (0.0, 1.0),
    "max_tokens": (1, 10_000_000),
    "concurrency": (1, 4096),
    "rpm": (1, 10_000_000),
    "tpm": (1, 10_000_000_000),
    "price_input_per_m": (0.0, 1_000_000.0),
    "price_output_per_m": (0.0, 1_000_000.0),
    "price_cached_input_per_m": (0.0, 1_000_000.0),
    # The share a provider takes off its prices for batched requests (OpenAI: 0.5).
    "batch_discount": (0.0, 0.99),
    # Top-K alternatives asked for with each answer token (0: soft labels off). Servers cap
    # it themselves (vLLM and OpenAI at 20 by default); a request above the cap is refused
    # and the run goes on without soft labels (see `model test`).
    "logprobs": (0, 100),
}
# Limits where 0 reads as "no limit", like CLEAR.
_NO_LIMIT_AT_ZERO = ("rpm", "tpm")
# What CLEAR removes: sampling defaults, limits, prices, the key references (the endpoint
# then uses OPENAI_API_KEY) and the extra body.
ENDPOINT_REMOVABLE = frozenset(
    {*_RANGES, "api_key_env", "api_key_name", "extra_body", "tokenizer"} - {"logprobs"}
)


# An alias appears in URLs (/models/ALIAS) and commands: plain characters only, never a path.
_ALIAS = re.compile(r"[A-Za-z0-9_.\-]{1,64}")
# `project set --question-model none` clears the model, so no endpoint may be called that.
NO_MODEL_WORD = "none"


def check_alias(alias: str) -> str:
    """A new endpoint's alias: 1-64 letters, digits, `_`, `-` or `.`, not `.`, `..` or
    `none`. Aliases stored before this rule keep working; only new ones are checked."""
    if not _ALIAS.fullmatch(alias) or alias in (".", ".."):
        raise InvalidInputError(
            f"invalid model alias {alias!r}: use 1-64 letters, digits, '_', '-' or '.'"
        )
    if alias.lower() == NO_MODEL_WORD:
        raise InvalidInputError(
            f"{alias!r} cannot be a model alias: it means 'no model' in `project set`"
        )
    return alias


def check_base_url(url: str) -> str:
    checked_text("base URL", url.strip(), MAX_URL_LENGTH)
    parsed = urlparse(url.strip())
    if parsed.scheme not in ("http", "https") or not parsed.netloc:
        raise InvalidInputError(f"invalid base URL {url!r}: expected http(s)://host[:port]/path")
    return url.strip().rstrip("/")


def _checked_model(model: str) -> str:
    if not model.strip():
        raise InvalidInputError("give the model name with --model")
    return checked_text("model name", model.strip(), MAX_NAME_LENGTH)


def _checked_tokenizer(name: str | None) -> str | None:
    """The tokenizer an endpoint's token ids belong to (a Hugging Face repo id, a path);
    empty: none named."""
    if name is None or not name.strip():
        return None
    return checked_text("tokenizer name", name.strip(), MAX_NAME_LENGTH)


def _removals_as_none(values: dict[str, Any]) -> dict[str, Any]:
    """CLEAR (and 0 for rpm / tpm) becomes None, which removes the setting, or {} for the
    extra body; only ENDPOINT_REMOVABLE settings may go (temperature 0 stays a real value)."""
    settled = dict(values)
    for key, value in values.items():
        if value is CLEAR or (key in _NO_LIMIT_AT_ZERO and value == 0):
            if key not in ENDPOINT_REMOVABLE:
                raise InvalidInputError(f"{key} cannot be removed, only changed")
            settled[key] = {} if key == "extra_body" else None
    return settled


def _check_ranges(values: dict[str, Any]) -> None:
    k = values.get("logprobs")
    if k is not None and (isinstance(k, bool) or not isinstance(k, int)):
        raise InvalidInputError(f"logprobs takes a whole number of alternatives, got {k!r}")
    for key, value in values.items():
        if value is None or key not in _RANGES:
            continue
        low, high = _RANGES[key]
        if not low <= value <= high:
            raise InvalidInputError(f"{key} must be between {low:g} and {high:g}, got {value}")


def add_endpoint(
    session: Session,
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
    adaptive: bool = True,
    tokenizer: str | None = None,
    reasoning_in_history: bool | None = None,
    remote: RemoteKeys | None = None,
    **limits_and_sampling: Any,
) -> ModelEndpoint:
    """Register an endpoint. The base URL comes from the flag, the preset or OPENAI_BASE_URL.
    ``remote``: the caller came over HTTP, and may choose keys only as key_sources says."""
    alias = check_alias(alias.strip())
    if session.scalar(select(ModelEndpoint.id).where(ModelEndpoint.alias == alias)):
        raise ConflictError(f"a model endpoint named {alias!r} already exists")
    if api_key_env and api_key_name:
        raise InvalidInputError("give --api-key-env or --key-name, not both")
    if api_key_env:
        check_env_name(api_key_env)
    if api_key_name:
        check_key_name(api_key_name)
    chosen = None
    if preset is not None:
        chosen = PRESETS.get(preset.lower())
        if chosen is None:
            raise InvalidInputError(
                f"unknown preset {preset!r}: choose one of {', '.join(sorted(PRESETS))}"
            )
    url = base_url or (chosen.base_url if chosen else None) or os.environ.get("OPENAI_BASE_URL")
    if not url:
        raise InvalidInputError("give --base-url or --preset (or set OPENAI_BASE_URL)")
    model = _checked_model(model)
    structured = structured_output or (chosen.structured_output if chosen else "none")
    if structured not in {s.value for s in StructuredOutput}:
        raise InvalidInputError(
            f"invalid structured output {structured!r}: json_schema, json_object or none"
        )
    unknown = set(limits_and_sampling) - set(_RANGES)
    if unknown:
        raise InvalidInputError(f"unknown endpoint option(s): {', '.join(sorted(unknown))}")
    limits_and_sampling = _removals_as_none(limits_and_sampling)
    _check_ranges(limits_and_sampling)
    reference = KeyReference(
        base_url=check_base_url(url),
        api_key_env=api_key_env or (chosen.key_env if chosen and not api_key_name else None),
        api_key_name=api_key_name,
    )
    if remote is not None:
        remote.check(session, reference, None)
    endpoint = ModelEndpoint(
        alias=alias,
        base_url=reference.base_url,
        model=model,
        preset=preset.lower() if preset else None,
        api_key_env=reference.api_key_env,
        api_key_name=reference.api_key_name,
        structured_output=structured,
        extra_body=extra_body or {},
        stream=stream,
        adaptive=adaptive,
        tokenizer=_checked_tokenizer(tokenizer),
        reasoning_in_history=reasoning_in_history,
        **limits_and_sampling,
    )
    session.add(endpoint)
    session.flush()
    return endpoint


def get_endpoint(session: Session, alias: str) -> ModelEndpoint:
    endpoint = session.scalar(select(ModelEndpoint).where(ModelEndpoint.alias == alias))
    if endpoint is None:
        raise NotFoundError(f"no model endpoint named {alias!r} (see `distillset model list`)")
    return endpoint


def list_endpoints(session: Session) -> list[ModelEndpoint]:
    return list(session.scalars(select(ModelEndpoint).order_by(ModelEndpoint.alias)))


def update_endpoint(
    session: Session, endpoint: ModelEndpoint, *, remote: RemoteKeys | None = None, **changes: Any
) -> ModelEndpoint:
    """Change the settings given (None: leave as is; CLEAR removes an optional one).
    ``remote``: the caller came over HTTP, and may choose keys only as key_sources says."""
    changes = _removals_as_none({k: v for k, v in changes.items() if v is not None})
    # An empty key reference clears it (the endpoint then falls back to OPENAI_API_KEY).
    for reference in ("api_key_env", "api_key_name"):
        if reference in changes and not str(changes[reference]).strip():
            changes[reference] = None
    if changes.get("api_key_env"):
        check_env_name(changes["api_key_env"])
    if changes.get("api_key_name"):
        check_key_name(changes["api_key_name"])
    if "base_url" in changes:
        changes["base_url"] = check_base_url(changes["base_url"])
    if "model" in changes:
        changes["model"] = _checked_model(changes["model"])
    if "tokenizer" in changes:
        changes["tokenizer"] = _checked_tokenizer(changes["tokenizer"])
    if "structured_output" in changes and changes["structured_output"] not in {
        s.value for s in StructuredOutput
    }:
        raise InvalidInputError("structured output must be json_schema, json_object or none")
    _check_ranges(changes)
    allowed = set(_RANGES) | {
        "base_url",
        "model",
        "api_key_env",
        "api_key_name",
        "structured_output",
        "extra_body",
        "stream",
        "adaptive",
        "tokenizer",
        "reasoning_in_history",
    }
    unknown = set(changes) - allowed
    if unknown:
        raise InvalidInputError(f"unknown endpoint option {sorted(unknown)[0]!r}")
    if remote is not None:
        remote.check(session, _reference(endpoint, changes), _reference(endpoint, {}))
    for key, value in changes.items():
        setattr(endpoint, key, value)
    session.flush()
    return endpoint


def key_reference_changes(api_key_env: str | None, api_key_name: str | None) -> dict[str, str]:
    """The `update_endpoint` changes that point an endpoint at a new key: an environment
    variable or a keys-file entry, so setting one clears the other (None: not given)."""
    changes: dict[str, str] = {}
    if api_key_env is not None:
        changes.update(api_key_env=api_key_env, api_key_name="")
    if api_key_name is not None:
        changes.update(api_key_name=api_key_name, api_key_env="")
    return changes


def _reference(endpoint: ModelEndpoint, changes: dict[str, Any]) -> KeyReference:
    """The endpoint's key reference once ``changes`` are made (a new one clears the other)."""
    values = {
        name: changes.get(name, getattr(endpoint, name))
        for name in ("base_url", "api_key_env", "api_key_name")
    }
    return KeyReference(**values)


def remove_endpoint(session: Session, endpoint: ModelEndpoint) -> None:
    session.delete(endpoint)
    session.flush()


def resolve_api_key(settings: Settings, endpoint: ModelEndpoint) -> str | None:
    """The key for a call: keys file entry, else the named env var, else OPENAI_API_KEY.
    A hosted preset without its key refuses: its provider answers nothing without one."""
    if endpoint.api_key_name:
        key = read_key(settings, endpoint.api_key_name)
        if key is None:
            raise NotFoundError(
                f"endpoint {endpoint.alias!r} uses key {endpoint.api_key_name!r}, "
                "which is not in the keys file (run `distillset keys set NAME`)"
            )
        source = f"key {endpoint.api_key_name!r} of the keys file"
    else:
        variable = endpoint.api_key_env or "OPENAI_API_KEY"
        key = os.environ.get(variable) or None
        source = f"environment variable {variable}"
    checked = None if key is None else _checked_key(key, endpoint.alias, source)
    if checked is None and _is_hosted(endpoint):
        raise InvalidInputError(
            f"endpoint {endpoint.alias!r} (preset {endpoint.preset}) needs an API key, and "
            f"{missing_key(endpoint)}: set it, or give a keys-file entry with "
            f"`distillset model set {endpoint.alias} --key-name NAME`"
        )
    return checked


def endpoint_config(endpoint: ModelEndpoint, settings: Settings) -> EndpointConfig:
    """What a call needs of the endpoint, its key resolved (see resolve_api_key)."""
    # Imported here: the llm package loads the HTTP client, which listing endpoints or
    # projects from the CLI should not pay for.
    from distillset.llm.config import EndpointConfig

    api_key = resolve_api_key(settings, endpoint)
    named = bool(endpoint.api_key_env or endpoint.api_key_name)
    return EndpointConfig(
        alias=endpoint.alias,
        base_url=endpoint.base_url.rstrip("/"),
        model=endpoint.model,
        api_key=api_key,
        key_missing=missing_key(endpoint) if api_key is None and named else None,
        temperature=endpoint.temperature,
        max_tokens=endpoint.max_tokens,
        top_p=endpoint.top_p,
        extra_body=dict(endpoint.extra_body or {}),
        structured_output=endpoint.structured_output or "none",
        concurrency=endpoint.concurrency,
        rpm=endpoint.rpm,
        tpm=endpoint.tpm,
        price_input_per_m=endpoint.price_input_per_m,
        price_output_per_m=endpoint.price_output_per_m,
        price_cached_input_per_m=endpoint.price_cached_input_per_m,
        batch_discount=endpoint.batch_discount,
        stream=bool(endpoint.stream),
        adaptive=bool(endpoint.adaptive),
        learned_concurrency=endpoint.learned_concurrency if endpoint.adaptive else None,
        logprobs=endpoint.logprobs or 0,
        tokenizer=endpoint.tokenizer,
        reasoning_in_history=passes_reasoning(endpoint),
    )


def passes_reasoning(endpoint: ModelEndpoint) -> bool:
    """Whether a conversation's history carries the assistant turns' reasoning back to this
    endpoint: its own setting, else what its preset needs (none: the answers only)."""
    if endpoint.reasoning_in_history is not None:
        return bool(endpoint.reasoning_in_history)
    preset = PRESETS.get(endpoint.preset or "")
    return preset is not None and preset.reasoning_in_history


def draft_endpoint_config(
    *, base_url: str | None, preset: str | None, api_key: str | None
) -> EndpointConfig:
    """An endpoint as a form describes it before it is registered: enough to ask its server
    for its models. Only a key typed with it is sent: a key of the environment or the keys
    file goes only where a registered endpoint sends it (see key_sources)."""
    from distillset.llm.config import EndpointConfig

    chosen = PRESETS.get(preset.lower()) if preset else None
    if preset and chosen is None:
        raise InvalidInputError(
            f"unknown preset {preset!r}: choose one of {', '.join(sorted(PRESETS))}"
        )
    url = base_url or (chosen.base_url if chosen else None)
    if not url:
        raise InvalidInputError("give a base URL or a preset to list its models")
    key = None
    if api_key and api_key.strip():
        key = _checked_key(api_key.strip(), "(new)", "the key entered")
    return EndpointConfig(
        alias="(new)", base_url=check_base_url(url).rstrip("/"), model="", api_key=key
    )


def _is_hosted(endpoint: ModelEndpoint) -> bool:
    preset = PRESETS.get(endpoint.preset or "")
    return preset is not None and preset.key_env is not None


def missing_key(endpoint: ModelEndpoint) -> str:
    """Where the endpoint's key was looked for, as a sentence: `... is not set`."""
    if endpoint.api_key_name:
        return f"key {endpoint.api_key_name!r} is not in the keys file"
    return f"environment variable {endpoint.api_key_env or 'OPENAI_API_KEY'} is not set"


def key_warning(settings: Settings, endpoint: ModelEndpoint) -> str | None:
    """A plain warning when the endpoint names a key that is not there (requests then go
    without one); None when the key is found or none is named (a local server)."""
    if not (endpoint.api_key_env or endpoint.api_key_name) or key_is_set(settings, endpoint):
        return None
    hint = f" (run `distillset keys set {endpoint.api_key_name}`)" if endpoint.api_key_name else ""
    return (
        f"endpoint {endpoint.alias!r} has no API key: {missing_key(endpoint)}, "
        f"so its requests are sent without one{hint}"
    )


def project_key_warnings(session: Session, settings: Settings, project_id: int) -> list[str]:
    """The key warnings of a project's question and answer models (each endpoint once):
    said at the start of every run."""
    project = session.get(Project, project_id)
    if project is None:
        return []
    models = (project.question_model, project.answer_model)
    seen = {endpoint.id: endpoint for endpoint in models if endpoint is not None}
    return [w for e in seen.values() if (w := key_warning(settings, e)) is not None]


def _checked_key(key: str, alias: str, source: str) -> str | None:
    """The key to send, or one clear refusal that never shows it (an environment variable
    is checked only here; the keys file refuses such a key when it is set)."""
    sendable = sendable_key(key)
    if sendable is None:
        raise InvalidInputError(
            f"the API key of endpoint {alias!r} ({source}) {UNUSABLE_KEY}: set it again"
        )
    return sendable or None


def remember_learned_limit(session: Session, alias: str, concurrency: int) -> None:
    """Keep the concurrency an endpoint's adaptive limit learned in a run (`model show`)."""
    endpoint = session.scalar(select(ModelEndpoint).where(ModelEndpoint.alias == alias))
    if endpoint is not None and endpoint.adaptive:
        endpoint.learned_concurrency = concurrency


def key_is_set(settings: Settings, endpoint: ModelEndpoint) -> bool:
    try:
        return resolve_api_key(settings, endpoint) is not None
    except (NotFoundError, InvalidInputError):  # missing, or unusable as it is
        return False


def endpoint_as_dict(endpoint: ModelEndpoint, settings: Settings | None = None) -> dict[str, Any]:
    """A listing row: the key reference and whether it is set, never the key."""
    data: dict[str, Any] = {
        "alias": endpoint.alias,
        "base_url": endpoint.base_url,
        "model": endpoint.model,
        "preset": endpoint.preset,
        "api_key_env": endpoint.api_key_env,
        "api_key_name": endpoint.api_key_name,
        "temperature": endpoint.temperature,
        "max_tokens": endpoint.max_tokens,
        "top_p": endpoint.top_p,
        "extra_body": endpoint.extra_body,
        "structured_output": endpoint.structured_output,
        "stream": endpoint.stream,
        "adaptive": endpoint.adaptive,
        # What the adaptive limit learned in the latest run (None: no run learned one yet).
        "learned_concurrency": endpoint.learned_concurrency if endpoint.adaptive else None,
        "logprobs": endpoint.logprobs or 0,
        "tokenizer": endpoint.tokenizer,
        "reasoning_in_history": passes_reasoning(endpoint),
        "concurrency": endpoint.concurrency,
        "rpm": endpoint.rpm,
        "tpm": endpoint.tpm,
        "price_input_per_m": endpoint.price_input_per_m,
        "price_output_per_m": endpoint.price_output_per_m,
        "price_cached_input_per_m": endpoint.price_cached_input_per_m,
        "batch_discount": endpoint.batch_discount,
    }
    if settings is not None:
        data["key_set"] = key_is_set(settings, endpoint)
    return data

"""Which tokenizer a teacher's token ids belong to, as far as its server says.

A trainer distilling from soft labels needs the student to share the teacher's tokenizer (or
to map between them). The record keeps what is known: the model the endpoint names, the
tokenizer the user named for it (`--tokenizer`, e.g. a Hugging Face repo id), the model that
answered, and what the server reports of itself: vLLM's `/v1/models` gives the served model's
`root` (the repository or path it was loaded from), llama.cpp's gives the GGUF path and the
vocabulary size, and its `/props` the model path again.
"""

from __future__ import annotations

import json
from typing import Any

from distillset.llm.config import EndpointConfig
from distillset.llm.redact import Redact
from distillset.llm.transport import Transport, TransportError

# What is kept of a server's self-description, each value a short text or a number.
_MODEL_FIELDS = {"id": "id", "root": "root", "owned_by": "owned_by"}
_META_FIELDS = {"n_vocab": "vocab_size", "vocab_type": "vocab_type"}
_PROPS_FIELDS = {"model_path": "model_path"}
MAX_VALUE_CHARS = 300


def _json(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return None


def _kept(source: Any, names: dict[str, str], redact: Redact) -> dict[str, Any]:
    if not isinstance(source, dict):
        return {}
    kept: dict[str, Any] = {}
    for name, label in names.items():
        value = source.get(name)
        if isinstance(value, str) and value:
            kept[label] = redact(value[:MAX_VALUE_CHARS])
        elif isinstance(value, int) and not isinstance(value, bool):
            kept[label] = value
    return kept


def _served_model(body: Any, model: str) -> Any:
    """The `/v1/models` entry of the endpoint's model, or the only one there is."""
    data = body.get("data") if isinstance(body, dict) else None
    if not isinstance(data, list):
        return None
    entries = [entry for entry in data if isinstance(entry, dict)]
    for entry in entries:
        if entry.get("id") == model:
            return entry
    return entries[0] if len(entries) == 1 else None


async def _get(transport: Transport, endpoint: EndpointConfig, url: str) -> Any:
    try:
        reply = await transport.get(endpoint, url)
    except TransportError:
        return None
    return _json(reply.text) if reply.status == 200 else None


async def server_identity(
    transport: Transport, endpoint: EndpointConfig, redact: Redact
) -> dict[str, Any]:
    """What the server reports of the model behind ``endpoint`` ({} when it reports nothing:
    any failure here only leaves the identity shorter)."""
    found: dict[str, Any] = {}
    entry = _served_model(
        await _get(transport, endpoint, f"{endpoint.base_url}/models"), endpoint.model
    )
    found.update(_kept(entry, _MODEL_FIELDS, redact))
    found.update(
        _kept(entry.get("meta") if isinstance(entry, dict) else None, _META_FIELDS, redact)
    )
    if endpoint.base_url.endswith("/v1"):  # llama.cpp serves /props beside /v1, not under it
        props = await _get(transport, endpoint, f"{endpoint.base_url.removesuffix('/v1')}/props")
        found.update(_kept(props, _PROPS_FIELDS, redact))
    return found


def tokenizer_identity(
    endpoint: EndpointConfig, model: str | None, server: dict[str, Any]
) -> dict[str, Any]:
    """The identity a record's soft labels carry (see the module's docstring)."""
    return {
        "endpoint_model": endpoint.model,
        "tokenizer": endpoint.tokenizer,
        "model": model,
        "server": server,
    }

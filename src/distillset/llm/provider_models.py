"""The models a provider offers, from its OpenAI-compatible `GET /models`: what an endpoint's
settings offer to choose from."""

from __future__ import annotations

import json

from distillset.domain import ModelCallError
from distillset.llm.config import EndpointConfig
from distillset.llm.redact import redactor
from distillset.llm.transport import HttpTransport, Transport, TransportError

LIST_TIMEOUT = 15.0
# A provider's list is a few hundred ids at most; more is not a model list.
MAX_MODELS = 5000
MAX_ERROR_CHARS = 300


def _ids(text: str) -> list[str] | None:
    try:
        body = json.loads(text)
    except ValueError:
        return None
    data = body.get("data") if isinstance(body, dict) else None
    if not isinstance(data, list):
        return None
    found = {e["id"] for e in data if isinstance(e, dict) and isinstance(e.get("id"), str)}
    return sorted(found)[:MAX_MODELS]


async def provider_models(
    endpoint: EndpointConfig, *, timeout: float = LIST_TIMEOUT, transport: Transport | None = None
) -> list[str]:
    """The model ids the server lists, sorted; ModelCallError saying why when it lists none
    (unreachable, a refusal such as a wrong key, a reply that is not a model list)."""
    url = f"{endpoint.base_url.rstrip('/')}/models"
    redact = redactor(endpoint.api_key)
    own = transport is None
    sender = transport or HttpTransport(1, timeout)
    try:
        reply = await sender.get(endpoint, url)
    except TransportError as exc:
        raise ModelCallError(redact(f"{url}: {exc}")) from None
    finally:
        if own:
            await sender.aclose()
    if reply.status != 200:
        body = " ".join(reply.text.split())[:MAX_ERROR_CHARS]
        raise ModelCallError(redact(f"{url} answered HTTP {reply.status}: {body}"), reply.status)
    ids = _ids(reply.text)
    if ids is None:
        raise ModelCallError(f'{url} did not answer with a model list ({{"data": [...]}})')
    return ids

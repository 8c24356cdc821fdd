"""Model endpoints: register, list, edit, remove. Keys show only as set / not set."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from distillset import projects
from distillset.llm import provider_models
from distillset.projects import RemoteKeys
from distillset.web.api import _generation as generation
from distillset.web.deps import AppSettings, AppStore, DbSession
from distillset.web.schemas import EndpointCreate, EndpointFields

router = APIRouter(prefix="/endpoints", tags=["endpoints"])


@router.get("")
def list_endpoints(session: DbSession, settings: AppSettings) -> list[dict[str, Any]]:
    return [projects.endpoint_as_dict(e, settings) for e in projects.list_endpoints(session)]


@router.get("/presets")
def list_presets() -> dict[str, dict[str, Any]]:
    return {
        name: {
            "base_url": p.base_url,
            "key_env": p.key_env,
            "structured_output": p.structured_output,
            "label": p.label or name,
        }
        for name, p in projects.PRESETS.items()
    }


@router.post("", status_code=201)
def add_endpoint(body: EndpointCreate, session: DbSession, settings: AppSettings) -> dict[str, Any]:
    fields = body.model_dump(exclude_none=True)
    alias = fields.pop("alias")
    remote = RemoteKeys.taking_key(settings, fields)
    endpoint = projects.add_endpoint(session, alias, remote=remote, **fields)
    return projects.endpoint_as_dict(endpoint, settings)


@router.get("/{alias}")
def get_endpoint(alias: str, session: DbSession, settings: AppSettings) -> dict[str, Any]:
    return projects.endpoint_as_dict(projects.get_endpoint(session, alias), settings)


@router.patch("/{alias}")
def update_endpoint(
    alias: str, body: EndpointFields, session: DbSession, settings: AppSettings
) -> dict[str, Any]:
    endpoint = projects.get_endpoint(session, alias)
    changes = body.changes()
    remote = RemoteKeys.taking_key(settings, changes)
    projects.update_endpoint(session, endpoint, remote=remote, **changes)
    return projects.endpoint_as_dict(endpoint, settings)


@router.delete("/{alias}")
def remove_endpoint(alias: str, session: DbSession) -> dict[str, str]:
    projects.remove_endpoint(session, projects.get_endpoint(session, alias))
    return {"deleted": alias}


@router.post("/{alias}/test")
async def test_endpoint(alias: str, store: AppStore, settings: AppSettings) -> dict[str, object]:
    """Send one small request to the endpoint; says whether it answered (never the key)."""
    return await generation.test_endpoint(store, settings, alias)


@router.get("/{alias}/models")
async def endpoint_models(alias: str, store: AppStore, settings: AppSettings) -> dict[str, Any]:
    """The models the endpoint's server lists at its `/models` (asked with its own key);
    502 with the reason when it lists none."""
    with store.session() as session:
        endpoint = projects.endpoint_config(projects.get_endpoint(session, alias), settings)
    return {"alias": alias, "models": await provider_models(endpoint)}

"""Pages: a project's settings, its model endpoints, and its prompt templates."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response

from distillset import projects as project_service
from distillset import prompts
from distillset.domain import LANGUAGES
from distillset.projects import RemoteKeys
from distillset.web.api import _generation as generation
from distillset.web.api.prompts import prompt_payload
from distillset.web.deps import AppSettings, AppStore, DbSession, project_by_id
from distillset.web.pages.common import message, render
from distillset.web.pages.forms import parse_form
from distillset.web.schemas import (
    EndpointCreate,
    EndpointFields,
    MultiTurnUpdate,
    ProjectUpdate,
    PromptOverride,
    RowId,
)

# What an emptied input removes: whatever the services let a setting go without.
ENDPOINT_CLEARABLE = project_service.ENDPOINT_REMOVABLE
PROJECT_CLEARABLE = project_service.PROJECT_REMOVABLE

router = APIRouter(prefix="/projects/{project_id}")


def _settings_context(session: DbSession, settings: AppSettings, project_id: int) -> dict[str, Any]:
    project = project_by_id(session, project_id)
    endpoints = [
        project_service.endpoint_as_dict(e, settings)
        for e in project_service.list_endpoints(session)
    ]
    return {
        "project": project,
        "active": "settings",
        "endpoints": endpoints,
        "languages": LANGUAGES,
        "presets": [
            (name, preset.label or name) for name, preset in sorted(project_service.PRESETS.items())
        ],
        "multi_turn": project_service.multi_turn_setting(session, project_id),
    }


@router.get("/settings")
def settings_page(
    project_id: RowId, request: Request, session: DbSession, settings: AppSettings
) -> Response:
    return render(request, "settings.html", **_settings_context(session, settings, project_id))


@router.post("/settings")
async def save_settings(project_id: RowId, request: Request, session: DbSession) -> Response:
    project = project_by_id(session, project_id)
    # An emptied limit means no limit; an emptied prompt means "use the default".
    body = parse_form(ProjectUpdate, await request.form(), clearable=PROJECT_CLEARABLE)
    project_service.update_project(session, project, **body.changes())
    return message(request, "Settings saved.")


# An emptied text of the multi-turn setting removes it (the user model: the question model).
MULTI_TURN_TEXTS = frozenset(
    {"scenario", "user_role", "assistant_role", "system_prompt", "user_model"}
)


@router.post("/settings/multi-turn")
async def save_multi_turn(project_id: RowId, request: Request, session: DbSession) -> Response:
    project = project_by_id(session, project_id)
    body = parse_form(MultiTurnUpdate, await request.form(), keep_empty=MULTI_TURN_TEXTS)
    project_service.update_multi_turn_setting(session, project, **body.changes())
    return message(request, "Multi-turn setting saved.")


@router.post("/endpoints")
async def add_endpoint(
    project_id: RowId, request: Request, session: DbSession, settings: AppSettings
) -> Response:
    body = parse_form(EndpointCreate, await request.form())
    fields = body.model_dump(exclude_none=True)
    remote = RemoteKeys.taking_key(settings, fields)
    project_service.add_endpoint(session, fields.pop("alias"), remote=remote, **fields)
    return render(
        request,
        "_endpoints.html",
        **_settings_context(session, settings, project_id),
        fragment=True,
        message=f"Endpoint {body.alias} added.",
    )


@router.post("/endpoints/{alias}")
async def edit_endpoint(
    project_id: RowId, alias: str, request: Request, session: DbSession, settings: AppSettings
) -> Response:
    endpoint = project_service.get_endpoint(session, alias)
    body = parse_form(
        EndpointFields,
        await request.form(),
        clearable=ENDPOINT_CLEARABLE,
    )
    changes = body.changes()
    remote = RemoteKeys.taking_key(settings, changes)
    project_service.update_endpoint(session, endpoint, remote=remote, **changes)
    return render(
        request,
        "_endpoints.html",
        **_settings_context(session, settings, project_id),
        fragment=True,
        message=f"Endpoint {alias} saved.",
    )


@router.post("/endpoints/{alias}/delete")
def delete_endpoint(
    project_id: RowId, alias: str, request: Request, session: DbSession, settings: AppSettings
) -> Response:
    project_service.remove_endpoint(session, project_service.get_endpoint(session, alias))
    return render(
        request,
        "_endpoints.html",
        **_settings_context(session, settings, project_id),
        fragment=True,
        message=f"Endpoint {alias} removed.",
    )


def _prompts_fragment(
    request: Request, session: DbSession, project_id: int, note: str | None = None
) -> Response:
    project = project_by_id(session, project_id)
    rows = [prompt_payload(prompts.get_prompt(session, project, kind)) for kind in prompts.KINDS]
    return render(request, "_prompts.html", project=project, prompts=rows, message=note)


@router.get("/prompts")
def prompts_fragment(project_id: RowId, request: Request, session: DbSession) -> Response:
    return _prompts_fragment(request, session, project_id)


@router.post("/prompts/{kind}")
async def override_prompt(
    project_id: RowId, kind: str, request: Request, session: DbSession
) -> Response:
    body = parse_form(PromptOverride, await request.form())
    prompts.set_prompt(session, project_by_id(session, project_id), kind, body.template)
    return _prompts_fragment(request, session, project_id, f"Prompt {kind} saved.")


@router.post("/prompts/{kind}/reset")
def reset_prompt(project_id: RowId, kind: str, request: Request, session: DbSession) -> Response:
    prompts.reset_prompt(session, project_by_id(session, project_id), kind)
    return _prompts_fragment(request, session, project_id, f"Prompt {kind} reset to the default.")


@router.post("/endpoints/{alias}/test")
async def test_endpoint(
    project_id: RowId, alias: str, request: Request, store: AppStore, settings: AppSettings
) -> Response:
    result = await generation.test_endpoint(store, settings, alias)
    return render(request, "_endpoint_test.html", result=result)

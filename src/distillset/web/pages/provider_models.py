"""Fragments: the models a provider offers (its `/models`), for the endpoint forms to offer
as choices for their Model field."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request, Response

from distillset import projects as project_service
from distillset.llm import provider_models
from distillset.web.deps import AppSettings, DbSession, project_by_id
from distillset.web.pages.common import render
from distillset.web.schemas import RowId

router = APIRouter(prefix="/projects/{project_id}/provider-models")


@router.post("")
async def draft_models(
    project_id: RowId,
    request: Request,
    session: DbSession,
    base_url: Annotated[str, Form(max_length=2000)] = "",
    preset: Annotated[str, Form(max_length=50)] = "",
    api_key: Annotated[str, Form(max_length=5000)] = "",
    list_id: Annotated[str, Form(pattern=r"^[a-z0-9-]{1,60}$")] = "add-endpoint-model-list",
) -> Response:
    """The add form's models: its base URL (or preset's) with only the key typed in it."""
    project_by_id(session, project_id)
    endpoint = project_service.draft_endpoint_config(
        base_url=base_url.strip() or None, preset=preset or None, api_key=api_key or None
    )
    models = await provider_models(endpoint)
    return render(request, "_provider_models.html", models=models, list_id=list_id)


@router.post("/{alias}")
async def endpoint_models(
    project_id: RowId,
    alias: str,
    request: Request,
    session: DbSession,
    settings: AppSettings,
    list_id: Annotated[str, Form(pattern=r"^[a-z0-9-]{1,60}$")] = "model-list",
) -> Response:
    """A registered endpoint's models, asked with its own key."""
    project_by_id(session, project_id)
    endpoint = project_service.endpoint_config(
        project_service.get_endpoint(session, alias), settings
    )
    models = await provider_models(endpoint)
    return render(request, "_provider_models.html", models=models, list_id=list_id)

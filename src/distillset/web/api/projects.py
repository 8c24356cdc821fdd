"""Projects: list, create, read, change settings, delete."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from distillset import projects as service
from distillset.web.deps import DbSession, project_by_id
from distillset.web.schemas import ProjectCreate, ProjectUpdate, RowId

router = APIRouter(prefix="/projects", tags=["projects"])


def project_payload(session: DbSession, project_id: int) -> dict[str, Any]:
    project = project_by_id(session, project_id)
    return {**service.project_as_dict(project), "stats": service.project_stats(session, project.id)}


@router.get("")
def list_projects(session: DbSession) -> list[dict[str, Any]]:
    return [service.project_as_dict(project) for project in service.list_projects(session)]


@router.post("", status_code=201)
def create_project(body: ProjectCreate, session: DbSession) -> dict[str, Any]:
    project = service.create_project(
        session, body.name, topic=body.topic, language=body.language, description=body.description
    )
    return project_payload(session, project.id)


@router.get("/{project_id}")
def get_project(project_id: RowId, session: DbSession) -> dict[str, Any]:
    return project_payload(session, project_id)


@router.patch("/{project_id}")
def update_project(project_id: RowId, body: ProjectUpdate, session: DbSession) -> dict[str, Any]:
    project = project_by_id(session, project_id)
    service.update_project(session, project, **body.changes())
    return project_payload(session, project.id)


@router.delete("/{project_id}")
def delete_project(project_id: RowId, session: DbSession) -> dict[str, Any]:
    project = project_by_id(session, project_id)
    stats = service.project_stats(session, project.id)
    service.delete_project(session, project)
    return {"deleted": project_id, **stats}

"""Projects: create, find, list, change settings, delete."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from distillset.domain import (
    CLEAR,
    MAX_DESCRIPTION_LENGTH,
    MAX_LABEL_LENGTH,
    MAX_NAME_LENGTH,
    MAX_PROMPT_LENGTH,
    ConflictError,
    InvalidInputError,
    NotFoundError,
    checked_text,
    unstorable_reason,
)
from distillset.projects.endpoints import NO_MODEL_WORD, get_endpoint
from distillset.prompts import checked_language
from distillset.store.models import Answer, Project, Question, Tag, utc_iso

# Settings a user may change with `project set`, with their validators.
SETTING_LIMITS: dict[str, tuple[float, float]] = {
    "max_concurrency": (1, 1024),
    "requests_per_minute": (1, 1_000_000),
    "tokens_per_minute": (1, 1_000_000_000),
    "max_retries": (0, 20),
    "request_timeout": (1, 3600),
}
# Limits a project may go without: CLEAR or 0 removes them (no limit).
REMOVABLE_LIMITS = ("requests_per_minute", "tokens_per_minute")
# What CLEAR removes: those limits, the models, the description and the answer system prompt.
PROJECT_REMOVABLE = frozenset(
    {
        *REMOVABLE_LIMITS,
        "question_model",
        "answer_model",
        "description",
        "answer_system_prompt",
        "max_cost",
    }
)


def _checked_setting(key: str, value: Any) -> Any:
    """A limit within its range; None for a removable limit given as CLEAR or 0."""
    if key in REMOVABLE_LIMITS and (value is CLEAR or value == 0):
        return None
    low, high = SETTING_LIMITS[key]
    if not low <= value <= high:
        raise InvalidInputError(f"{key} must be between {low:g} and {high:g}")
    return value


# The longest name and topic (the root label of the tree) a project may have.
_LINE_LIMITS = {"name": MAX_NAME_LENGTH, "topic": MAX_LABEL_LENGTH}


def _required_text(key: str, value: str) -> str:
    """A name or topic: one line, never blank, as `project create` requires."""
    text = value.strip()
    if not text:
        raise InvalidInputError(f"a project needs a {key}: it cannot be blank")
    return checked_text(f"project {key}", text, _LINE_LIMITS[key])


def _description(value: str) -> str:
    return checked_text("description", value, MAX_DESCRIPTION_LENGTH, single_line=False)


def _budget(value: Any) -> float | None:
    """The budget of the tasks started without one: above 0; CLEAR or 0 removes it."""
    if value is CLEAR or value == 0:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
        raise InvalidInputError(f"the budget (max_cost) must be a number above 0, got {value!r}")
    return float(value)


def _system_prompt(value: str) -> str | None:
    text = checked_text("answer system prompt", value, MAX_PROMPT_LENGTH, single_line=False)
    return text or None


def create_project(
    session: Session,
    name: str,
    *,
    topic: str | None = None,
    language: str = "en",
    description: str = "",
) -> Project:
    name = _required_text("name", name)
    topic = _required_text("topic", topic or name)
    if session.scalar(select(Project.id).where(Project.name == name)) is not None:
        raise ConflictError(f"a project named {name!r} already exists")
    project = Project(
        name=name,
        topic=topic,
        language=checked_language(language),
        description=_description(description),
    )
    session.add(project)
    session.flush()
    return project


def get_project(session: Session, name_or_id: str | int) -> Project:
    if isinstance(name_or_id, int):
        project = session.get(Project, name_or_id)
    elif unstorable_reason(name_or_id) is not None:
        project = None  # no name holds NUL or ESC (and PostgreSQL refuses NUL in a query)
    else:
        project = session.scalar(select(Project).where(Project.name == name_or_id))
    if project is None:
        if isinstance(name_or_id, int):
            raise NotFoundError(f"no project with id {name_or_id}")
        raise NotFoundError(f"no project named {name_or_id!r}")
    return project


def list_projects(session: Session) -> list[Project]:
    return list(session.scalars(select(Project).order_by(Project.name)))


def update_project(session: Session, project: Project, **changes: Any) -> Project:
    """Change settings; ``None`` values are ignored, CLEAR removes a PROJECT_REMOVABLE one (0 does
    too for the rpm/tpm limits), models are given by alias ("" or "none" unsets one)."""
    for key, value in changes.items():
        if value is None:
            continue
        if value is CLEAR and key not in PROJECT_REMOVABLE:
            raise InvalidInputError(f"{key} cannot be removed, only changed")
        if key in ("question_model", "answer_model"):
            # "" or "none" unsets the model (no endpoint may be called "none").
            unset = value is CLEAR or value.strip().lower() in ("", NO_MODEL_WORD)
            # The relationship, not its id: the project reads back right in this session.
            setattr(project, key, None if unset else get_endpoint(session, value))
        elif key == "language":
            project.language = checked_language(value)
        elif key in SETTING_LIMITS:
            setattr(project, key, _checked_setting(key, value))
        elif key == "topic":
            project.topic = _required_text(key, value)
        elif key == "description":
            project.description = "" if value is CLEAR else _description(value)
        elif key == "max_cost":
            project.max_cost = _budget(value)
        elif key == "answer_system_prompt":
            project.answer_system_prompt = None if value is CLEAR else _system_prompt(value)
        elif key == "name":
            _rename(session, project, _required_text(key, value))
        else:
            raise InvalidInputError(f"unknown project setting {key!r}")
    session.flush()
    return project


def _rename(session: Session, project: Project, name: str) -> None:
    if session.scalar(select(Project.id).where(Project.name == name, Project.id != project.id)):
        raise ConflictError(f"a project named {name!r} already exists")
    project.name = name


def delete_project(session: Session, project: Project) -> None:
    session.delete(project)
    session.flush()


def project_stats(session: Session, project_id: int) -> dict[str, int]:
    def count(stmt: Any) -> int:
        return int(session.scalar(stmt) or 0)

    return {
        "tags": count(select(func.count(Tag.id)).where(Tag.project_id == project_id)),
        "questions": count(
            select(func.count(Question.id)).where(Question.project_id == project_id)
        ),
        "answers": count(select(func.count(Answer.id)).where(Answer.project_id == project_id)),
    }


def project_as_dict(project: Project) -> dict[str, Any]:
    return {
        "id": project.id,
        "name": project.name,
        "topic": project.topic,
        "description": project.description,
        "language": project.language,
        "question_model": project.question_model.alias if project.question_model else None,
        "answer_model": project.answer_model.alias if project.answer_model else None,
        "max_concurrency": project.max_concurrency,
        "requests_per_minute": project.requests_per_minute,
        "tokens_per_minute": project.tokens_per_minute,
        "max_retries": project.max_retries,
        "request_timeout": project.request_timeout,
        "max_cost": project.max_cost,
        "answer_system_prompt": project.answer_system_prompt,
        "created_at": utc_iso(project.created_at),
    }

"""A detached snapshot of what the distillation steps need from a project.

Built in one short session so the steps never hold a database transaction across a model call.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

from sqlalchemy.orm import Session

from distillset.config import Settings
from distillset.domain import PATH_SEPARATOR, SettingRequired
from distillset.llm import EndpointConfig, LimitSettings
from distillset.projects.conversation_setting import MultiTurnSetting, multi_turn_setting
from distillset.projects.endpoints import endpoint_config, get_endpoint
from distillset.prompts import project_templates
from distillset.store.models import ModelEndpoint, Project


@dataclass(frozen=True)
class DistillContext:
    project_id: int
    project_name: str
    topic: str
    language: str
    limits: LimitSettings
    templates: dict[str, str]
    answer_system_prompt: str | None
    question_endpoint: EndpointConfig | None
    answer_endpoint: EndpointConfig | None
    # Multi-turn conversations: the project's setting and the model that plays the user
    # (its own, else the question model).
    multi_turn: MultiTurnSetting = MultiTurnSetting()
    user_endpoint: EndpointConfig | None = None

    @property
    def user_model(self) -> EndpointConfig:
        if self.user_endpoint is None:
            raise SettingRequired(
                f"project {self.project_name!r} has no model to play the user in conversations",
                setting="question_model",
                cli_fix=f"set a question model, or one with `distillset project set "
                f"{self.project_name!r} --user-model ALIAS`",
            )
        return self.user_endpoint

    @property
    def question_model(self) -> EndpointConfig:
        if self.question_endpoint is None:
            raise _unset(self.project_name, "question")
        return self.question_endpoint

    @property
    def answer_model(self) -> EndpointConfig:
        if self.answer_endpoint is None:
            raise _unset(self.project_name, "answer")
        return self.answer_endpoint


def _unset(project_name: str, role: str) -> SettingRequired:
    return SettingRequired(
        f"project {project_name!r} has no {role} model",
        setting=f"{role}_model",
        cli_fix=f"set it with `distillset project set {project_name!r} --{role}-model ALIAS`",
    )


def _endpoint(endpoint: ModelEndpoint | None, settings: Settings) -> EndpointConfig | None:
    return None if endpoint is None else endpoint_config(endpoint, settings)


def load_context(
    session: Session,
    project: Project,
    settings: Settings,
    *,
    topic: str | None = None,
    need_question_model: bool = False,
    need_answer_model: bool = False,
    need_user_model: bool = False,
) -> DistillContext:
    """Snapshot the project; refuse up front when a model the job needs is not set."""
    multi_turn = multi_turn_setting(session, project.id)
    user = project.question_model
    if multi_turn.user_model is not None:
        user = get_endpoint(session, multi_turn.user_model)
    context = DistillContext(
        project_id=project.id,
        project_name=project.name,
        topic=(topic or project.topic).strip(),
        language=project.language,
        limits=LimitSettings.from_project(project),
        templates=project_templates(session, project),
        answer_system_prompt=project.answer_system_prompt,
        question_endpoint=_endpoint(project.question_model, settings),
        answer_endpoint=_endpoint(project.answer_model, settings),
        multi_turn=multi_turn,
        user_endpoint=_endpoint(user, settings),
    )
    if need_question_model:
        context.question_model  # noqa: B018 - raises the clear "set it with" error
    if need_answer_model:
        context.answer_model  # noqa: B018
    if need_user_model:
        context.user_model  # noqa: B018
    return context


def with_temperature(context: DistillContext, temperature: float | None) -> DistillContext:
    """The context with its answer endpoint sampling at a job's temperature, if it names
    one: the requests, their cache keys and the stored sampling all say so."""
    if temperature is None or context.answer_endpoint is None:
        return context
    return replace(
        context, answer_endpoint=replace(context.answer_endpoint, temperature=temperature)
    )


def full_path(context: DistillContext, labels: Sequence[str]) -> str:
    """The path as the model sees it: always from the topic down."""
    return PATH_SEPARATOR.join([context.topic, *labels])

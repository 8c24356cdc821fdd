"""A project's multi-turn setting: the scenario, the roles, the rounds, the system prompt its
conversations carry, and the model that plays the user (the question model by default)."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from sqlalchemy.orm import Session

from distillset.domain import (
    CLEAR,
    MAX_PROMPT_LENGTH,
    InvalidInputError,
    checked_text,
)
from distillset.projects.endpoints import NO_MODEL_WORD, get_endpoint
from distillset.store.models import ConversationSetting, Project

DEFAULT_ROUNDS = 3
ROLE_LIMIT = 200  # the column's width
ROUNDS_RANGE = (1, 20)
# What a conversation assumes where the project names no roles.
DEFAULT_USER_ROLE = "a curious learner"
DEFAULT_ASSISTANT_ROLE = "an expert teacher"
# Settings `conversation_setting` takes, as the interfaces name them.
SETTING_NAMES = (
    "scenario",
    "user_role",
    "assistant_role",
    "rounds",
    "system_prompt",
    "user_model",
)


@dataclass(frozen=True)
class MultiTurnSetting:
    """What a conversation is made under; stored with each conversation it makes."""

    scenario: str | None = None
    user_role: str | None = None
    assistant_role: str | None = None
    rounds: int = DEFAULT_ROUNDS
    system_prompt: str | None = None
    user_model: str | None = None  # an endpoint alias; None: the question model

    @property
    def shown_user_role(self) -> str:
        return self.user_role or DEFAULT_USER_ROLE

    @property
    def shown_assistant_role(self) -> str:
        return self.assistant_role or DEFAULT_ASSISTANT_ROLE

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> MultiTurnSetting:
        known = {name: data[name] for name in cls.__dataclass_fields__ if name in data}
        return cls(**known)


def multi_turn_setting(session: Session, project_id: int) -> MultiTurnSetting:
    """The project's setting, or the defaults where it has none."""
    row = session.get(ConversationSetting, project_id)
    if row is None:
        return MultiTurnSetting()
    return MultiTurnSetting(
        scenario=row.scenario,
        user_role=row.user_role,
        assistant_role=row.assistant_role,
        rounds=row.rounds,
        system_prompt=row.system_prompt,
        user_model=row.user_model.alias if row.user_model is not None else None,
    )


def _text(name: str, value: Any, limit: int, *, single_line: bool) -> str | None:
    if value is CLEAR:
        return None
    return checked_text(name, str(value), limit, single_line=single_line).strip() or None


def update_multi_turn_setting(
    session: Session, project: Project, **changes: Any
) -> MultiTurnSetting:
    """Change the settings given (None: leave as is; CLEAR or "" removes a text; the user
    model by alias, "" or "none": the question model again)."""
    unknown = set(changes) - set(SETTING_NAMES)
    if unknown:
        raise InvalidInputError(f"unknown multi-turn setting {sorted(unknown)[0]!r}")
    row = session.get(ConversationSetting, project.id)
    if row is None:
        row = ConversationSetting(project_id=project.id, rounds=DEFAULT_ROUNDS)
        session.add(row)
    for key, value in changes.items():
        if value is None:
            continue
        if key == "rounds":
            low, high = ROUNDS_RANGE
            if value is CLEAR or not isinstance(value, int) or not low <= value <= high:
                raise InvalidInputError(f"rounds must be between {low} and {high}, got {value}")
            row.rounds = value
        elif key == "user_model":
            unset = value is CLEAR or str(value).strip().lower() in ("", NO_MODEL_WORD)
            row.user_model = None if unset else get_endpoint(session, str(value).strip())
        elif key in ("user_role", "assistant_role"):
            role = key.replace("_", " ")
            setattr(row, key, _text(role, value, ROLE_LIMIT, single_line=True))
        else:
            name = key.replace("_", " ")
            setattr(row, key, _text(name, value, MAX_PROMPT_LENGTH, single_line=False))
    session.flush()
    return multi_turn_setting(session, project.id)

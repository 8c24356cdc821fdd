"""Settings: where data lives and how to reach the database.

Read from environment variables (``DISTILLSET_*``) when asked for, never at import time.
"""

from __future__ import annotations

from pathlib import Path

from platformdirs import user_data_dir
from pydantic import Field, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

from distillset.domain import InvalidInputError

ENV_PREFIX = "DISTILLSET_"


def _default_home() -> Path:
    return Path(user_data_dir("distillset", appauthor=False))


class Settings(BaseSettings):
    """Runtime settings of one distillset installation."""

    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, extra="ignore")

    home: Path = Field(default_factory=_default_home)
    database_url: str | None = None
    keys_file: Path | None = None
    token: str | None = None
    # A task whose heartbeat is older than this is shown as interrupted.
    heartbeat_stale_seconds: float = 30.0
    # Batch mode: how long requests wait for more to join their batch before it is
    # submitted, the first and the longest pause between two reads of a batch, and how
    # large a batch grows (the provider's limits: OpenAI takes 50,000 lines, 200 MB).
    batch_flush_seconds: float = Field(default=30.0, ge=0)
    batch_poll_seconds: float = Field(default=15.0, gt=0)
    batch_poll_max_seconds: float = Field(default=300.0, gt=0)
    batch_max_lines: int = Field(default=50_000, ge=1)
    batch_max_bytes: int = Field(default=190 * 1024 * 1024, ge=1024)
    # The web app leaves the tasks it starts to the workers (`serve --queue`).
    queue_tasks: bool = False

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{self.home / 'distillset.sqlite3'}"

    @property
    def resolved_keys_file(self) -> Path:
        return self.keys_file or self.home / "keys.json"


def load_settings(**overrides: object) -> Settings:
    """Build settings from the environment, with explicit overrides taking precedence.
    A value of the wrong type is one clear error naming the variable (never its value)."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        problems = "; ".join(f"{_variable(error['loc'])}: {error['msg']}" for error in exc.errors())
        raise InvalidInputError(f"invalid setting: {problems}") from None


def _variable(location: tuple[int | str, ...]) -> str:
    """The environment variable a validation error is about."""
    return f"{ENV_PREFIX}{str(location[0]).upper()}" if location else "a DISTILLSET_ variable"

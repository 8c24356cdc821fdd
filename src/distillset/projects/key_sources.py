"""Which keys a remote caller (the web app, the REST API) may make the server send, and where.

The machine's owner, at the CLI, may name any environment variable. A caller over HTTP could
otherwise name any secret of the server's environment (or distillset's own token) and point
it at a URL of their choosing: for them a key comes only from the keys file, or from a
variable whose name says it holds an API key; and a keys-file key is sent to a new base URL
only when the caller enters the key again.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from distillset.config import Settings
from distillset.domain import InvalidInputError
from distillset.projects.keys import read_key, set_key
from distillset.store.models import ModelEndpoint

API_KEY_SUFFIXES = ("_KEY", "_TOKEN")  # `*_API_KEY` ends in `_KEY` too
OWN_PREFIX = "DISTILLSET_"
DEFAULT_KEY_ENV = "OPENAI_API_KEY"


@dataclass(frozen=True)
class KeyReference:
    """Where an endpoint's key comes from, and where it is sent."""

    base_url: str
    api_key_env: str | None
    api_key_name: str | None


@dataclass(frozen=True)
class RemoteKeys:
    """A change made over HTTP; ``api_key`` is the key entered with it, if any."""

    settings: Settings
    api_key: str | None = field(default=None, repr=False)

    @classmethod
    def taking_key(cls, settings: Settings, fields: dict[str, Any]) -> RemoteKeys:
        """The caller's key entered among the request's ``fields`` (removed from them)."""
        key = fields.pop("api_key", None)
        return cls(settings, key if isinstance(key, str) and key.strip() else None)

    def check(self, session: Session, new: KeyReference, old: KeyReference | None) -> None:
        """Refuse a key source or destination a remote caller may not choose; store an
        entered key (new to the keys file) once everything else is allowed."""
        if new.api_key_name:
            self._check_keys_file(session, new, old)
        elif old is None or _moved(new, old):
            check_remote_env(new.api_key_env or DEFAULT_KEY_ENV)
        if self.api_key is not None and not new.api_key_name:
            raise InvalidInputError("api_key needs api_key_name: the keys-file entry to keep it")

    def _check_keys_file(
        self, session: Session, new: KeyReference, old: KeyReference | None
    ) -> None:
        name = new.api_key_name or ""
        stored = read_key(self.settings, name)
        if self.api_key is not None:
            if stored is None:
                set_key(self.settings, name, self.api_key)
                return
            if self.api_key.strip() == stored:
                return  # entered again: the caller knows it already
            raise InvalidInputError(
                f"the key entered does not match key {name!r} of the keys file "
                f"(the machine's owner replaces it with `distillset keys set {name}`)"
            )
        if old is not None and not _moved(new, old):
            return
        if not _used_with(session, name, new.base_url):
            raise InvalidInputError(
                f"key {name!r} of the keys file is not used with {new.base_url} yet: "
                "enter the key again (api_key) to send it there"
            )


def _moved(new: KeyReference, old: KeyReference) -> bool:
    return new != old


def _used_with(session: Session, name: str, base_url: str) -> bool:
    """True when an endpoint already sends this keys-file key to this base URL."""
    query = select(ModelEndpoint.id).where(
        ModelEndpoint.api_key_name == name, ModelEndpoint.base_url == base_url
    )
    return session.scalar(query.limit(1)) is not None


def check_remote_env(name: str) -> None:
    """An environment variable a remote caller may read a key from (see the module)."""
    upper = name.upper()
    if upper.startswith(OWN_PREFIX) or not upper.endswith(API_KEY_SUFFIXES):
        raise InvalidInputError(
            f"environment variable {name} cannot hold a key set over the web: name one "
            "ending in _API_KEY, _KEY or _TOKEN (not DISTILLSET_*), or use the keys file"
        )

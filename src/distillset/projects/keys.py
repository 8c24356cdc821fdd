"""API keys: kept only in a 0600 keys file or in environment variables, never in the store."""

from __future__ import annotations

import json
import os
import re
import tempfile
from pathlib import Path

from distillset.config import Settings
from distillset.domain import InvalidInputError, NotFoundError

_KEY_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,100}$")
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,99}$")
# Prefixes of common provider keys: a key pasted where a name belongs must not be stored.
_SECRET_PREFIXES = ("sk-", "sk_", "gsk_", "xai-", "hf_", "AIza", "ghp_", "Bearer")
_MAX_NAME_LENGTH = 64


def _looks_like_secret(text: str) -> bool:
    return text.startswith(_SECRET_PREFIXES) or len(text) > _MAX_NAME_LENGTH


def check_key_name(name: str) -> str:
    """A keys-file entry name; the message never repeats the value (it may be a key)."""
    if not _KEY_NAME.match(name) or _looks_like_secret(name):
        raise InvalidInputError(
            "invalid key name: use up to 64 letters, digits, '_', '-' or '.' "
            "(pass the key itself through `distillset keys set NAME`, never as a name)"
        )
    return name


def check_env_name(name: str) -> str:
    """An environment variable name; the message never repeats the value."""
    if not _ENV_NAME.match(name) or _looks_like_secret(name):
        raise InvalidInputError(
            "invalid environment variable name: use letters, digits and '_' "
            "(give the variable's name, e.g. DEEPSEEK_API_KEY, not the key)"
        )
    return name


def _read(path: Path) -> dict[str, str]:
    if not path.exists():
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        # The message names the file, never its content.
        reason = type(exc).__name__
        raise InvalidInputError(f"the keys file {path} is unreadable: {reason}") from exc
    if not isinstance(data, dict):
        raise InvalidInputError(f"the keys file {path} is not a JSON object")
    return {str(k): str(v) for k, v in data.items()}


def _write(path: Path, keys: dict[str, str]) -> None:
    """Write atomically; a folder that cannot hold the file is one clear error."""
    try:
        _write_private(path, keys)
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        if isinstance(exc, FileExistsError):  # from mkdir: a file where a folder belongs
            reason = f"{exc.filename} is not a folder"
        raise InvalidInputError(
            f"cannot write the keys file {path}: {reason} "
            "(set DISTILLSET_KEYS_FILE to a file in a writable folder)"
        ) from None


def _write_private(path: Path, keys: dict[str, str]) -> None:
    """The file is created 0600 so no other user can ever read it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".keys-", suffix=".tmp")
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(keys, handle, indent=2, sort_keys=True)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    os.chmod(path, 0o600)


UNUSABLE_KEY = "holds spaces, control or non-ASCII characters, which no provider's key has"


def sendable_key(value: str) -> str | None:
    """A key as sent in the Authorization header: a pasted line's break or the spaces around
    it dropped. None when what remains holds other spaces or control or non-ASCII
    characters (see UNUSABLE_KEY); the caller says so without ever showing the key."""
    key = value.strip()
    if any(not char.isprintable() or char.isspace() for char in key) or not key.isascii():
        return None
    return key


def set_key(settings: Settings, name: str, value: str) -> None:
    check_key_name(name)
    key = sendable_key(value)
    if key is None:
        raise InvalidInputError(f"the key {UNUSABLE_KEY}: paste it again")
    if not key:
        raise InvalidInputError("the key is empty")
    path = settings.resolved_keys_file
    keys = _read(path)
    keys[name] = key
    _write(path, keys)


def remove_key(settings: Settings, name: str) -> None:
    check_key_name(name)
    path = settings.resolved_keys_file
    keys = _read(path)
    if name not in keys:
        raise NotFoundError(f"no key named {name!r}")
    del keys[name]
    _write(path, keys)


def list_key_names(settings: Settings) -> list[str]:
    return sorted(_read(settings.resolved_keys_file))


def read_key(settings: Settings, name: str) -> str | None:
    return _read(settings.resolved_keys_file).get(name)

"""Taking an endpoint's key out of every text that leaves the gateway.

A server may quote the key back (`your header was Bearer sk-...`), and what it sends is kept
and shown: call rows, errors, task events, CLI output. The key is looked for as written, as a
JSON string writes it (`\\/`, `\\u0073`), and broken by spaces or line breaks (also escaped
ones, `\\n`, as a JSON body or a `repr` shows them), so that no readable copy of it is left.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from typing import Any

MASK = "***"
# Between two characters of the key: spaces and line breaks, raw or escaped. Possessive
# quantifiers, and no match starting inside a run of backslashes, keep a hostile reply
# (long runs of spaces or backslashes) linear to scan.
_GAP = r"(?:\s|\\++[nrt])*+"
# Shorter keys are masked only where they appear whole: a loose match would mask words.
_LOOSE_FROM = 8

Redact = Callable[[str], str]


def _char_pattern(char: str) -> str:
    """One character of the key, as written or JSON-escaped (any depth of escaping)."""
    code = f"{ord(char):04x}"
    return rf"(?:\\*+{re.escape(char)}|\\++[uU]{code[:2]}(?i:{code[2:]}))"


@functools.lru_cache(maxsize=64)
def _pattern(secret: str) -> re.Pattern[str]:
    return re.compile(r"(?<!\\)" + _GAP.join(_char_pattern(char) for char in secret))


def redact(text: str, secret: str | None) -> str:
    """``text`` with every readable copy of ``secret`` replaced by ***."""
    if not secret or not text:
        return text
    text = text.replace(secret, MASK)
    if len(secret) < _LOOSE_FROM:
        return text
    return _pattern(secret).sub(MASK, text)


def redactor(secret: str | None) -> Redact:
    """A one-argument redact for this key (identity when there is no key)."""
    if not secret:
        return _unchanged
    return functools.partial(redact, secret=secret)


def _unchanged(text: str) -> str:
    return text


def redact_values(row: dict[str, Any], redact: Redact) -> dict[str, Any]:
    """Every text value of ``row`` passed through ``redact`` (a call row before it is stored)."""
    return {name: redact(value) if isinstance(value, str) else value for name, value in row.items()}


def redact_exception(exc: BaseException, secret: str | None) -> None:
    """Take the key out of an error's message and of the errors it chains: such an error is
    printed (with --debug, its traceback) and kept as a task's last error."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while secret and current is not None and id(current) not in seen:
        seen.add(id(current))
        current.args = tuple(redact(a, secret) if isinstance(a, str) else a for a in current.args)
        current = current.__cause__ or current.__context__

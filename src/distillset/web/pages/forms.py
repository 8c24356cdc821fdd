"""Turning a submitted HTML form into a validated API body (the same schema as the API)."""

from __future__ import annotations

import json
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError
from starlette.datastructures import FormData

from distillset.domain import InvalidInputError

BodyT = TypeVar("BodyT", bound=BaseModel)
NumberT = TypeVar("NumberT", int, float)

JSON_FIELDS = frozenset({"extra_body"})


def parse_form(
    model: type[BodyT],
    form: FormData,
    *,
    keep_empty: frozenset[str] = frozenset(),
    clearable: frozenset[str] = frozenset(),
) -> BodyT:
    """Empty fields mean "not given", unless named in ``keep_empty`` (there "" is the value)
    or in ``clearable`` (there an emptied field removes the setting: an explicit null)."""
    values: dict[str, Any] = {}
    for name, raw in form.items():
        if not isinstance(raw, str) or name not in model.model_fields:
            continue
        text = raw.strip()
        if not text and name in clearable:
            values[name] = None
            continue
        if not text and name not in keep_empty:
            continue
        if name in JSON_FIELDS:
            try:
                values[name] = json.loads(text) if text else {}
            except ValueError as exc:
                raise InvalidInputError(f"{name} must be a JSON object") from exc
        else:
            values[name] = raw if name in keep_empty else text
    try:
        return model.model_validate(values)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc'])}: {_reason(err['msg'])}" for err in exc.errors()
        )
        raise InvalidInputError(problems) from exc


def _reason(message: str) -> str:
    # A schema's own check (a ValueError) reads as its sentence, without pydantic's prefix.
    return message.removeprefix("Value error, ")


def optional_number(name: str, text: str, kind: type[NumberT]) -> NumberT | None:
    """A number typed in a form field that may be left empty."""
    if not text.strip():
        return None
    try:
        return kind(text.strip())
    except ValueError as exc:
        raise InvalidInputError(f"{name} must be a number, not {text!r}") from exc

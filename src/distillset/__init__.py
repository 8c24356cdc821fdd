"""distillset: distilled datasets from a teacher model.

`Project` is the notebook API (see `distillset.api`); it is imported on first use so that
importing a small part of the package (the fake server, the domain types) stays fast.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from distillset.domain import (
    ConflictError,
    DistillsetError,
    InvalidInputError,
    ModelCallError,
    NotFoundError,
)

if TYPE_CHECKING:
    from distillset.api import Project
    from distillset.config import Settings, load_settings

__all__ = [
    "ConflictError",
    "DistillsetError",
    "InvalidInputError",
    "ModelCallError",
    "NotFoundError",
    "Project",
    "Settings",
    "load_settings",
]

_LAZY = {"Project": "distillset.api", "Settings": "distillset.config"}
_LAZY["load_settings"] = "distillset.config"


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'distillset' has no attribute {name!r}")
    from importlib import import_module

    value = getattr(import_module(module), name)
    globals()[name] = value
    return value

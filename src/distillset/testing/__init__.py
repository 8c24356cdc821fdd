"""Test support shipped in the package: the fake OpenAI-compatible model server."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from distillset.testing.fake_config import FakeConfig, FakeStats
    from distillset.testing.fake_server import FakeModelBehaviour, FakeModelServer

__all__ = ["FakeConfig", "FakeModelBehaviour", "FakeModelServer", "FakeStats"]


def __getattr__(name: str) -> Any:
    # Imported on first use, so `python -m distillset.testing.fake_server` runs cleanly.
    if name in ("FakeConfig", "FakeStats"):
        from distillset.testing import fake_config

        return getattr(fake_config, name)
    if name in ("FakeModelBehaviour", "FakeModelServer"):
        from distillset.testing import fake_server

        return getattr(fake_server, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

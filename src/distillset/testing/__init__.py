"""Test support shipped in the package: the fake OpenAI-compatible model server."""

from distillset.testing.fake_config import FakeConfig, FakeStats
from distillset.testing.fake_server import FakeModelBehaviour, FakeModelServer

__all__ = ["FakeConfig", "FakeModelBehaviour", "FakeModelServer", "FakeStats"]

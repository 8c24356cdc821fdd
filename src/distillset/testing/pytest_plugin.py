"""Pytest fixtures: `fake_server`, a started FakeModelServer reset before every test."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from distillset.testing.fake_server import FakeModelServer


@pytest.fixture(scope="session")
def _fake_server_session() -> Iterator[FakeModelServer]:
    server = FakeModelServer().start()
    yield server
    server.stop()


@pytest.fixture
def fake_server(_fake_server_session: FakeModelServer) -> FakeModelServer:
    """The fake model on a random free 127.0.0.1 port, with default settings and counters."""
    _fake_server_session.reset()
    return _fake_server_session

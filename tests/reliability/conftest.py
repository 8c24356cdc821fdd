"""Fixtures of the reliability tests (the helpers live in reliability_support.py)."""

from __future__ import annotations

import pytest
from reliability_support import make_project

from distillset.store import Store
from distillset.testing import FakeModelServer


@pytest.fixture
def project(store: Store, fake_server: FakeModelServer) -> str:
    return make_project(store, fake_server.url, max_concurrency=4)

"""PostgreSQL connections the server closed while they sat in the pool are replaced before
use; connections in steady use are not pinged each time."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import create_engine, text

from distillset.store import Store
from distillset.store import db as store_db


def _backend_pid(store: Store) -> int:
    with store.engine.connect() as connection:
        return int(connection.execute(text("SELECT pg_backend_pid()")).scalar_one())


def test_a_connection_closed_by_the_server_while_idle_is_replaced(
    postgres_url: str, store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = _backend_pid(store)  # its connection back in the pool, idle
    admin = create_engine(postgres_url)  # (another pool: not that connection)
    with admin.connect() as other:
        other.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": before})
    admin.dispose()
    monkeypatch.setattr(store_db, "IDLE_PING_SECONDS", 0.0)  # idle long enough: pinged

    after = _backend_pid(store)  # no error: the dead connection was replaced

    assert after != before


def test_a_connection_in_steady_use_is_not_pinged(
    postgres_url: str, store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(store_db, "IDLE_PING_SECONDS", 60.0)
    dialect = store.engine.dialect
    pings: list[object] = []
    real_ping = dialect.do_ping

    def counted_ping(connection: Any) -> bool:
        pings.append(connection)
        return real_ping(connection)

    monkeypatch.setattr(dialect, "do_ping", counted_ping)
    for _ in range(5):
        with store.session() as session:
            assert session.execute(text("SELECT 42")).scalar_one() == 42
    assert pings == []  # one round trip less for each short transaction

"""PostgreSQL connections the server closed while they sat in the pool (a restart, an idle
timeout, an administrator) are replaced before use, even one used a moment ago: a write that
fails on a dead connection would lose a model's reply that was already paid for."""

from __future__ import annotations

from sqlalchemy import create_engine, text

from distillset.store import Store


def _backend_pid(store: Store) -> int:
    with store.engine.connect() as connection:
        return int(connection.execute(text("SELECT pg_backend_pid()")).scalar_one())


def test_a_connection_closed_by_the_server_is_replaced_before_use(
    postgres_url: str, store: Store
) -> None:
    before = _backend_pid(store)  # its connection back in the pool, used a moment ago
    admin = create_engine(postgres_url)  # (another pool: not that connection)
    with admin.connect() as other:
        other.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": before})
    admin.dispose()

    after = _backend_pid(store)  # no error: the dead connection was replaced

    assert after != before

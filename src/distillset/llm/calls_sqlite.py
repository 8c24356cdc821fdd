"""The call log's fast path on SQLite: the DB-API directly, one executemany per batch.

This runs for every model call; the generic SQLAlchemy path costs several times more
CPU per row, which the event loop then lacks. Row ids come from SQLite's sequential
rowids inside the write transaction, checked before they are trusted.
"""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.engine.interfaces import DBAPICursor

from distillset.llm.call_rows import StoredCall
from distillset.store.models import LlmCall

COLUMNS = tuple(column.name for column in LlmCall.__table__.columns if column.name != "id")
INSERT_SQL = (
    f"INSERT INTO llm_calls ({', '.join(COLUMNS)}) VALUES ({', '.join('?' for _ in COLUMNS)})"
)
SELECT_OK_SQL = (
    "SELECT request_key, id, response_body, latency_ms FROM llm_calls "
    "WHERE status = 'ok' AND request_key IN ({marks}) ORDER BY id"
)
# The text form SQLAlchemy uses for DateTime on SQLite, so ORM reads parse it.
TIMESTAMP_FORMAT = "%Y-%m-%d %H:%M:%S.%f"
READ_CHUNK = 500


class _NotSequential(Exception):
    """The inserted rows did not get consecutive ids; use the one-by-one path."""


def is_fast_path_engine(engine: Engine) -> bool:
    return engine.dialect.name == "sqlite" and engine.dialect.driver == "pysqlite"


def _params(row: dict[str, Any], now: str) -> tuple[Any, ...]:
    values = [row.get(column) for column in COLUMNS]
    if row.get("created_at") is None:
        values[COLUMNS.index("created_at")] = now
    return tuple(values)


def _read(cursor: DBAPICursor, keys: list[str]) -> dict[str, StoredCall]:
    found: dict[str, StoredCall] = {}
    for start in range(0, len(keys), READ_CHUNK):
        chunk = keys[start : start + READ_CHUNK]
        sql = SELECT_OK_SQL.format(marks=", ".join("?" for _ in chunk))
        for key, call_id, body, latency in cursor.execute(sql, chunk):
            if body is not None:
                found[key] = StoredCall(call_id, body, latency)
    return found


def _update(cursor: DBAPICursor, updates: list[tuple[int, dict[str, Any]]]) -> None:
    for call_id, values in updates:
        names = [name for name in values if name in COLUMNS]
        assignments = ", ".join(f"{name} = ?" for name in names)
        cursor.execute(
            f"UPDATE llm_calls SET {assignments} WHERE id = ?",
            [*(values[name] for name in names), call_id],
        )


def _insert_many(cursor: DBAPICursor, rows: list[dict[str, Any]], now: str) -> list[int]:
    cursor.executemany(INSERT_SQL, [_params(row, now) for row in rows])
    last = int(cursor.execute("SELECT last_insert_rowid()").fetchone()[0])
    first = last - len(rows) + 1
    stored = dict(
        cursor.execute("SELECT id, request_key FROM llm_calls WHERE id IN (?, ?)", (first, last))
    )
    if stored.get(first) != rows[0]["request_key"] or stored.get(last) != rows[-1]["request_key"]:
        raise _NotSequential
    return list(range(first, last + 1))


def apply_batch(
    engine: Engine,
    keys: list[str],
    rows: list[dict[str, Any]],
    updates: list[tuple[int, dict[str, Any]]],
) -> tuple[dict[str, StoredCall], list[int | None], list[BaseException | None]]:
    """Look-ups, updates and inserts in one transaction; row by row if that fails."""
    now = datetime.now(UTC).strftime(TIMESTAMP_FORMAT)
    raw = engine.raw_connection()
    try:
        cursor = raw.cursor()
        found = _read(cursor, keys) if keys else {}
        try:
            _update(cursor, updates)
            ids: list[int | None] = list(_insert_many(cursor, rows, now)) if rows else []
            raw.commit()
            return found, ids, [None] * len(rows)
        except (sqlite3.Error, _NotSequential):
            raw.rollback()
            if not rows:
                raise
        # One bad row (a vanished task id...) must not fail its neighbours.
        _update(cursor, updates)
        raw.commit()
        ids = []
        errors: list[BaseException | None] = []
        for row in rows:
            try:
                cursor.execute(INSERT_SQL, _params(row, now))
                ids.append(cursor.lastrowid)
                raw.commit()
                errors.append(None)
            except sqlite3.Error as exc:
                raw.rollback()
                ids.append(None)
                errors.append(exc)
        return found, ids, errors
    finally:
        raw.close()

"""The rows batch mode keeps: a task's batches and their requests (llm_batches,
llm_batch_requests), and the call log rows their results become, written together."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Table, insert, select, update

from distillset.store.db import Store
from distillset.store.models import LlmBatch, LlmBatchRequest, LlmCall, utcnow

_BATCHES: Table = LlmBatch.__table__  # type: ignore[assignment]
_REQUESTS: Table = LlmBatchRequest.__table__  # type: ignore[assignment]
_CALLS: Table = LlmCall.__table__  # type: ignore[assignment]
OPEN = ("preparing", "submitted")


@dataclass
class StoredBatch:
    """A batch of the task found open when a run starts."""

    id: int
    endpoint_alias: str
    purpose: str
    remote_id: str | None
    input_file_id: str | None
    requests: dict[str, str]  # request key -> canonical body, of its pending requests


def add_batch(
    store: Store,
    *,
    project_id: int | None,
    task_id: int | None,
    endpoint_alias: str,
    purpose: str,
    requests: dict[str, str],
) -> int:
    """A new batch, preparing (written before anything is sent, so a kill leaves a trace)."""
    now = utcnow()
    with store.engine.begin() as connection:
        batch_id = connection.execute(
            insert(_BATCHES).returning(_BATCHES.c.id),
            {
                "project_id": project_id,
                "task_id": task_id,
                "endpoint_alias": endpoint_alias,
                "purpose": purpose,
                "status": "preparing",
                "requests": len(requests),
                "done": 0,
                "failed": 0,
                "created_at": now,
                "updated_at": now,
            },
        ).scalar_one()
        rows = [
            {"batch_id": batch_id, "request_key": key, "request_body": body, "status": "pending"}
            for key, body in requests.items()
        ]
        connection.execute(insert(_REQUESTS), rows)
    return int(batch_id)


def set_batch(store: Store, batch_id: int, **values: Any) -> None:
    with store.engine.begin() as connection:
        connection.execute(
            update(_BATCHES).where(_BATCHES.c.id == batch_id).values(**values, updated_at=utcnow())
        )


def open_batches(store: Store, task_id: int) -> list[StoredBatch]:
    """The task's batches not ingested yet, with their pending requests."""
    with store.engine.connect() as connection:
        batches = connection.execute(
            select(
                _BATCHES.c.id,
                _BATCHES.c.endpoint_alias,
                _BATCHES.c.purpose,
                _BATCHES.c.remote_id,
                _BATCHES.c.input_file_id,
            )
            .where(_BATCHES.c.task_id == task_id, _BATCHES.c.status.in_(OPEN))
            .order_by(_BATCHES.c.id)
        ).all()
        found = []
        for batch_id, alias, purpose, remote_id, file_id in batches:
            requests = connection.execute(
                select(_REQUESTS.c.request_key, _REQUESTS.c.request_body).where(
                    _REQUESTS.c.batch_id == batch_id, _REQUESTS.c.status == "pending"
                )
            ).all()
            requests_of = dict(requests)
            found.append(StoredBatch(batch_id, alias, purpose, remote_id, file_id, requests_of))
    return found


def ingest(
    store: Store,
    batch_id: int,
    calls: list[dict[str, Any]],
    statuses: dict[str, str],
    batch_values: dict[str, Any],
) -> list[int]:
    """In one transaction: the call log rows of a batch's results (their ids, in order), the
    status of each of its requests, and the batch's own; so a kill before the commit leaves
    the batch to be read again, and after it never has its results stored twice."""
    with store.engine.begin() as connection:
        ids = _insert_calls(connection, calls)
        for status in set(statuses.values()):
            keys = [key for key, value in statuses.items() if value == status]
            for start in range(0, len(keys), 500):
                connection.execute(
                    update(_REQUESTS)
                    .where(
                        _REQUESTS.c.batch_id == batch_id,
                        _REQUESTS.c.request_key.in_(keys[start : start + 500]),
                    )
                    .values(status=status)
                )
        connection.execute(
            update(_BATCHES)
            .where(_BATCHES.c.id == batch_id)
            .values(**batch_values, updated_at=utcnow())
        )
    return ids


def _insert_calls(connection: Connection, rows: list[dict[str, Any]]) -> list[int]:
    if not rows:
        return []
    columns = set().union(*rows)
    rows = [{column: row.get(column) for column in columns} for row in rows]
    statement = insert(_CALLS).returning(_CALLS.c.id, sort_by_parameter_order=True)
    return [int(call_id) for call_id in connection.execute(statement, rows).scalars()]


def remote_batches(store: Store, task_id: int) -> list[tuple[int, str, str]]:
    """The task's batches the provider may still be working on, not cancelled yet: (id,
    endpoint alias, remote id)."""
    with store.engine.connect() as connection:
        rows = connection.execute(
            select(_BATCHES.c.id, _BATCHES.c.endpoint_alias, _BATCHES.c.remote_id).where(
                _BATCHES.c.task_id == task_id,
                _BATCHES.c.status == "submitted",
                _BATCHES.c.remote_id.is_not(None),
                _BATCHES.c.remote_status.is_distinct_from("cancelling"),
                _BATCHES.c.remote_status.is_distinct_from("cancelled"),
            )
        ).all()
    return [(int(row[0]), str(row[1]), str(row[2])) for row in rows]

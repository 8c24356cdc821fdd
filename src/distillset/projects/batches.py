"""Cancelling at the provider the batches a cancelled task left open.

A running task cancels its batches itself as it stops; a task cancelled while no process
runs it (interrupted, paused, queued) has its batches cancelled here, so the provider
stops working, and billing, for a task nobody will resume."""

from __future__ import annotations

import asyncio

from sqlalchemy import select

from distillset.config import Settings
from distillset.llm.batch import CANCELLED_NOTE
from distillset.llm.batch_api import BatchApiError, BatchClient
from distillset.llm.batch_rows import remote_batches, set_batch
from distillset.projects.endpoints import endpoint_config
from distillset.store import ModelEndpoint, Store


async def cancel_remote_batches(store: Store, settings: Settings, task_id: int) -> list[str]:
    """Cancel the task's submitted batches at their provider; what could not be cancelled,
    one line each (the batch is then left as it was, to be cancelled again)."""
    problems: list[str] = []
    for row_id, alias, remote_id in remote_batches(store, task_id):
        with store.session() as session:
            row = session.scalar(select(ModelEndpoint).where(ModelEndpoint.alias == alias))
            endpoint = None if row is None else endpoint_config(row, settings)
        if endpoint is None:
            problems.append(f"batch {remote_id}: its endpoint {alias!r} no longer exists")
            continue
        client = BatchClient(endpoint)
        try:
            remote = await client.cancel(remote_id)
        except BatchApiError as exc:
            problems.append(str(exc))
            continue
        finally:
            await client.aclose()
        # Left open: a resumed task reads the lines it finished (paid for) once it ends.
        set_batch(store, row_id, remote_status=remote.status, error=CANCELLED_NOTE)
    return problems


def cancel_remote_batches_now(store: Store, settings: Settings, task_id: int) -> list[str]:
    """``cancel_remote_batches`` for a caller without a running loop (the CLI)."""
    return asyncio.run(cancel_remote_batches(store, settings, task_id))

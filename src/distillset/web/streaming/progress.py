"""One server-sent-events stream per task, read from the task row and its events.

The stream polls the store, so it shows the same progress whichever process runs the task,
and a page opened after leaving shows the run still moving. It ends once the task finishes.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

from sqlalchemy import select

from distillset.config import Settings
from distillset.kinds import task_as_dict
from distillset.runs import get_task
from distillset.store import Store, TaskEvent
from distillset.web.pages.templating import format_time

POLL_SECONDS = 0.4
KEEPALIVE_SECONDS = 15.0
RECENT_EVENTS = 30


def snapshot(
    store: Store, settings: Settings, task_id: int, after_event: int | None
) -> dict[str, Any]:
    """The task as a dict plus its events after ``after_event`` (the latest few at first)."""
    with store.session() as session:
        data = task_as_dict(get_task(session, task_id), settings)
        query = select(TaskEvent).where(TaskEvent.task_id == task_id)
        if after_event is None:
            rows = list(session.scalars(query.order_by(TaskEvent.id.desc()).limit(RECENT_EVENTS)))
            rows.reverse()
        else:
            rows = list(
                session.scalars(query.where(TaskEvent.id > after_event).order_by(TaskEvent.id))
            )
        data["events"] = [
            {"id": e.id, "level": e.level, "message": e.message, "time": format_time(e.created_at)}
            for e in rows
        ]
    return data


def _message(event: str, data: dict[str, Any]) -> str:
    return f"event: {event}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n"


# Where a stream ends: the task is over, or waits for a person (a resume, a higher budget).
FINISHED = frozenset({"succeeded", "failed", "cancelled", "interrupted", "paused"})


async def task_events(
    store: Store, settings: Settings, task_id: int, *, is_running: Any = None
) -> AsyncIterator[str]:
    """`progress` messages whenever the task changes, then one `end` message.

    An interrupted task whose run this server holds is still starting or stopping, so the
    stream waits for it instead of ending early.
    """
    last_event: int | None = None
    last_state: str | None = None
    quiet = 0.0
    while True:
        data = await asyncio.to_thread(snapshot, store, settings, task_id, last_event)
        if data["events"]:
            last_event = data["events"][-1]["id"]
        state = json.dumps([data["status"], data["counters"], data["last_error"]], default=str)
        running_here = bool(is_running and is_running(task_id))
        if data["status"] in FINISHED and not running_here:
            yield _message("end", data)
            return
        if state != last_state or data["events"]:
            last_state, quiet = state, 0.0
            yield _message("progress", data)
        elif quiet >= KEEPALIVE_SECONDS:
            quiet = 0.0
            yield ": keep-alive\n\n"
        await asyncio.sleep(POLL_SECONDS)
        quiet += POLL_SECONDS

"""Task rows: create, list, show, cancel, and the claim that makes one process run a task.

A task is *interrupted* when it says running but its heartbeat is older than
``settings.heartbeat_stale_seconds``: its process died. Only one live task of a kind may run
on a project; a second one, from any process, is refused with the reason. A task of another
kind is refused too while a different process runs one on the project: processes share no
limiter, so together they would exceed the project's concurrency and pay twice for calls.
"""

from __future__ import annotations

import os
import socket
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, exists, or_, select, update
from sqlalchemy.orm import Session, aliased

from distillset.config import Settings
from distillset.domain import ConflictError, NotFoundError, TaskKind, TaskStatus
from distillset.store import Project, Task, TaskEvent
from distillset.store.models import as_utc, utc_iso, utcnow

MAX_EVENT_CHARS = 2_000


def process_owner() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def owner_is_gone(owner: str | None) -> bool:
    """Whether the owner was a process on this host that no longer exists.

    This lets a run killed a moment ago be resumed at once instead of after the heartbeat
    goes stale (which remains the rule for owners on other hosts).
    """
    if not owner:
        return False
    parts = owner.split(":")
    if len(parts) < 2 or parts[0] != socket.gethostname() or not parts[1].isdigit():
        return False
    try:
        os.kill(int(parts[1]), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False  # alive, owned by another user
    return False


def is_stale(task: Task, settings: Settings, now: datetime | None = None) -> bool:
    if owner_is_gone(task.owner):
        return True
    now = now or utcnow()
    beat = as_utc(task.heartbeat_at) or as_utc(task.started_at) or as_utc(task.created_at)
    return beat is None or now - beat > timedelta(seconds=settings.heartbeat_stale_seconds)


def effective_status(task: Task, settings: Settings) -> TaskStatus:
    status = TaskStatus(task.status)
    if status is TaskStatus.RUNNING and is_stale(task, settings):
        return TaskStatus.INTERRUPTED
    return status


def refresh_status(session: Session, task: Task, settings: Settings) -> Task:
    """Persist `interrupted` for a running task whose process is gone."""
    if effective_status(task, settings) is TaskStatus.INTERRUPTED and task.status != "interrupted":
        task.status = TaskStatus.INTERRUPTED.value
        session.flush()
    return task


def get_task(session: Session, task_id: int) -> Task:
    task = session.get(Task, task_id)
    if task is None:
        raise NotFoundError(f"no task {task_id} (see `distillset tasks list`)")
    return task


def list_tasks(
    session: Session, settings: Settings, project_id: int | None = None, limit: int = 50
) -> list[Task]:
    query = select(Task).order_by(Task.id.desc()).limit(limit)
    if project_id is not None:
        query = query.where(Task.project_id == project_id)
    return [refresh_status(session, task, settings) for task in session.scalars(query)]


def live_task(
    session: Session, settings: Settings, project_id: int, kind: str, exclude: int | None = None
) -> Task | None:
    """A task of this kind on this project that a living process is running."""
    query = select(Task).where(
        Task.project_id == project_id, Task.kind == kind, Task.status == TaskStatus.RUNNING.value
    )
    if exclude is not None:
        query = query.where(Task.id != exclude)
    for task in session.scalars(query.order_by(Task.id)):
        if not is_stale(task, settings):
            return task
    return None


def _same_process(owner_column: Any, owner: str) -> Any:
    """SQL: the owner is this process (`host:pid`, with or without a run suffix)."""
    prefix = ":".join(owner.split(":")[:2])
    return or_(owner_column == prefix, owner_column.like(f"{prefix}:%"))


def _rivals_of(
    table: Any,
    project_id: int,
    kind: str | None,
    owner: str,
    task_id: int | None = None,
    scope: str | None = None,
) -> list[Any]:
    # The same kind never runs twice on a project's work (two runs would create or pay for
    # the same items), unless both name a different single item (``scope``); another
    # process's task of any kind neither, since its limiter is not shared with this process
    # (nor its in-flight calls). Work that is no task (kind None) is blocked by another
    # process's tasks only.
    elsewhere = ~_same_process(table.owner, owner)
    if kind is None:
        rival = elsewhere
    else:
        same_work = table.kind == kind
        if scope is not None:
            same_work = and_(same_work, or_(table.scope.is_(None), table.scope == scope))
        rival = or_(same_work, elsewhere)
    conditions = [
        table.project_id == project_id,
        table.status == TaskStatus.RUNNING.value,
        rival,
    ]
    if task_id is not None:
        conditions.append(table.id != task_id)
    return conditions


def _rival_conditions(table: Any, task: Task, owner: str) -> list[Any]:
    return _rivals_of(table, task.project_id, task.kind, owner, task.id, task.scope)


def refuse_if_blocked(
    session: Session,
    settings: Settings,
    project_id: int,
    kind: TaskKind | None,
    owner: str,
    scope: str | None = None,
) -> None:
    """Refuse a new task that its claim would refuse, before its row exists: a living task
    of its kind runs on the project (on the same item, where the task names one), or one of
    any kind in another process. Model calls that are no task (``kind`` None, awaited in a
    request) follow the same rule without a kind: only another process's living task
    refuses them."""
    rival_kind = kind.value if kind is not None else None
    query = (
        select(Task)
        .where(*_rivals_of(Task, project_id, rival_kind, owner, scope=scope))
        .order_by(Task.id)
    )
    for other in session.scalars(query):
        if not is_stale(other, settings):
            raise ConflictError(_busy_message(other, settings))


def end_refused(session: Session, task_id: int, reason: str) -> None:
    """A task created to run now whose run was refused ends failed, with the reason, instead
    of staying queued forever (a task that ran before keeps its status)."""
    task = session.get(Task, task_id)
    if task is not None and task.status == TaskStatus.QUEUED.value and task.started_at is None:
        task.status = TaskStatus.FAILED.value
        task.last_error = f"refused: {reason}"
        task.finished_at = utcnow()
        add_events(session, task_id, [("error", task.last_error)])


def rival_tasks(session: Session, task: Task, owner: str) -> list[Task]:
    """Running tasks (living or not) that would stop `task` from running in `owner`."""
    query = select(Task).where(*_rival_conditions(Task, task, owner)).order_by(Task.id)
    return list(session.scalars(query))


def _busy_message(task: Task, settings: Settings) -> str:
    beat = as_utc(task.heartbeat_at)
    ago = f", last heartbeat {(utcnow() - beat).total_seconds():.0f}s ago" if beat else ""
    return (
        f"task {task.id} ({task.kind}) is already running on this project in process "
        f"{task.owner}{ago}; wait for it, or stop it with `distillset tasks cancel {task.id}`"
    )


def claim_task(session: Session, task_id: int, settings: Settings, owner: str) -> Task:
    """Mark a task running in this process, or say clearly why it cannot run now."""
    task = get_task(session, task_id)
    if task.status == TaskStatus.RUNNING.value and task.owner == owner:
        return task  # claimed already by this run (a worker claims before it runs it)
    if task.status == TaskStatus.RUNNING.value and not is_stale(task, settings):
        raise ConflictError(_busy_message(task, settings))
    # PostgreSQL: claims of one project queue on its row (SQLite serialises writers anyway).
    session.execute(select(Project.id).where(Project.id == task.project_id).with_for_update())
    rivals = rival_tasks(session, task, owner)
    for other in rivals:
        if not is_stale(other, settings):
            raise ConflictError(_busy_message(other, settings))
    now = utcnow()
    # A rival claimed between the check above and this write. Rivals found dead above
    # stay ignored unless another process has claimed them since (their owner changed).
    rival = aliased(Task)
    rival_running = exists().where(
        *_rival_conditions(rival, task, owner),
        rival.heartbeat_at > now - timedelta(seconds=settings.heartbeat_stale_seconds),
        *(~and_(rival.id == dead.id, rival.owner == dead.owner) for dead in rivals),
    )
    # Compare-and-set on the status read above, so two processes cannot both claim it,
    # nor a rival run beside it.
    claimed = session.execute(
        update(Task)
        .where(
            Task.id == task.id,
            Task.status == task.status,
            Task.owner.is_not_distinct_from(task.owner),
            # A stale owner that woke up and renewed its heartbeat since keeps the task.
            Task.heartbeat_at.is_not_distinct_from(task.heartbeat_at),
            ~rival_running,
        )
        .values(
            status=TaskStatus.RUNNING.value,
            owner=owner,
            heartbeat_at=now,
            started_at=now,
            finished_at=None,
            cancel_requested=False,
            last_error=None,
        )
        .execution_options(synchronize_session=False)
    )
    if claimed.rowcount != 1:  # type: ignore[attr-defined]
        session.refresh(task)
        if task.status == TaskStatus.RUNNING.value and not is_stale(task, settings):
            raise ConflictError(_busy_message(task, settings))
        for other in rival_tasks(session, task, owner):
            if not is_stale(other, settings):
                raise ConflictError(_busy_message(other, settings))
        raise ConflictError(f"task {task.id} was claimed by another process just now")
    session.refresh(task)
    return task


def renew_claim(session: Session, task_id: int, settings: Settings, owner: str) -> str | None:
    """The heartbeat of a running task: a compare-and-set that confirms ``owner`` still runs
    it. Returns None when confirmed, or why the run lost the task (then nothing is written).

    The task is lost when another process took it over (its owner changed), or when a rival
    claimed the project after this run started (it found this run's heartbeat stale).
    """
    task = session.get(Task, task_id)
    if task is None:
        return f"task {task_id} was deleted"
    if task.owner != owner:
        return f"task {task_id} was taken over by process {task.owner}"
    rival = aliased(Task)
    rival_since = exists().where(
        *_rival_conditions(rival, task, owner),
        rival.started_at > task.started_at,
    )
    renewed = session.execute(
        update(Task)
        .where(Task.id == task_id, Task.owner == owner, ~rival_since)
        .values(heartbeat_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    if renewed.rowcount == 1:  # type: ignore[attr-defined]
        session.refresh(task)
        return None
    session.refresh(task)
    if task.owner != owner:
        return f"task {task_id} was taken over by process {task.owner}"
    other = next(iter(rival_tasks(session, task, owner)), None)
    where = f"task {other.id} ({other.kind}) in process {other.owner}" if other else "a rival"
    return f"{where} claimed the project while this run's heartbeat was stale"


def publish_open_requests(session: Session, task_id: int, owner: str, bound: int) -> bool:
    """Write the bound of requests the owner's run may have out; False when the task is no
    longer the owner's (it must then send nothing more)."""
    written = session.execute(
        update(Task)
        .where(Task.id == task_id, Task.owner == owner)
        .values(open_requests=bound)
        .execution_options(synchronize_session=False)
    )
    return bool(written.rowcount)  # type: ignore[attr-defined]


def request_cancel(session: Session, task: Task, settings: Settings) -> Task:
    """Ask the running process to stop; a task that is not running is cancelled at once."""
    status = effective_status(task, settings)
    if status.finished:
        raise ConflictError(f"task {task.id} has already finished ({status.value})")
    if status is TaskStatus.RUNNING:
        task.cancel_requested = True
    else:
        task.status = TaskStatus.CANCELLED.value
        task.finished_at = utcnow()
    session.flush()
    return task


def add_events(session: Session, task_id: int, events: list[tuple[str, str]]) -> None:
    now = utcnow()
    session.add_all(
        TaskEvent(task_id=task_id, level=level, message=message[:MAX_EVENT_CHARS], created_at=now)
        for level, message in events
    )


def recent_events(session: Session, task_id: int, limit: int = 20) -> list[TaskEvent]:
    rows = session.scalars(
        select(TaskEvent)
        .where(TaskEvent.task_id == task_id)
        .order_by(TaskEvent.id.desc())
        .limit(limit)
    )
    return list(reversed(list(rows)))


def task_as_dict(task: Task, settings: Settings, project_name: str | None = None) -> dict[str, Any]:
    started, finished = as_utc(task.started_at), as_utc(task.finished_at)
    elapsed = None
    if started is not None:
        elapsed = ((finished or utcnow()) - started).total_seconds()
    return {
        "id": task.id,
        "project_id": task.project_id,
        "project": project_name,
        "kind": task.kind,
        "status": effective_status(task, settings).value,
        "params": task.params,
        "counters": task.counters,
        "last_error": task.last_error,
        "owner": task.owner,
        "cancel_requested": task.cancel_requested,
        "created_at": utc_iso(task.created_at),
        "started_at": utc_iso(task.started_at),
        "finished_at": utc_iso(task.finished_at),
        "heartbeat_at": utc_iso(task.heartbeat_at),
        "elapsed_seconds": round(elapsed, 3) if elapsed is not None else None,
    }

"""Running a task in a running asyncio loop: claim, heartbeat, progress, cancel, finish.

``run_task`` is the one entry point for the CLI, the Python API and the web server (through
``distillset.kinds``, which hands it the registry of kinds). Each kind's run subclasses
``SupervisedRun``. A task is resumable at any time: its run plans again from what is stored,
and calls that already succeeded are answered from the gateway's cache.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import time
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar, cast

from sqlalchemy.orm import Session

from distillset.config import Settings
from distillset.domain import ConflictError, InvalidInputError, TaskKind, TaskStatus
from distillset.runs.kinds import KindRegistry, ProgressCallback
from distillset.runs.lease import OwnershipLease
from distillset.runs.progress import StageProgress
from distillset.runs.queue import for_workers
from distillset.runs.rows import (
    add_events,
    claim_task,
    end_refused,
    get_task,
    process_owner,
    publish_open_requests,
    renew_claim,
    task_as_dict,
)
from distillset.runs.shared import SharedItems, SharedPool, SharedSlots, join_job, leave_job
from distillset.runs.slots import PUBLISH_AHEAD, OpenElsewhere, SlotPool, SlotsHeld, open_elsewhere
from distillset.runs.usage import billed_so_far, billed_usage
from distillset.store import Project, Store, Task
from distillset.store.models import utcnow

T = TypeVar("T")

# How often counters and events are written, and the cancel flag is read.
FLUSH_INTERVAL = 0.5


@dataclass(frozen=True)
class _Flush:
    """What one flush writes, taken on the loop."""

    counters: dict[str, Any]
    events: list[tuple[str, str]]
    last_error: str | None
    open_requests: int  # the bound of requests out it writes in the task row
    beat: float  # when it started (monotonic): the lease it confirms runs from here


@dataclass(frozen=True)
class _Written:
    """What a flush's write found: the task lost, a cancel asked, the usage billed."""

    lost: str | None = None
    cancel: bool = False
    billed: tuple[float, int] | None = None  # (cost, calls logged) when the task has a budget

    def __bool__(self) -> bool:
        """Whether the task row is still the run's (see _write_bound)."""
        return self.lost is None


# The event a run stopped from outside leaves, for the task pages and `tasks show`.
INTERRUPTED_NOTE = "interrupted: the process running it stopped; resume to go on"

# A task param: its model calls skip the response cache (a fresh sample), on every resume too.
NO_CACHE_PARAM = "no_cache"
# A task param: the most its calls may cost, in the endpoints' price unit (see set_budget).
MAX_COST_PARAM = "max_cost"


def ask_fresh(task: Task) -> None:
    """Mark a task so this run and every resume send its requests instead of reading the
    cache (a new dict: the JSON column only notices assignment)."""
    task.params = {**(task.params or {}), NO_CACHE_PARAM: True}


def set_budget(task: Task, max_cost: float | None) -> None:
    """Give the task a budget (None: keep the one it has). A run pauses before a call that
    could take the task's billed cost, failed calls included, over it."""
    if max_cost is None:
        return
    if not max_cost > 0:
        raise InvalidInputError("the budget (--max-cost) must be above 0")
    task.params = {**(task.params or {}), MAX_COST_PARAM: float(max_cost)}


def task_budget(session: Session, task: Task) -> float | None:
    """The task's budget: its own (``--max-cost``), else its project's default, if any."""
    own = (task.params or {}).get(MAX_COST_PARAM)
    if own:
        return float(own)
    project = session.get(Project, task.project_id)
    return project.max_cost if project is not None and project.max_cost else None


def reads_cache(params: dict[str, Any] | None) -> bool:
    """Whether a task's runs may answer a request from the response cache."""
    return not (params or {}).get(NO_CACHE_PARAM, False)


class SupervisedRun(ABC):
    """What every task run shares: its claim's owner, the heartbeat and counters written
    every interval, cancel, and the final status. Subclasses plan and do the work, and keep
    their counters in ``self.progress`` (one per stage their kind declares)."""

    progress: StageProgress

    def __init__(
        self,
        store: Store,
        settings: Settings,
        task_id: int,
        *,
        cancel_event: asyncio.Event | None = None,
        on_progress: ProgressCallback | None = None,
        use_cache: bool = True,
    ) -> None:
        self.store, self.settings, self.task_id = store, settings, task_id
        # False: every model call of this run is sent, not read from the response cache.
        self.use_cache = use_cache
        self.cancel_event = cancel_event or asyncio.Event()
        self.on_progress = on_progress
        # Unique per run, so two runs in one process (the web server) are told apart.
        self.owner = f"{process_owner()}:{secrets.token_hex(3)}"
        # Why this run lost its task (taken over, deleted); None while it owns it.
        self.lost: str | None = None
        # Requests go out only while the heartbeat confirmed ownership recently.
        self.lease = OwnershipLease(settings.heartbeat_stale_seconds)
        self.progress = self.new_progress()
        # The project's request slots (set by a kind that sends requests: use_slots), the
        # bound of requests out last written in the task row, and the slots kept free for
        # runs of other processes that may still have requests out.
        self._pool: SlotPool | None = None
        self._published = 0
        # The write of that bound under way, if any (see _write_bound).
        self._writing_bound: asyncio.Future[Any] | None = None
        self._others: list[OpenElsewhere] = []
        self._held: SlotsHeld | None = None
        # The task's budget (its ``max_cost`` param), what the usage log says it has cost
        # and how many of this run's requests it holds, as of the last flush; the requests
        # this run sent and their estimated cost; why the run pauses, once over budget.
        self.budget: float | None = None
        self._spent = 0.0
        self._logged = 0
        self._logged_before = 0
        self._sent = 0
        self._sent_cost = 0.0
        self._held_back = 0
        self.paused: str | None = None
        self._paused_at: float | None = None
        # How long a request may take (the kind's request timeout, given with use_slots).
        self._give_up_after = 120.0
        # A job several workers share (PostgreSQL; set by a kind's prepare(), see
        # share_job): its items, and this worker's part of the project's slots.
        self.shared_items: SharedItems | None = None
        self._shared_slots: SharedSlots | None = None
        self._project_id: int | None = None

    @abstractmethod
    def new_progress(self) -> StageProgress:
        """Empty counters, one per stage the run's kind declares."""

    @abstractmethod
    def prepare(self) -> None:
        """Claim the task row (with ``self.owner``) and plan what is left to do."""

    def claim(self, session: Session, kind: TaskKind) -> Task:
        """Claim the task row for this run (see ``prepare``), refusing a task of another kind."""
        task = claim_task(session, self.task_id, self.settings, self.owner)
        if task.kind != kind.value:
            raise InvalidInputError(f"task {task.id} is a {task.kind} task, not a {kind} task")
        return task

    @abstractmethod
    async def work(self) -> None:
        """Do the planned work; cancelled when a cancel is asked."""

    def share_job(self) -> SharedItems:
        """Let other workers share this task's work (called by prepare() where the kind
        can): its items are claimed in the database, and the project's slots leased there."""
        self.shared_items = SharedItems(
            self.store, self.task_id, self.owner, self.settings.heartbeat_stale_seconds
        )
        return self.shared_items

    def use_slots(self, pool: SlotPool, request_timeout: float) -> None:
        """The kind's gateway is open: its limiter is the project's pool of request slots.
        Keep free the slots of other processes' runs that may still have requests out (in
        a shared job: send only on the slots this worker leased)."""
        self._pool = pool
        self._give_up_after = request_timeout + FLUSH_INTERVAL
        if self.shared_items is not None and self._project_id is not None:
            self._shared_slots = SharedSlots(
                self.store,
                cast(SharedPool, pool),
                project_id=self._project_id,
                task_id=self.task_id,
                owner=self.owner,
                lease_seconds=self.settings.heartbeat_stale_seconds,
            )
            with self.store.session() as session:
                join_job(session, self.task_id, self.owner)
                self._shared_slots.rebalance(session)
            return
        if self._others:
            # A live client of theirs would give up on a request within this long.
            give_up_after = self.settings.heartbeat_stale_seconds + request_timeout
            self._held = SlotsHeld(pool, self._others, give_up_after, self.event)

    async def send_guard(self, cost: float = 0.0) -> None:
        """Awaited before each request goes out (after its slot was granted), with what it
        may cost: ownership still holds, the budget allows it, and the task row bounds the
        requests this run has out."""
        await self.lease.wait_until_held()
        if self.budget is not None:
            self._check_budget(cost)
            if self.paused is not None:
                self._held_back += 1
                await asyncio.get_running_loop().create_future()  # cancelled with the job
        self._sent += 1
        self._sent_cost += cost
        pool = self._pool
        while pool is not None and pool.in_flight > self._published:
            if self._writing_bound is not None:
                await asyncio.wait([self._writing_bound])  # then look again
                continue
            bound = min(pool.in_flight + PUBLISH_AHEAD, pool.max_concurrency)
            if await self._write_bound(bound, self._publish, bound):
                return
            self.lost = "another process took it over"
            self.cancel_event.set()
            await asyncio.get_running_loop().create_future()  # cancelled with the job

    def _publish(self, bound: int) -> bool:
        with self.store.session() as session:
            return publish_open_requests(session, self.task_id, self.owner, bound)

    async def _write_bound(self, bound: int, write: Callable[..., T], *args: Any) -> T:
        """Run ``write(*args)``, which writes ``bound`` as the task row's bound of requests
        out (and says whether the row is still ours: truthy), on a thread: the loop goes on
        answering the requests in flight (a write on the loop stalled them, the longer
        while the writer thread held the database). One such write at a time (the caller
        waited for ``_writing_bound``), so the last one started is the last one to land.
        Meanwhile requests go out only under both the old bound and this one; once it is
        written, under this one. A caller cancelled meanwhile waits for its write to end."""
        assert self._writing_bound is None
        self._published = min(self._published, bound)
        writing = asyncio.ensure_future(asyncio.to_thread(write, *args))

        def written(future: asyncio.Future[Any]) -> None:
            # A done callback runs before the tasks that wait for the write resume.
            self._writing_bound = None
            if not future.cancelled() and future.exception() is None and future.result():
                self._published = bound

        writing.add_done_callback(written)
        self._writing_bound = writing
        try:
            return await asyncio.shield(writing)
        except asyncio.CancelledError:
            await asyncio.wait([writing])
            raise

    def cancelled_by_user(self) -> bool:
        """Whether the run is ending because a cancel was asked (not paused at its budget,
        taken over, or stopped from outside to be resumed): what it left open at a
        provider (batches) is cancelled too."""
        return self.cancel_event.is_set() and self.paused is None and self.lost is None

    def _check_budget(self, cost: float) -> None:
        """Pause before a request that could take the task over its budget: what the usage
        log holds, plus the sent requests it does not hold yet (at their average estimate),
        plus this one."""
        assert self.budget is not None
        unlogged = max(0, self._sent - (self._logged - self._logged_before))
        average = self._sent_cost / self._sent if self._sent else cost
        committed = self._spent + unlogged * average
        if self.paused is None and committed + cost > self.budget:
            self.paused = (
                f"budget reached: ${committed:.4f} spent or committed of ${self.budget:.4f}, "
                f"and the next call may cost up to ${cost:.4f}"
            )
            # Read in the CLI and on the web: each says how it takes a new budget.
            self.event(f"paused: {self.paused}; resume it with a higher budget", "warning")
            self._paused_at = time.monotonic()

    def counters(self) -> dict[str, Any]:
        """The task row's counters as they stand."""
        return self.progress.as_dict()

    def count_shared(self, tally: dict[str, int]) -> None:
        """A shared job: set the counters from the outcomes of its items (``tally``: by
        outcome, every worker's), which this run's own counts do not hold. A kind that
        calls share_job() overrides this."""
        raise NotImplementedError(f"{type(self).__name__} shares a job but cannot count it")

    def event(self, message: str, level: str = "info") -> None:
        """Queue an event for the next flush."""
        self.progress.event(message, level)

    def take_events(self) -> list[tuple[str, str]]:
        """The events queued since the last flush."""
        return self.progress.take_events()

    def last_error(self) -> str | None:
        """The latest item failure's reason, if any."""
        return self.progress.last_error

    def failed_items(self) -> int:
        """How many items failed in this run (the task then ends as failed)."""
        return self.progress.failed_items()

    def failure_event(self, failed: int) -> tuple[str, str]:
        """The closing event (message, level) of a run in which items failed."""
        return f"finished with {failed} failed items (resume to retry them)", "info"

    def _flush(self, *, status: TaskStatus | None = None, error: str | None = None) -> bool:
        """Write counters, events and the heartbeat on the loop (a run's last write, and a
        shared job's: its counters come from the items' tally); returns whether a cancel
        was asked."""
        flush = self._snapshot(exact=True)
        written = self._write_flush(flush, status, error)
        if written.lost is None:
            self._published = flush.open_requests
        return self._flushed(flush, written)

    async def _flush_off_loop(self) -> bool:
        """The periodic flush, written off the loop (see _write_bound)."""
        while self._writing_bound is not None:
            await asyncio.wait([self._writing_bound])
        if self.shared_items is not None:
            return self._flush()
        flush = self._snapshot(exact=False)
        written = await self._write_bound(flush.open_requests, self._write_flush, flush, None, None)
        return self._flushed(flush, written)

    def _snapshot(self, *, exact: bool) -> _Flush:
        """What a flush writes, taken on the loop. The bound of requests out: those out now
        (``exact``, a run that ends), or a few more, so the requests of the next moments
        need not write it again (each such write waits for the database)."""
        pool = self._pool
        in_flight = pool.in_flight if pool is not None else 0
        bound = in_flight
        if not exact and pool is not None and in_flight > 0:
            bound = max(in_flight, min(in_flight + PUBLISH_AHEAD, pool.max_concurrency))
        return _Flush(
            counters=self.counters(),
            events=self.take_events(),
            last_error=self.last_error(),
            open_requests=bound,
            beat=time.monotonic(),  # before the write: the lease never outlives the heartbeat
        )

    def _write_flush(self, flush: _Flush, status: TaskStatus | None, error: str | None) -> _Written:
        """The flush's transaction (on the loop or the writer thread): it touches nothing of
        the run but what it returns, except a shared job's counters (always on the loop)."""
        counters = flush.counters
        billed: tuple[float, int] | None = None
        with self.store.session() as session:
            lost = renew_claim(session, self.task_id, self.settings, self.owner)
            if lost is not None:
                # Deleted, or taken over by a process that found our heartbeat stale: stop
                # without touching a row that is no longer ours.
                return _Written(lost=lost)
            task = session.get(Task, self.task_id)
            assert task is not None
            if "calls" in counters:
                # Tokens and cost are what the usage log says was billed, failures included.
                counters["calls"] = counters["calls"] | billed_usage(session, self.task_id)
            if self.budget is not None:
                billed = billed_so_far(session, self.task_id)
            if self.shared_items is not None:
                if status is None:  # (a run that ends has left the job)
                    self._beat_shared(session)
                self.count_shared(self.shared_items.tally(session))
                counters |= {name: c.as_dict() for name, c in self.progress.counts.items()}
            if task.status == TaskStatus.INTERRUPTED.value and status is None:
                task.status = TaskStatus.RUNNING.value  # an observer thought we were gone
            task.counters = counters
            task.heartbeat_at = utcnow()
            task.open_requests = flush.open_requests
            add_events(session, self.task_id, flush.events)
            if flush.last_error:
                task.last_error = flush.last_error
            if status is not None:
                task.status = status.value
                task.finished_at = utcnow()
                if error:
                    task.last_error = error
            cancel = bool(task.cancel_requested)
        return _Written(cancel=cancel, billed=billed)

    def _flushed(self, flush: _Flush, written: _Written) -> bool:
        """Back on the loop after a flush's write: what it learned takes effect."""
        if written.lost is not None:
            self.lost = written.lost
            return True
        if written.billed is not None:
            self._spent, self._logged = written.billed
        self.lease.confirm(flush.beat)
        if self.on_progress is not None:
            self.on_progress(flush.counters)
        return written.cancel

    def _beat_shared(self, session: Session) -> None:
        """A shared job's heartbeat: this worker takes part, holds its items and slots."""
        assert self.shared_items is not None
        join_job(session, self.task_id, self.owner)
        self.shared_items.renew(session)
        if self._shared_slots is not None:
            self._shared_slots.rebalance(session)

    async def _watch(self, job: asyncio.Task[None]) -> None:
        """Heartbeat and counters every interval; stop the job when a cancel is asked."""
        while not job.done():
            if self._held is not None:
                self._held.release_ended()
            if self.paused is not None and self._nothing_out():
                self.cancel_event.set()  # over budget: stop once its requests are back
            if await self._flush_off_loop():
                self.cancel_event.set()
            if self.cancel_event.is_set():
                job.cancel()
                return
            if self._shared_slots is not None:
                await self._shared_slots.wait_for_beat(self.cancel_event, FLUSH_INTERVAL)
                continue
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.cancel_event.wait(), FLUSH_INTERVAL)

    def _nothing_out(self) -> bool:
        """Whether none of this run's sent requests can still be answered: the usage log
        holds every attempt sent, but those of the calls held back by the budget (a call
        is logged once its attempts end); or a request's timeout has passed since."""
        unlogged = self._sent - (self._logged - self._logged_before)
        waited = time.monotonic() - (self._paused_at or time.monotonic())
        return unlogged <= self._held_back or waited > self._give_up_after

    async def _supervise(self) -> None:
        job = asyncio.create_task(self.work())
        watcher = asyncio.create_task(self._watch(job))
        try:
            await job
        finally:
            watcher.cancel()
            await asyncio.gather(watcher, return_exceptions=True)
            if self._held is not None:
                self._held.release_all()
            self._leave_shared()

    def _leave_shared(self) -> None:
        """A shared job's run ends: its unfinished items and its slots go back."""
        if self.shared_items is None:
            return
        if self._shared_slots is not None:
            self._shared_slots.release_all()
            self._shared_slots = None
        if self.lost is None:
            self.shared_items.release()
        leave_job(self.store, self.task_id, self.owner)

    def _lost_error(self) -> ConflictError:
        return ConflictError(
            f"lost ownership of task {self.task_id}: {self.lost}; this run stopped and sent "
            "no further request"
        )

    async def run(self) -> dict[str, Any]:
        with self.store.session() as session:
            task = session.get(Task, self.task_id)
            self._project_id = None if task is None else task.project_id
            # Read before the claim overwrites it: a run this one takes over may be alive.
            self._others = [] if task is None else open_elsewhere(session, task.project_id)
            if task is not None and (budget := task_budget(session, task)):
                self.budget = budget
                self._spent, self._logged = billed_so_far(session, self.task_id)
                self._logged_before = self._logged
        claimed_at = time.monotonic()
        try:
            self.prepare()
        except Exception as exc:
            # A task queued for workers and refused because the project is busy waits for
            # a worker to try again (the worker skips it meanwhile).
            if not (isinstance(exc, ConflictError) and for_workers(task.params if task else None)):
                with self.store.session() as session:
                    end_refused(session, self.task_id, str(exc) or type(exc).__name__)
            raise
        self.lease.confirm(claimed_at)
        status, error = TaskStatus.SUCCEEDED, None
        try:
            await self._supervise()
        except asyncio.CancelledError:
            if self.lost:
                raise self._lost_error() from None
            if not self.cancel_event.is_set():
                # Stopped from outside (the server shutting down, the loop closing): nobody
                # asked to cancel, so the task is left interrupted, to be resumed.
                self.event(INTERRUPTED_NOTE, "warning")
                self._flush(status=TaskStatus.INTERRUPTED)
                raise
            if self.paused is not None:
                status, error = TaskStatus.PAUSED, self.paused
            else:
                status = TaskStatus.CANCELLED
                self.event("cancelled", "warning")
        except Exception as exc:
            status, error = TaskStatus.FAILED, f"{type(exc).__name__}: {exc}"
            self.event(error, "error")
            self._flush(status=status, error=error)
            raise
        else:
            if failed := self.failed_items():
                status = TaskStatus.FAILED
                error = self.last_error() or f"{failed} items failed"
                self.event(*self.failure_event(failed))
            else:
                self.event("finished")
        self._flush(status=status, error=error)
        if self.lost:
            raise self._lost_error()
        return self.summary()

    def summary(self) -> dict[str, Any]:
        with self.store.session() as session:
            task = session.get(Task, self.task_id)
            assert task is not None
            return task_as_dict(task, self.settings)


async def run_task(
    kinds: KindRegistry,
    store: Store,
    settings: Settings,
    task_id: int,
    *,
    cancel_event: asyncio.Event | None = None,
    on_progress: ProgressCallback | None = None,
    use_cache: bool = True,
) -> dict[str, Any]:
    """Run (or resume) a task to its end in the current loop with the run its kind
    declares in ``kinds``; returns the task as a dict.

    Setting ``cancel_event`` (or `tasks cancel ID` from any process) ends it as cancelled;
    cancelling the coroutine itself (a server shutting down) leaves it interrupted.
    Raises ConflictError when a living process already runs it or another task of its kind.
    """
    with store.session() as session:
        kind = kinds.get(get_task(session, task_id).kind)
    run = kind.run(
        store,
        settings,
        task_id,
        cancel_event=cancel_event,
        on_progress=on_progress,
        use_cache=use_cache,
    )
    summary = await run.run()
    summary["stages"] = [stage.as_dict() for stage in kind.stages]
    return summary

"""The streaming scheduler: a dependency graph of model calls on one asyncio loop.

A new tag makes its expansion (or, at the leaf level, its question top-up) ready at once; a
new question is ready to be answered at once, and its conversation's first turn too. Each
conversation turn, once committed, makes the next one ready: a conversation's turns are
sequential, many conversations run at once. Ready work waits in a priority queue where
expansion comes before questions and questions before answers, so the tree fans out early;
among answers and turns, the longest chain still to run goes first.
There are twice as many workers as the project's concurrency: a worker whose reply is
being committed (on the database's writer thread) holds no limiter slot, and during the
burst of question replies up to a slot's worth of workers wait on commits at once, while
the others must still keep the limiter full.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import time
from dataclasses import dataclass

from sqlalchemy.exc import DBAPIError, IntegrityError

from distillset.answers.conversations import (
    ConversationState,
    TurnWriter,
    advance_conversation,
    new_state,
)
from distillset.answers.generate import (
    AnswerOutcome,
    AnswerWriter,
    QuestionReader,
    answer_again,
    answer_question,
    answer_samples,
)
from distillset.answers.soft_labels import soft_labels_note
from distillset.auto.plan import JobSpec, WorkItem, full_subtree, turn_calls
from distillset.auto.progress import JobProgress
from distillset.auto.shared_steps import (
    after_expansion,
    after_questions,
    shares_tree,
    tag_depths,
    tag_of,
    target_of,
)
from distillset.domain import DistillsetError
from distillset.generation.context import DistillContext, full_path
from distillset.generation.semantic_guard import Screen
from distillset.generation.targets import TargetCheck, TargetGone
from distillset.generation.topup import ItemWriter, StepOutcome
from distillset.llm import Gateway
from distillset.questions.generate import generate_questions
from distillset.runs import shared as items
from distillset.runs.shared import DONE, FAILED, SKIPPED, SharedItems
from distillset.store import Store
from distillset.tags.generate import generate_tags

EXPAND, QUESTIONS, ANSWER, TURN = 0, 1, 2, 3
# A shared job: how often a worker with nothing to claim looks again.
CLAIM_POLL_SECONDS = 0.2
# A shared job's item stages and the work each is here.
_ITEM_STAGES = {EXPAND: items.EXPAND, QUESTIONS: items.QUESTIONS, ANSWER: items.ANSWER}
_WORK_OF_STAGE = {stage: kind for kind, stage in _ITEM_STAGES.items()}
_KIND_NAMES = {
    EXPAND: "sub-tags of tag",
    QUESTIONS: "questions of tag",
    ANSWER: "answer to question",
    TURN: "conversation of question",
}


# The event list says what the run is working on, at most this often (a long run's events
# stay few: one item in a thousand replies is named, not each).
WORKING_ON_EVERY = 2.0


@dataclass(order=True)
class _Work:
    priority: tuple[int, int]
    seq: int
    kind: int
    target: int | None = None
    depth: int = 0
    text: str | None = None  # a new question's text, so answering it needs no read
    remaining: int = 0  # a conversation's turns still to make, this one included
    state: ConversationState | None = None  # where its previous turn left it (None: read)


class JobScheduler:
    """Runs one job to the end; counters live in ``progress`` (planned set by the caller)."""

    def __init__(
        self,
        store: Store,
        gateway: Gateway,
        context: DistillContext,
        spec: JobSpec,
        progress: JobProgress,
        *,
        leaf_depth: int,
        task_id: int | None = None,
        workers: int | None = None,
        screen: Screen | None = None,
        shared: SharedItems | None = None,
        wait_for_others: bool = True,
    ) -> None:
        self.store, self.gateway, self.context = store, gateway, context
        self.spec, self.progress, self.task_id = spec, progress, task_id
        self.leaf_depth = leaf_depth
        self._screen = screen  # semantic dedup of new questions, if the job asks for it
        concurrency = context.limits.max_concurrency
        self.workers = workers or 2 * concurrency
        self._queue: asyncio.PriorityQueue[_Work] = asyncio.PriorityQueue()
        self._seq = itertools.count()
        self._pending = 0
        self._idle = asyncio.Event()
        self._crash: BaseException | None = None
        self._answers = AnswerWriter(store)
        self._questions_read = QuestionReader(store, context)
        self._turns = TurnWriter(store, context.project_id)
        # The tags and questions of replies that arrive together: one commit (see top_up).
        self._items = ItemWriter(store)
        # Each request first checks that its tag or question still exists (or is skipped).
        self._targets = TargetCheck(store)
        # The model-written turns of a new conversation.
        self._new_turns = sum(turn_calls(context.multi_turn.rounds))
        # Paths of the tags this run created, so their steps need not read them back.
        self._labels: dict[int | None, tuple[str, ...]] = {None: ()}
        # What became of soft labels asked for and not kept, said once a run for each case.
        self._soft_label_notes: set[str] = set()
        # Answers asked through the provider's batch interface, each waiting on its own.
        batches = gateway.batches
        self._batched_answers = batches is not None and batches.takes("answer")
        self._detached: set[asyncio.Task[bool]] = set()
        # A job that several workers share: its answers (and, where the job allows it, its
        # expansions and question top-ups) are items claimed in the database, not queued
        # here (``wait_for_others``: end only once no worker holds one).
        self._shared = shared
        self._shared_tree = shared is not None and shares_tree(spec)
        self._wait_for_others = wait_for_others
        # Set when an item ends: the feeder may claim another.
        self._item_ended = asyncio.Event()
        self._last_working_on = -WORKING_ON_EVERY

    def _push(
        self,
        kind: int,
        target: int | None,
        depth: int = 0,
        text: str | None = None,
        remaining: int = 0,
        state: ConversationState | None = None,
    ) -> None:
        # Deeper expansions first: they reach the leaves, and so the answers, sooner. Turns
        # rank with answers (one call each), the longest chain left first: a conversation
        # with many turns to go is on the critical path.
        if kind == EXPAND:
            priority = (kind, -depth)
        elif kind in (ANSWER, TURN):
            priority = (ANSWER, -max(1, remaining))
        else:
            priority = (kind, 0)
        self._pending += 1
        self._idle.clear()
        work = _Work(priority, next(self._seq), kind, target, depth, text, remaining, state)
        self._queue.put_nowait(work)

    def seed(self, ready: WorkItem, depths: dict[int, int]) -> None:
        for tag_id in ready.expand:
            self._push(EXPAND, tag_id, 0 if tag_id is None else depths[tag_id])
        for tag_id in ready.questions:
            self._push(QUESTIONS, tag_id)
        for question_id in ready.answers:
            self._push(ANSWER, question_id)
        for question_id, remaining in ready.conversations.items():
            self._push(TURN, question_id, remaining=remaining)

    async def run(self) -> None:
        feeder = None
        if self._shared is not None:
            self._pending += 1  # the feeder: the job is not over while it may claim more
            self._idle.clear()
            feeder = asyncio.create_task(self._feed(self._shared))
        if self._pending == 0:
            return
        workers = [asyncio.create_task(self._worker()) for _ in range(self.workers)]
        if feeder is not None:
            workers.append(feeder)
        try:
            await self._idle.wait()
        finally:
            for worker in [*workers, *self._detached]:
                worker.cancel()
            await asyncio.gather(*workers, *self._detached, return_exceptions=True)
            # Answers handed over by cancelled workers are still committed before we go.
            await self._answers.drain()
            await self._turns.drain()
            await self._items.drain()
            self._targets.close()
        if self._shared is not None:
            await asyncio.to_thread(self._shared.flush)
        if self._crash is not None:
            raise self._crash

    async def _feed(self, shared: SharedItems) -> None:
        """Claim the shared job's items as this worker has room for them (twice the slots it
        holds, so a freed slot finds an item waiting); end once none is left to claim,
        nothing else of this run is pending, and no other worker holds one it waits for (a
        worker that dies leaves its items to be claimed again)."""
        try:
            while True:
                await asyncio.to_thread(shared.flush)
                room = 2 * self.gateway.limiter.usable - (self._pending - 1)
                if room > 0:
                    claimed = await asyncio.to_thread(shared.claim, room)
                    await self._push_claimed(claimed)
                    if claimed:
                        continue
                    if self._pending == 1 and not await self._others_at_work(shared):
                        return
                self._item_ended.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._item_ended.wait(), CLAIM_POLL_SECONDS)
        except Exception as exc:  # a lost database: stop the job, as a worker does
            self._crash = exc
            self._idle.set()
        finally:
            self._pending -= 1
            if self._pending == 0:
                self._idle.set()

    async def _push_claimed(self, claimed: list[items.Item]) -> None:
        expansions = [target for stage, target in claimed if stage == items.EXPAND]
        depths = {}
        if expansions:
            depths = await asyncio.to_thread(self._depths, expansions)
        for stage, target in claimed:
            kind = _WORK_OF_STAGE[stage]
            if kind == EXPAND:
                self._push(EXPAND, tag_of(target), depths.get(target, 0))
            else:
                self._push(kind, target)

    def _depths(self, targets: list[int]) -> dict[int, int]:
        with self.store.session() as session:
            return tag_depths(session, targets)

    async def _others_at_work(self, shared: SharedItems) -> bool:
        """Whether this run waits for items other workers hold (their leases run): any of
        them (``wait_for_others``), else the expansions and top-ups, which add items."""
        if self._wait_for_others:
            return await asyncio.to_thread(shared.held_elsewhere) > 0
        if self._shared_tree:
            growing = (items.EXPAND, items.QUESTIONS)
            return await asyncio.to_thread(shared.held_elsewhere, growing) > 0
        return False

    def _finish_item(
        self, work: _Work, outcome: str, made: int | None = None, short: int | None = None
    ) -> None:
        """A shared job's item ended: the database hears it with the next flush."""
        if self._shared is None:
            return
        if work.kind == ANSWER and work.target is not None:
            self._shared.finished(work.target, outcome)
        elif work.kind in (EXPAND, QUESTIONS) and self._shared_tree:
            stage = _ITEM_STAGES[work.kind]
            self._shared.finished(target_of(work.target), outcome, stage, made=made, short=short)

    async def _worker(self) -> None:
        while True:
            work = await self._queue.get()
            self._say_working_on(work)
            if work.kind == ANSWER and self._batched_answers:
                # Its request waits in a batch for minutes or hours: it holds no worker, so
                # every answer ready joins the batches.
                detached = asyncio.create_task(self._run_item(work))
                self._detached.add(detached)
                detached.add_done_callback(self._detached.discard)
                continue
            if not await self._run_item(work):
                return

    async def _run_item(self, work: _Work) -> bool:
        """Perform one work item; False when the job must stop (see ``_crash``)."""
        try:
            await self._perform(work)
        except TargetGone as exc:
            # Deleted by the user meanwhile: skipped, neither done nor failed.
            self._item_skipped(work, str(exc))
        except (DistillsetError, IntegrityError) as exc:
            # A failure of this item, not of the job.
            self._item_failed(work, _one_line(exc))
        except Exception as exc:
            # Not a model failure (those are counted): a bug or a lost database.
            # Stop the whole job rather than leave a silent gap.
            self._crash = exc
            self._idle.set()
            return False
        finally:
            self._pending -= 1
            self._item_ended.set()
            if self._pending == 0:
                self._idle.set()
        return True

    def _say_working_on(self, work: _Work) -> None:
        now = time.monotonic()
        if now - self._last_working_on < WORKING_ON_EVERY:
            return
        self._last_working_on = now
        if work.kind == ANSWER:
            what = f"{_KIND_NAMES[ANSWER]} {work.target}"
            if work.text:
                what += f": {work.text[:80]}"
        else:
            path = self._labels.get(work.target)
            shown = " > ".join(path) if path else work.target or "topic"
            what = f"{_KIND_NAMES[work.kind]} {shown}"
        self.progress.event(f"working on {what}")

    def _lost(self, work: _Work) -> tuple[int, int]:
        """The tags and questions a work item would have led to (skipped with it)."""
        per_level, per_leaf = self.spec.tags_per_level, self.spec.questions_per_leaf
        if work.kind == EXPAND:
            below, leaves = full_subtree(self.leaf_depth - work.depth - 1, per_level)
            return per_level * (1 + below), per_level * leaves * per_leaf
        if work.kind == QUESTIONS:
            return 0, per_leaf
        return 0, 0

    def _item_skipped(self, work: _Work, reason: str) -> None:
        self._finish_item(work, SKIPPED, made=0, short=0)
        lost_tags, lost_questions = self._lost(work)
        self.progress.add_skipped("tags", lost_tags)
        self.progress.add_skipped("questions", lost_questions)
        if self.spec.singles:
            answers = lost_questions or int(work.kind == ANSWER)
            self.progress.add_skipped("answers", answers * self.spec.samples)
        if self.spec.conversations:
            lost_turns = work.remaining if work.kind == TURN else lost_questions * self._new_turns
            self.progress.add_skipped("turns", lost_turns)
        self.progress.event(f"{_KIND_NAMES[work.kind]} {work.target or 'topic'}: {reason}")

    def _item_failed(self, work: _Work, error: str) -> None:
        wanted = {EXPAND: self.spec.tags_per_level, QUESTIONS: self.spec.questions_per_leaf}
        self._finish_item(work, FAILED, made=0, short=wanted.get(work.kind, 0))
        reason = f"{_KIND_NAMES[work.kind]} {work.target or 'topic'}: {error}"
        if work.kind == EXPAND:
            self._tags_failed(self.spec.tags_per_level, work.depth + 1, reason)
        elif work.kind == QUESTIONS:
            self._questions_failed(self.spec.questions_per_leaf, reason)
        elif work.kind == TURN:
            self._turns_failed(work.remaining, reason)
        else:
            self.progress.add_failed("answers", self.spec.samples, reason)
        self.progress.event(reason, "error")

    def _tags_failed(self, count: int, depth: int, reason: str | None) -> None:
        """``count`` tags at ``depth`` could not be created: they failed; the subtree planned
        below them was never attempted, so it leaves the plan instead of counting as failed
        (else one failed call at the top of a large plan shows billions of failures)."""
        below, leaves = full_subtree(self.leaf_depth - depth, self.spec.tags_per_level)
        self.progress.add_failed("tags", count, reason)
        self.progress.drop_planned("tags", count * below)
        unplanned = count * leaves * self.spec.questions_per_leaf
        self.progress.drop_planned("questions", unplanned)
        if self.spec.singles:
            self.progress.drop_planned("answers", unplanned * self.spec.samples)
        if self.spec.conversations:
            self.progress.drop_planned("turns", unplanned * self._new_turns)

    def _questions_failed(self, count: int, reason: str | None) -> None:
        """``count`` questions could not be created; their answers and conversations leave
        the plan."""
        self.progress.add_failed("questions", count, reason)
        if self.spec.singles:
            self.progress.drop_planned("answers", count * self.spec.samples)
        if self.spec.conversations:
            self.progress.drop_planned("turns", count * self._new_turns)

    def _turns_failed(self, remaining: int, reason: str | None) -> None:
        """A turn failed: the conversation stops there (its stored turns stay, and the next
        run goes on from them); the turns after it were never attempted."""
        self.progress.add_failed("turns", 1, reason)
        self.progress.drop_planned("turns", max(0, remaining - 1))

    async def _perform(self, work: _Work) -> None:
        if work.kind == EXPAND:
            await self._expand(work, work.target, work.depth)
        elif work.kind == QUESTIONS:
            assert work.target is not None
            await self._questions(work, work.target)
        elif work.kind == TURN:
            assert work.target is not None
            await self._turn(work.target, work.remaining, work.state)
        else:
            assert work.target is not None
            await self._answer(work.target, work.text)

    def _account_calls(self, outcome: StepOutcome) -> None:
        for call in outcome.calls:
            self.progress.add_call(call)
        self.progress.calls.failed += outcome.failed_calls

    async def _expand(self, work: _Work, tag_id: int | None, depth: int) -> None:
        outcome = await generate_tags(
            self.store,
            self.gateway,
            self.context,
            tag_id,
            self.spec.tags_per_level,
            task_id=self.task_id,
            labels=self._labels.get(tag_id),
            writer=self._items,
            before_send=self._targets.before_send(
                "project" if tag_id is None else "tag", tag_id or self.context.project_id
            ),
        )
        self._account_calls(outcome)
        self.progress.add_done("tags", len(outcome.created))
        self.progress.note_created("tags", outcome.created)
        child_depth = depth + 1
        parent_labels = self._labels.get(tag_id)
        for child, label in zip(outcome.created, outcome.texts, strict=True):
            if parent_labels is not None:
                self._labels[child] = (*parent_labels, label)
            if self._shared_tree:
                continue  # items for any worker, added below
            if child_depth < self.leaf_depth:
                self._push(EXPAND, child, child_depth)
            elif self.spec.questions_per_leaf:
                self._push(QUESTIONS, child)
        if self._shared is not None and self._shared_tree:
            await asyncio.to_thread(self._add_after_expansion, tag_id, child_depth)
        if outcome.missing:
            reason = f"sub-tags of tag {tag_id or 'topic'}: {outcome.error}"
            self._tags_failed(outcome.missing, child_depth, reason)
            self.progress.event(reason, "error")
        ended = FAILED if outcome.missing else DONE
        self._finish_item(work, ended, made=len(outcome.created), short=outcome.missing)

    def _add_after_expansion(self, tag_id: int | None, child_depth: int) -> None:
        assert self._shared is not None
        with self.store.session() as session:
            follow = after_expansion(
                session,
                self.context.project_id,
                self.spec,
                tag_id,
                child_depth,
                self.leaf_depth,
            )
        for stage in (items.EXPAND, items.QUESTIONS):
            self._shared.add([target for kind, target in follow if kind == stage], stage)

    def _add_after_questions(self, tag_id: int) -> None:
        assert self._shared is not None
        with self.store.session() as session:
            follow = after_questions(session, self.context.project_id, self.spec, tag_id)
        self._shared.add(follow)

    async def _questions(self, work: _Work, tag_id: int) -> None:
        labels = self._labels.pop(tag_id, None)
        outcome = await generate_questions(
            self.store,
            self.gateway,
            self.context,
            tag_id,
            self.spec.questions_per_leaf,
            task_id=self.task_id,
            labels=labels,
            before_send=self._targets.before_send("tag", tag_id),
            screen=self._screen,
            writer=self._items,
        )
        self._account_calls(outcome)
        self.progress.add_done("questions", len(outcome.created))
        self.progress.note_created("questions", outcome.created)
        if self.spec.singles and self._shared is not None:
            # Any worker of the job may answer them (and those a dead worker made before it
            # could say so).
            await asyncio.to_thread(self._add_after_questions, tag_id)
        elif self.spec.singles:
            for question_id, text in zip(outcome.created, outcome.texts, strict=True):
                self._push(ANSWER, question_id, text=text)
        if self.spec.conversations:
            # A new question's conversation starts from memory; its path needs the tag's
            # labels, known for the tags this run created (else its first step reads it).
            path = None if labels is None else full_path(self.context, labels)
            for question_id, text in zip(outcome.created, outcome.texts, strict=True):
                state = None if path is None else new_state(self.context, question_id, text, path)
                self._push(TURN, question_id, remaining=self._new_turns, state=state)
        if outcome.missing:
            reason = f"questions of tag {tag_id}: {outcome.error}"
            self._questions_failed(outcome.missing, reason)
            self.progress.event(reason, "error")
        ended = FAILED if outcome.missing else DONE
        self._finish_item(work, ended, made=len(outcome.created), short=outcome.missing)

    async def _answer(self, question_id: int, text: str | None) -> None:
        before_send = self._targets.before_send("question", question_id)
        if self.spec.samples > 1:
            outcomes = await answer_samples(
                self.store,
                self.gateway,
                self.context,
                question_id,
                self.spec.samples,
                task_id=self.task_id,
                writer=self._answers,
                reader=self._questions_read,
                before_send=before_send,
            )
            for sample in outcomes:
                self._account_answer(sample)
            return
        if self.spec.resample_before is not None:
            outcome = await answer_again(
                self.store,
                self.gateway,
                self.context,
                question_id,
                task_id=self.task_id,
                before_send=before_send,
            )
        else:
            outcome = await answer_question(
                self.store,
                self.gateway,
                self.context,
                question_id,
                task_id=self.task_id,
                text=text,
                writer=self._answers,
                reader=self._questions_read,
                before_send=before_send,
            )
        self._account_answer(outcome)

    def _account_answer(self, outcome: AnswerOutcome) -> None:
        question_id = outcome.question_id
        if outcome.call is not None:
            self.progress.add_call(outcome.call)
            note = soft_labels_note(outcome.call.soft_labels)
            if note is not None and note[0] not in self._soft_label_notes:
                self._soft_label_notes.add(note[0])
                self.progress.event(note[1], "warning")
        # (An item found answered was answered by a worker that died before saying so.)
        ended = SKIPPED if outcome.gone else FAILED if outcome.error is not None else DONE
        self._finish_item(_Work((ANSWER, 0), 0, ANSWER, question_id), ended)
        if outcome.gone:
            self.progress.add_skipped("answers")
        elif outcome.error is not None:
            reason = f"answer to question {question_id}: {outcome.error}"
            self.progress.calls.failed += 1
            self.progress.add_failed("answers", 1, reason)
            self.progress.event(reason, "error")
        else:
            self.progress.add_done("answers")
            if outcome.answer_id is not None:
                self.progress.note_created("answers", [outcome.answer_id])

    async def _turn(
        self, question_id: int, remaining: int, state: ConversationState | None
    ) -> None:
        """One turn of a question's conversation; once committed, the next turn is ready."""
        outcome = await advance_conversation(
            self.store,
            self.gateway,
            self.context,
            question_id,
            state=state,
            writer=self._turns,
            task_id=self.task_id,
            before_send=self._targets.before_send("question", question_id),
        )
        if outcome.call is not None:
            self.progress.add_call(outcome.call)
        if outcome.gone:
            self.progress.add_skipped("turns", remaining)
            return
        if outcome.error is not None:
            reason = f"conversation of question {question_id}: {outcome.error}"
            self.progress.calls.failed += 1
            self._turns_failed(remaining, reason)
            self.progress.event(reason, "error")
            return
        if outcome.position is not None:
            self.progress.add_done("turns")
        # What is left as stored now (another run may have made turns meanwhile).
        expected_left = remaining - (1 if outcome.position is not None else 0)
        if outcome.remaining != expected_left:
            self.progress.drop_planned("turns", max(0, expected_left - outcome.remaining))
        if outcome.remaining > 0:
            self._push(TURN, question_id, remaining=outcome.remaining, state=outcome.state)


def _one_line(exc: BaseException) -> str:
    """An item's error as one readable line: a database error without its SQL and values."""
    if isinstance(exc, DBAPIError):
        detail = str(exc.orig).strip().splitlines()
        return f"the database refused the change: {detail[0] if detail else type(exc).__name__}"
    return f"{type(exc).__name__}: {exc}"

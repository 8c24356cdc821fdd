"""The top-up loop shared by tag and question generation.

Ask the model for what is missing; keep only new, distinct items; commit the items of one
call together; ask again for the rest with a new attempt number (bounded). Every prompt is
built from what is stored, so a resumed run re-sends the identical request and the gateway
answers it from its cache.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

from sqlalchemy import Connection, select
from sqlalchemy.exc import IntegrityError

from distillset.domain import ConflictError, ModelCallError
from distillset.generation.semantic_guard import Screen
from distillset.generation.targets import Kind, TargetGone, target_exists
from distillset.llm import ChatResult, EndpointConfig, Gateway, ModelOutputError
from distillset.llm.gateway import BeforeSend
from distillset.llm.writer import GroupCommit, run_write
from distillset.prompts import empty_list_word
from distillset.store import Project, Store, Tag

# After the first request, ask this many more times for what is still missing.
MAX_EXTRA_ATTEMPTS = 3
# A concurrent writer from another process can make a commit clash; re-read and retry.
COMMIT_RETRIES = 3


class ListStep(Protocol):
    """One kind of generated list (sub-tags of a tag, questions of a tag)."""

    purpose: str

    def target(self) -> tuple[Kind, int]:
        """The row the items are stored under (a tag, or the project for top-level tags)."""
        ...

    def existing(self, connection: Connection) -> list[str]: ...

    def messages(self, existing: Sequence[str], need: int) -> list[dict[str, str]]: ...

    def choose(
        self, connection: Connection, candidates: Sequence[str], existing: Sequence[str], need: int
    ) -> list[str]: ...

    def insert(self, connection: Connection, items: Sequence[str]) -> list[int]: ...


@dataclass
class StepOutcome:
    """What one top-up did: ids created, how many were wanted and are still missing."""

    created: list[int] = field(default_factory=list)
    texts: list[str] = field(default_factory=list)  # of the created items, in the same order
    wanted: int = 0
    error: str | None = None
    calls: list[ChatResult] = field(default_factory=list)
    failed_calls: int = 0

    @property
    def missing(self) -> int:
        return max(0, self.wanted - len(self.created))


def _existing(store: Store, step: ListStep) -> list[str]:
    with store.engine.connect() as connection:
        return step.existing(connection)


def _store_items(
    connection: Connection, step: ListStep, items: Sequence[str], count: int
) -> list[tuple[int, str]]:
    existing = step.existing(connection)
    need = count - len(existing)
    if need <= 0:
        return []
    chosen = step.choose(connection, items, existing, need)
    return list(zip(step.insert(connection, chosen), chosen, strict=True))


def _commit_items(
    store: Store, step: ListStep, items: Sequence[str], count: int
) -> list[tuple[int, str]]:
    """Store the new items of one reply in one transaction: all of them or none."""
    for _attempt in range(COMMIT_RETRIES):
        try:
            # A bare connection, not a Session: this runs for every reply of a run.
            with store.engine.begin() as connection:
                _lock_targets(connection, [step])
                return _store_items(connection, step, items, count)
        except IntegrityError:
            # The tag (or project) was deleted meanwhile, or a concurrent writer clashed.
            kind, row_id = step.target()
            if not target_exists(store, kind, row_id):
                raise TargetGone(kind, row_id) from None
    kind, row_id = step.target()
    raise ConflictError(
        f"the {step.purpose} of {kind} {row_id} kept changing while these were stored; "
        "run the step again"
    )


def _lock_targets(connection: Connection, steps: Sequence[ListStep]) -> None:
    """Hold the rows the items go under until the commit (PostgreSQL; SQLite has one writer):
    two processes topping up the same list (workers sharing a job) count what the other
    stored, so a list never goes over its target. NO KEY UPDATE: rows that merely refer to
    them (their foreign keys) are not held up. Locked in one order (projects, then tags by
    id), so two group commits never wait on each other in a cycle."""
    for kind, row_id in sorted({step.target() for step in steps}):
        table = Project if kind == "project" else Tag
        connection.execute(
            select(table.id).where(table.id == row_id).with_for_update(key_share=True)
        )


@dataclass(frozen=True)
class _Items:
    """The items of one reply to store under its step, up to ``count`` in all."""

    step: ListStep
    items: Sequence[str]
    count: int


class ItemWriter(GroupCommit[_Items, list[tuple[int, str]]]):
    """Group commit of the items of replies that arrive together (a level of the tree
    answers at once): one transaction for them all, each step still reading what its own
    tag has (and the project's questions) inside it. A clash makes them go one by one, with
    their own retries, so one deleted tag fails only its own step."""

    def __init__(self, store: Store) -> None:
        super().__init__(store.engine, self._commit_batch)
        self.store = store

    def _commit_batch(self, writes: list[_Items]) -> list[list[tuple[int, str]] | BaseException]:
        try:
            with self.store.engine.begin() as connection:
                _lock_targets(connection, [w.step for w in writes])
                return [_store_items(connection, w.step, w.items, w.count) for w in writes]
        except IntegrityError:
            results: list[list[tuple[int, str]] | BaseException] = []
            for write in writes:
                try:
                    results.append(_commit_items(self.store, write.step, write.items, write.count))
                except (TargetGone, ConflictError) as exc:
                    results.append(exc)
            return results


async def top_up(
    store: Store,
    gateway: Gateway,
    endpoint: EndpointConfig,
    step: ListStep,
    count: int,
    *,
    task_id: int | None = None,
    before_send: BeforeSend | None = None,
    screen: Screen | None = None,
    writer: ItemWriter | None = None,
) -> StepOutcome:
    """Bring the step's list up to ``count`` items, asking again (bounded) for what is missing.

    ``before_send`` is awaited before each request goes out (see the gateway); ``screen``
    keeps only the proposals it lets through (semantic dedup), the others are refused;
    ``writer`` commits the items together with other steps' (else on their own)."""
    outcome = StepOutcome()
    # Proposals that were not stored (duplicates, also of items elsewhere in the project)
    # are shown as taken in the next request, so the model does not propose them again.
    refused: list[str] = []
    for attempt in range(1 + MAX_EXTRA_ATTEMPTS):
        if attempt > 0 and outcome.missing == 0:
            break  # the last reply filled the list: no need to read it again
        # Off the loop: it serves the other requests of a run meanwhile.
        existing = await asyncio.to_thread(_existing, store, step)
        need = count - len(existing)
        if attempt == 0:
            outcome.wanted = max(0, need)
        if need <= 0 or outcome.missing == 0:
            break
        try:
            reply = await gateway.chat_list(
                endpoint,
                step.messages([*existing, *refused], need),
                purpose=step.purpose,
                task_id=task_id,
                attempt=attempt,
                count=need,
                before_send=before_send,
            )
        except ModelOutputError as exc:
            # An unusable reply: a new attempt number makes the next request a fresh one.
            outcome.failed_calls += 1
            outcome.error = str(exc)
            continue
        except ModelCallError as exc:
            # The gateway already retried transient errors; more attempts would not help.
            outcome.failed_calls += 1
            outcome.error = str(exc)
            break
        outcome.calls.append(reply.result)
        items = list(reply.items) if screen is None else await screen(list(reply.items))
        # On the database's writer thread: the loop keeps serving calls meanwhile.
        if writer is not None:
            stored = await writer.write(_Items(step, items, count))
        else:
            stored = await run_write(store.engine, _commit_items, store, step, items, count)
        for item_id, text in stored[: outcome.missing]:
            outcome.created.append(item_id)
            outcome.texts.append(text)
        kept = {text for _id, text in stored}
        refused.extend(item for item in reply.items if item.strip() and item not in kept)
    if outcome.missing and outcome.error is None:
        outcome.error = (
            f"the model proposed only {len(outcome.created)} new {step.purpose} "
            f"of {outcome.wanted} asked after {1 + MAX_EXTRA_ATTEMPTS} requests"
        )
    return outcome


def bullet_list(items: Sequence[str], language: str) -> str:
    """Existing items as prompt lines, or a word for none in the prompt's language."""
    if not items:
        return empty_list_word(language)
    return "\n".join(f"- {item}" for item in items)

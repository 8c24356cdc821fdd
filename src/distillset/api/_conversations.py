"""The Project's multi-turn part: its setting, and reviewing and judging its conversations."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from distillset import projects, resolve, review
from distillset.api._common import ProgressCallback, ProjectBase, run_blocking
from distillset.kinds import run_task
from distillset.review import RecordFilter


class ConversationMethods(ProjectBase):
    """Multi-turn conversations: one per question, made by `auto(dataset_type="multi")` or
    `generate_answers(dataset_type="multi")`, reviewed as records are."""

    def multi_turn(self, **changes: Any) -> dict[str, Any]:
        """The multi-turn setting (scenario, user_role, assistant_role, rounds,
        system_prompt, user_model); keywords change it first ("" removes a text; user_model
        "none": the question model)."""
        with self._session() as (session, project):
            if changes:
                return projects.update_multi_turn_setting(session, project, **changes).as_dict()
            return projects.multi_turn_setting(session, project.id).as_dict()

    def conversations(
        self,
        *,
        tag: str | None = None,
        confirmed: bool | None = None,
        scored: bool | None = None,
        min_score: float | None = None,
        max_score: float | None = None,
        complete: bool | None = None,
        after: int | None = None,
        limit: int = 50,
    ) -> list[dict[str, Any]]:
        """Conversations in id order with their turns (``after`` an id: the next page)."""
        with self._session() as (session, project):
            record_filter = RecordFilter(
                tag_id=resolve.tag_id(session, project, tag),
                confirmed=confirmed,
                scored=scored,
                min_score=min_score,
                max_score=max_score,
            )
            found = review.list_conversations(
                session, project, record_filter, complete=complete, after=after, limit=limit
            )
            return [record.as_dict() for record in found]

    def conversation(self, conversation_id: int) -> dict[str, Any]:
        """One conversation with every turn (and each teacher turn's reasoning)."""
        with self._session() as (session, project):
            return review.get_conversation(session, project, conversation_id).as_dict()

    def confirm_conversations(self, ids: Iterable[int], *, confirmed: bool = True) -> int:
        """Confirm conversations (``confirmed=False``: take it back); returns how many."""
        with self._session() as (session, project):
            return review.set_conversations_confirmed(session, project, ids, confirmed)

    def score_conversations(
        self, value: float | None, ids: Iterable[int], *, reason: str | None = None
    ) -> int:
        """Score conversations by hand (0-5 in steps of 0.5; None clears the score)."""
        with self._session() as (session, project):
            return review.set_conversation_score(session, project, ids, value, reason=reason)

    def note_conversation(self, conversation_id: int, note: str | None) -> None:
        """Attach a note to a conversation ("" or None removes it)."""
        with self._session() as (session, project):
            review.set_conversation_note(session, project, conversation_id, note)

    def edit_turn(
        self,
        conversation_id: int,
        position: int,
        *,
        content: str | None = None,
        reasoning: str | None = None,
    ) -> dict[str, Any]:
        """Change one turn (0: the question); returns the conversation."""
        with self._session() as (session, project):
            return review.edit_turn(
                session, project, conversation_id, position, content=content, reasoning=reasoning
            ).as_dict()

    def delete_conversations(self, ids: Iterable[int]) -> int:
        """Delete conversations; their questions stay (a later run makes new ones)."""
        with self._session() as (session, project):
            return review.delete_conversations(session, project, ids)

    async def judge_conversations_async(
        self,
        judge_model: str | None = None,
        *,
        ids: Iterable[int] | None = None,
        tag: str | None = None,
        confirmed: bool | None = None,
        scored: bool | None = None,
        min_score: float | None = None,
        max_score: float | None = None,
        rescore: bool = False,
        no_cache: bool = False,
        max_cost: float | None = None,
        on_progress: ProgressCallback | None = None,
    ) -> dict[str, Any]:
        """``judge_conversations`` as a coroutine, for a caller with a running loop."""
        with self._session() as (session, project):
            record_filter = RecordFilter(
                ids=tuple(ids or ()),
                tag_id=resolve.tag_id(session, project, tag),
                confirmed=confirmed,
                scored=scored,
                min_score=min_score,
                max_score=max_score,
            )
            task_id = review.create_conversation_judge_task(
                session,
                project,
                model=judge_model,
                record_filter=record_filter,
                rescore=rescore,
                no_cache=no_cache,
                max_cost=max_cost,
            ).id
        return await run_task(self.store, self.settings, task_id, on_progress=on_progress)

    def judge_conversations(
        self,
        judge_model: str | None = None,
        *,
        ids: Iterable[int] | None = None,
        tag: str | None = None,
        confirmed: bool | None = None,
        scored: bool | None = None,
        min_score: float | None = None,
        max_score: float | None = None,
        rescore: bool = False,
        no_cache: bool = False,
        max_cost: float | None = None,
    ) -> dict[str, Any]:
        """Score complete conversations as a whole, with their scenario, by the judge model
        (default: the answer model): the unscored ones, or with ``rescore`` (or ``ids``)
        scored ones too. A resumable task (``max_cost`` its budget); returns its summary,
        whose ``counters["judged"]`` say how many were scored and failed."""
        return run_blocking(
            self.judge_conversations_async(
                judge_model,
                ids=ids,
                tag=tag,
                confirmed=confirmed,
                scored=scored,
                min_score=min_score,
                max_score=max_score,
                rescore=rescore,
                no_cache=no_cache,
                max_cost=max_cost,
            )
        )

"""The Project's multi-turn part: its setting, and reviewing and judging its conversations."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from distillset import projects, resolve, review
from distillset.api._common import ProjectBase, run_blocking
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

    def judge_conversations(
        self,
        judge_model: str | None = None,
        *,
        ids: list[int] | None = None,
        rescore: bool = False,
    ) -> dict[str, Any]:
        """Score complete conversations as a whole, with their scenario (default: the
        unscored ones) by the judge model (default: the answer model)."""
        with self._session() as (_session, project):
            project_id = project.id
        outcome = run_blocking(
            review.judge_conversations(
                self.store, self.settings, project_id, model=judge_model, ids=ids, rescore=rescore
            )
        )
        return outcome.as_dict()

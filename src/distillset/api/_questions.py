"""`Project`'s question methods: edit, delete, move, export questions alone."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from distillset import export, questions, resolve, tags
from distillset.api._common import ProjectBase
from distillset.questions import QuestionFilter
from distillset.store import Project as ProjectRow


def _filter(
    session: Session,
    project: ProjectRow,
    tag: str | None,
    answered: bool | None,
    search: str | None,
) -> QuestionFilter:
    return QuestionFilter(
        tag_id=resolve.tag_id(session, project, tag), answered=answered, search=search
    )


class QuestionMethods(ProjectBase):
    """Questions are chosen by ids, or by the filters ``tag`` (its subtree), ``answered``
    and ``search``; every question of the project needs ``everything=True``."""

    def edit_question(self, question_id: int, text: str) -> dict[str, Any]:
        """Change a question's text (its answers stay); returns the question."""
        with self._session() as (session, project):
            return questions.edit_question(session, project, question_id, text).as_dict()

    def delete_questions(
        self,
        ids: Iterable[int] | None = None,
        *,
        tag: str | None = None,
        answered: bool | None = None,
        search: str | None = None,
        everything: bool = False,
    ) -> dict[str, int]:
        """Delete questions with their answers (no question asked); returns how many
        ``questions`` and ``answers`` went."""
        with self._session() as (session, project):
            flt = _filter(session, project, tag, answered, search)
            chosen, chosen_filter = questions.chosen_questions(ids, flt, everything)
            deleted = questions.delete_questions(
                session, project, ids=chosen, question_filter=chosen_filter
            )
            return deleted.as_dict()

    def move_questions(
        self,
        ids: Iterable[int] | None = None,
        *,
        to: str,
        tag: str | None = None,
        answered: bool | None = None,
        search: str | None = None,
        everything: bool = False,
    ) -> dict[str, Any]:
        """Move questions (with their answers) under the tag at ``to`` ('A > B'); returns
        how many moved and where."""
        with self._session() as (session, project):
            target = resolve.tag_at(session, project, to)
            flt = _filter(session, project, tag, answered, search)
            chosen, chosen_filter = questions.chosen_questions(ids, flt, everything)
            moved = questions.move_questions(
                session, project, target.id, ids=chosen, question_filter=chosen_filter
            )
            return {
                "moved": moved,
                "tag_id": target.id,
                "tag_path": str(tags.tag_path(session, target)),
            }

    def export_questions(
        self,
        output: str | Path,
        *,
        file_format: str | None = None,
        tag: str | None = None,
        answered: bool | None = None,
        search: str | None = None,
    ) -> dict[str, Any]:
        """Write the questions alone (id, tag path, question) to a .jsonl, .csv, .json or
        .parquet file, for a teacher run elsewhere; returns how many were written."""
        with self._session() as (session, project):
            flt = _filter(session, project, tag, answered, search)
            result = export.export_questions(
                session, project, Path(output), file_format=file_format, question_filter=flt
            )
            return result.as_dict()

"""Reads a run makes for many requests at once: the questions that concurrent answers need
(read together, off the event loop) and whether their targets still exist (checked together;
on SQLite on the loop itself, with a connection of its own)."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import delete, event, text

from distillset.answers.generate import QuestionReader
from distillset.config import Settings
from distillset.generation.context import DistillContext, load_context
from distillset.generation.targets import TargetCheck, TargetGone
from distillset.projects import lifecycle as projects
from distillset.store import Question, Store
from distillset.tags.tree import add_tag_path


def _seed(store: Store, settings: Settings) -> tuple[DistillContext, int, list[int]]:
    with store.session() as session:
        project = projects.create_project(session, "Reads")
        tag = add_tag_path(session, project, "Running > Pacing")
        rows = [Question(project_id=project.id, tag_id=tag.id, text=f"Q{n}?", text_hash=f"h{n}")
                for n in range(4)]  # fmt: skip
        session.add_all(rows)
        session.flush()
        context = load_context(session, project, settings)
        return context, tag.id, [row.id for row in rows]


def test_concurrent_question_reads_are_one_query_and_a_deleted_one_fails_alone(
    database: str, store: Store, settings: Settings
) -> None:
    context, _tag, ids = _seed(store, settings)
    with store.session() as session:
        session.execute(delete(Question).where(Question.id == ids[2]))
    statements: list[str] = []

    def note(_conn: object, _cursor: object, statement: str, *_args: object) -> None:
        if "FROM questions" in statement:
            statements.append(statement)

    async def main() -> list[object]:
        reader = QuestionReader(store, context)
        return await asyncio.gather(*(reader.read(i) for i in ids), return_exceptions=True)

    event.listen(store.engine, "before_cursor_execute", note)
    try:
        results = asyncio.run(main())
    finally:
        event.remove(store.engine, "before_cursor_execute", note)

    assert len(statements) == 1  # the four together
    assert isinstance(results[2], TargetGone)
    read = [r for n, r in enumerate(results) if n != 2]
    assert [getattr(q, "text", None) for q in read] == ["Q0?", "Q1?", "Q3?"]
    assert not any(getattr(q, "answered", True) or getattr(q, "had_error", True) for q in read)


def test_a_target_check_sees_a_delete_made_elsewhere_and_holds_no_snapshot(
    database: str, store: Store, settings: Settings
) -> None:
    _context, tag_id, ids = _seed(store, settings)

    async def main() -> tuple[list[bool], list[bool], bool]:
        check = TargetCheck(store)
        try:
            before = list(await asyncio.gather(*(check.exists("question", i) for i in ids)))
            # Another connection deletes one and commits, as another process would.
            with store.engine.begin() as connection:
                connection.execute(delete(Question).where(Question.id == ids[0]))
            after = list(await asyncio.gather(*(check.exists("question", i) for i in ids)))
            with pytest.raises(TargetGone, match=f"question {ids[0]} was deleted"):
                await check.before_send("question", ids[0])()
            tag_there = await check.exists("tag", tag_id)
            return before, after, tag_there
        finally:
            check.close()

    before, after, tag_there = asyncio.run(main())

    assert before == [True] * 4
    assert after == [False, True, True, True]
    assert tag_there
    if database == "sqlite":
        # No read transaction was left open: a checkpoint can take the whole log.
        with store.engine.connect() as connection:
            busy = connection.execute(text("PRAGMA wal_checkpoint(TRUNCATE)")).one()[0]
        assert busy == 0

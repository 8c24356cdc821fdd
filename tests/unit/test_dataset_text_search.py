"""Text search through the SQLite full-text index finds exactly what the LIKE scan finds,
stays in step with edits and deletes, and indexes rows written before the index existed."""

from __future__ import annotations

import sqlite3

import pytest
from alembic import command
from sqlalchemy import text
from sqlalchemy.orm import Session

from distillset.config import Settings
from distillset.domain import Origin, text_hash
from distillset.projects.lifecycle import create_project
from distillset.questions.listing import list_questions
from distillset.review import text_search
from distillset.review.editing import delete_records, edit_record, list_records
from distillset.review.filters import RecordFilter
from distillset.store import Answer, Project, Question, Store, open_store
from distillset.store.db import alembic_config, make_engine
from distillset.tags.tree import add_tag_path, delete_tag, find_tag

# (tag, question, answer, reasoning): mixed scripts, emoji, quotes and query syntax.
ROWS = [
    ("Code", "Why is Python slow?", "It is INTERPRETED.", "Think about the GIL."),
    ("Code", 'What does "AND" mean in SQL?', "Both conditions hold.", None),
    ("Code", "Is 100% coverage worth it?", "Rarely; a_b tests matter more.", "C:\\path\\x"),
    ("Code", "What does * match in a glob?", "Any run of characters.", "NEAR(a b) is FTS."),
    ("中文", "什么是中文分词？", "把句子切成词语。", "中文没有空格。"),
    ("中文", "Python 用中文怎么说？", "还是叫 Python。", None),
    ("Emoji", "What does 🎉🎉 mean?", "A party 🎉 emoji.", "People use 😀😀😀 too."),
    ("Emoji", "Can I say it's fine?", 'Yes, it\'s fine — "quoted" text too.', "-x OR y"),
    ("Emoji", "A question without an answer about python?", None, None),
    ("Code", "ÉCOLE ou école?", "Schule, SCHOOL.", None),
]

SEARCHES = [
    "python",
    "PYTHON",
    "interpreted",
    "gil",
    '"AND"',
    "AND",
    "and",
    '"',
    '""',
    "*",
    "* m",
    "NEAR(",
    "100%",
    "%",
    "a_b",
    "_",
    "C:\\path",
    "\\",
    "中文",
    "中文分词",
    "中",
    "还是叫",
    "🎉",
    "🎉🎉",
    "😀😀😀",
    "party 🎉",
    "it's",
    "'",
    "-x OR y",
    "OR",
    "—",
    '"quoted"',
    "no such text anywhere",
    "zz",
    "école",
    "ÉCOLE",
    "École",
    "school",
]


def _seed(session: Session) -> Project:
    project = create_project(session, "Search")
    tags = {
        label: add_tag_path(session, project, label, Origin.MANUAL)
        for label in {"Code", "中文", "Emoji"}
    }
    for tag, question, answer, reasoning in ROWS:
        row = Question(
            project_id=project.id, tag_id=tags[tag].id, text=question, text_hash=text_hash(question)
        )
        session.add(row)
        session.flush()
        if answer is not None:
            session.add(
                Answer(
                    question_id=row.id,
                    project_id=project.id,
                    answer=answer,
                    reasoning=reasoning,
                    model="m",
                )
            )
    session.flush()
    return project


def _record_ids(session: Session, project: Project, search: str) -> list[int]:
    page = list_records(session, project, RecordFilter(search=search), limit=500)
    return [record.id for record in page.records]


def _question_ids(session: Session, project: Project, search: str) -> list[int]:
    return [row.id for row in list_questions(session, project.id, search=search, limit=500)]


def _without_index(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(text_search, "has_text_index", lambda _session: False)


def _indexed_question_ids(session: Session, search: str) -> set[int]:
    """What the question index itself holds for the text (stale entries included)."""
    phrase = text_search.fts_phrase(search)
    rows = session.execute(
        text("SELECT rowid FROM questions_fts WHERE questions_fts MATCH :phrase"),
        {"phrase": phrase},
    )
    return {int(row[0]) for row in rows}


def _indexed_answer_ids(session: Session, search: str) -> set[int]:
    phrase = text_search.fts_phrase(search)
    rows = session.execute(
        text("SELECT rowid FROM answers_fts WHERE answers_fts MATCH :phrase"), {"phrase": phrase}
    )
    return {int(row[0]) for row in rows}


def test_the_store_carries_the_text_index(store: Store) -> None:
    with store.session() as session:
        assert text_search.has_text_index(session)


@pytest.mark.parametrize("search", SEARCHES)
def test_indexed_search_finds_what_the_like_scan_finds(
    store: Store, monkeypatch: pytest.MonkeyPatch, search: str
) -> None:
    with store.session() as session:
        project = _seed(session)
        indexed = (_record_ids(session, project, search), _question_ids(session, project, search))
        _without_index(monkeypatch)
        scanned = (_record_ids(session, project, search), _question_ids(session, project, search))
    assert indexed == scanned


def test_the_searches_cover_hits_and_misses(store: Store) -> None:
    """The comparison above means something: most searches find records, some find none."""
    with store.session() as session:
        project = _seed(session)
        found = {search: _record_ids(session, project, search) for search in SEARCHES}
        questions = _question_ids(session, project, "python")
    assert sum(1 for ids in found.values() if ids) >= len(SEARCHES) - 3
    assert found["no such text anywhere"] == [] and found["zz"] == []
    assert len(found["python"]) == 2  # the unanswered third question is no record
    assert len(questions) == 3
    assert len(found["中文"]) == 2 and len(found["🎉"]) == 1


@pytest.mark.parametrize("search", ["python", "中文", "🎉", '"AND"', "école"])
def test_common_terms_scan_with_like_and_find_the_same(
    store: Store, monkeypatch: pytest.MonkeyPatch, search: str
) -> None:
    with store.session() as session:
        project = _seed(session)
        indexed = (_record_ids(session, project, search), _question_ids(session, project, search))
        monkeypatch.setattr(text_search, "COMMON_HITS", 1)  # every term counts as common
        common = (_record_ids(session, project, search), _question_ids(session, project, search))
    assert indexed == common and indexed[1]


def test_a_selective_search_reads_the_index_and_a_short_one_does_not(store: Store) -> None:
    with store.session() as session:
        _seed(session)
        assert "questions_fts MATCH" in str(text_search.question_text_matches(session, "python"))
        record_sql = str(text_search.record_text_matches(session, "python"))
        assert "answers_fts MATCH" in record_sql and "questions_fts MATCH" in record_sql
        assert "MATCH" not in str(text_search.question_text_matches(session, "py"))


def test_edits_and_deletes_keep_the_index_in_step(store: Store) -> None:
    with store.session() as session:
        project = _seed(session)
        record = _record_ids(session, project, "INTERPRETED")[0]

        edit_record(session, project, record, answer="It compiles to bytecode.")
        assert _record_ids(session, project, "interpreted") == []
        assert _record_ids(session, project, "bytecode") == [record]
        assert _indexed_answer_ids(session, "interpreted") == set()

        edit_record(session, project, record, reasoning="Reasoning about the 解释器.")
        assert _record_ids(session, project, "解释器") == [record]
        assert _record_ids(session, project, "the GIL") == []

        edit_record(session, project, record, question="Why is CPython slow?")
        assert _record_ids(session, project, "cpython") == [record]
        question_id = session.get(Answer, record).question_id  # type: ignore[union-attr]
        assert question_id in _indexed_question_ids(session, "cpython")

        delete_records(session, project, ids=[record])
        assert _record_ids(session, project, "bytecode") == []
        assert _indexed_answer_ids(session, "bytecode") == set()
        # The question stays, and is still found by its text.
        assert _question_ids(session, project, "cpython") == [question_id]

        # Deleting a tag removes its questions and answers by foreign-key cascade.
        emoji_questions = _indexed_question_ids(session, "What does 🎉")
        assert emoji_questions
        delete_tag(session, find_tag(session, project, "Emoji"))
        assert _indexed_question_ids(session, "What does 🎉") == set()
        assert _indexed_answer_ids(session, "party 🎉") == set()
        assert _record_ids(session, project, "🎉") == []


def test_the_migration_indexes_rows_stored_before_it(settings: Settings) -> None:
    engine = make_engine(settings.resolved_database_url)
    command.upgrade(alembic_config(engine), "0002_answers_confirmed")
    engine.dispose()
    with sqlite3.connect(settings.home / "distillset.sqlite3") as connection:
        connection.execute(
            "INSERT INTO projects (id, name, topic, description, language, max_concurrency,"
            " max_retries, request_timeout, created_at)"
            " VALUES (1, 'Old', 'Old', '', 'en', 8, 3, 120.0, '2025-01-01 00:00:00')"
        )
        connection.execute(
            "INSERT INTO questions (id, project_id, text, text_hash, origin, created_at)"
            " VALUES (7, 1, 'Wer erfand den Dieselmotor?', 'h7', 'distilled', '2025-01-01')"
        )
        connection.execute(
            "INSERT INTO answers (id, question_id, project_id, variant, answer, reasoning,"
            " model, confirmed, labels, created_at) VALUES (9, 7, 1, 0, 'Rudolf Diesel.',"
            " '柴油机', 'm', 0, '[]', '2025-01-01')"
        )

    store = open_store(settings)
    try:
        with store.session() as session:
            assert text_search.has_text_index(session)
            project = session.get(Project, 1)
            assert project is not None
            assert _indexed_question_ids(session, "dieselmotor") == {7}
            assert _indexed_answer_ids(session, "柴油机") == {9}
            assert _record_ids(session, project, "rudolf") == [9]
            assert _question_ids(session, project, "ERFAND") == [7]
    finally:
        store.close()


def test_phrases_quote_query_syntax() -> None:
    assert text_search.fts_phrase('say "hi" AND *') == '"say ""hi"" AND *"'
    assert text_search.fts_phrase("ab") is None  # too short for a trigram
    assert text_search.fts_phrase("a\x00bc") is None

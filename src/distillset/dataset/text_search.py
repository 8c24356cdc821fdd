"""Text search conditions: the SQLite full-text index where it serves, LIKE otherwise.

Migration 0003 keeps two FTS5 trigram indexes on SQLite: ``questions_fts`` (question text)
and ``answers_fts`` (answer and reasoning). A trigram index finds any substring of three or
more characters, ignoring case, in any script, so it answers the same question as the
LIKE scan it replaces, without reading every row. Shorter searches (no trigram to look up),
databases without the index (PostgreSQL, an SQLite built without trigrams) and text FTS5
cannot take (a NUL character) use (I)LIKE.
"""

from __future__ import annotations

import weakref
from typing import Any

from sqlalchemy import ColumnElement, Engine, Select, column, literal_column, or_, select, table
from sqlalchemy.orm import QueryableAttribute, Session

from distillset.store.models import Answer, Question

# A trigram index looks up three characters at a time; fewer match nothing through it.
MIN_INDEXED_CHARS = 3
QUESTION_INDEX = "questions_fts"
ANSWER_INDEX = "answers_fts"

_has_index: weakref.WeakKeyDictionary[Engine, bool] = weakref.WeakKeyDictionary()


def escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def fts_phrase(search: str) -> str | None:
    """The search as one FTS5 string literal (so quotes, AND, *, ... are plain text), or
    None when the index cannot answer it."""
    if len(search) < MIN_INDEXED_CHARS or "\x00" in search:
        return None
    return '"' + search.replace('"', '""') + '"'


def has_text_index(session: Session) -> bool:
    """Whether this database carries the full-text indexes (checked once per engine)."""
    bind = session.get_bind()
    engine = bind if isinstance(bind, Engine) else bind.engine
    known = _has_index.get(engine)
    if known is None:
        if engine.dialect.name != "sqlite":
            known = False
        else:
            found = session.execute(
                select(literal_column("count(*)"))
                .select_from(table("sqlite_master"))
                .where(
                    column("type") == "table", column("name").in_([QUESTION_INDEX, ANSWER_INDEX])
                )
            ).scalar()
            known = found == 2
        _has_index[engine] = known
    return known


def _matching_rowids(index: str, phrase: str) -> Select[Any]:
    fts = table(index, column("rowid"))
    return select(fts.c.rowid).where(literal_column(index).op("MATCH")(phrase))


def _like(
    session: Session, text_column: QueryableAttribute[Any], search: str
) -> ColumnElement[bool]:
    pattern = f"%{escape_like(search)}%"
    # SQLite's LIKE already ignores ASCII case, without ILIKE's lower() call on every row.
    if session.get_bind().dialect.name == "sqlite":
        return text_column.like(pattern, escape="\\")
    return text_column.ilike(pattern, escape="\\")


def _indexed_phrase(session: Session, search: str) -> str | None:
    phrase = fts_phrase(search)
    return phrase if phrase is not None and has_text_index(session) else None


def question_text_matches(session: Session, search: str) -> ColumnElement[bool]:
    """Questions whose text contains ``search`` (case-insensitive)."""
    phrase = _indexed_phrase(session, search)
    if phrase is None:
        return _like(session, Question.text, search)
    return Question.id.in_(_matching_rowids(QUESTION_INDEX, phrase))


def record_text_matches(session: Session, search: str) -> tuple[ColumnElement[bool], bool]:
    """Answers whose question, answer or reasoning contains ``search``, and whether the
    condition needs ``questions`` joined."""
    phrase = _indexed_phrase(session, search)
    if phrase is None:
        condition = or_(
            _like(session, Question.text, search),
            _like(session, Answer.answer, search),
            _like(session, Answer.reasoning, search),
        )
        return condition, True
    condition = or_(
        Answer.id.in_(_matching_rowids(ANSWER_INDEX, phrase)),
        Answer.question_id.in_(_matching_rowids(QUESTION_INDEX, phrase)),
    )
    return condition, False

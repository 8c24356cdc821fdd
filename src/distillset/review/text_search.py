"""Text search conditions: the SQLite full-text index where it serves, LIKE otherwise.

Migration 0003 keeps two FTS5 trigram indexes on SQLite: ``questions_fts`` (question text)
and ``answers_fts`` (answer and reasoning). A trigram index finds the rows holding a
substring of three or more characters (any script, case folded) without reading every row.
The search keeps LIKE's meaning exactly: the index only narrows the rows that LIKE then
checks (it folds non-ASCII case too, LIKE does not). LIKE alone serves shorter searches
(no trigram to look up), text FTS5 cannot take (a NUL character), terms so common that a
scan finds a page sooner than the index lists every hit, and databases without the index
(PostgreSQL, where ILIKE serves, or an SQLite built without trigrams).
"""

from __future__ import annotations

import weakref
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Engine,
    Select,
    and_,
    column,
    literal_column,
    or_,
    select,
    table,
    text,
)
from sqlalchemy.orm import QueryableAttribute, Session

from distillset.store.models import Answer, Question

# A trigram index looks up three characters at a time; fewer match nothing through it.
MIN_INDEXED_CHARS = 3
# From this many hits on, a term is common: reading every hit from the index costs more
# than a LIKE scan in id order, which fills a page after a few rows.
COMMON_HITS = 20_000
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


def _selective(session: Session, index: str, phrase: str) -> bool:
    """Whether the index holds fewer than COMMON_HITS rows for the phrase (reads at most
    that many)."""
    hits = session.execute(
        text(
            f"SELECT count(*) FROM (SELECT 1 FROM {index} WHERE {index} MATCH :phrase LIMIT :cap)"
        ),
        {"phrase": phrase, "cap": COMMON_HITS},
    ).scalar()
    return int(hits or 0) < COMMON_HITS


def question_text_matches(session: Session, search: str) -> ColumnElement[bool]:
    """Questions whose text contains ``search`` (ASCII case ignored, as LIKE does)."""
    like = _like(session, Question.text, search)
    phrase = _indexed_phrase(session, search)
    if phrase is None or not _selective(session, QUESTION_INDEX, phrase):
        return like
    return and_(Question.id.in_(_matching_rowids(QUESTION_INDEX, phrase)), like)


def record_text_matches(session: Session, search: str) -> ColumnElement[bool]:
    """Answers whose question, answer or reasoning contains ``search``; the condition
    needs ``questions`` joined."""
    like = or_(
        _like(session, Question.text, search),
        _like(session, Answer.answer, search),
        _like(session, Answer.reasoning, search),
    )
    phrase = _indexed_phrase(session, search)
    if (
        phrase is None
        or not _selective(session, ANSWER_INDEX, phrase)
        or not _selective(session, QUESTION_INDEX, phrase)
    ):
        return like
    candidates = or_(
        Answer.id.in_(_matching_rowids(ANSWER_INDEX, phrase)),
        Answer.question_id.in_(_matching_rowids(QUESTION_INDEX, phrase)),
    )
    return and_(candidates, like)

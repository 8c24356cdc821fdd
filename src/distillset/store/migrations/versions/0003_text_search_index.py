"""full-text search indexes (SQLite FTS5, trigram) over questions and answers

Revision ID: 0003_text_search
Revises: 0002_answers_confirmed
Create Date: 2026-11-25 18:30:00

Text search on the dataset and questions pages scanned every row with LIKE (about 0.5 s on a
million questions). Two external-content FTS5 tables with the trigram tokenizer index the
texts instead: trigrams find any substring of three or more characters, ignoring case, in
any script (CJK included). Triggers keep them in step with every insert, edit and delete
(foreign-key cascades included); the upgrade indexes the rows already stored.

Only on SQLite with FTS5 and the trigram tokenizer (SQLite 3.34+); elsewhere (PostgreSQL)
this revision changes nothing and searches keep using (I)LIKE.
"""

from __future__ import annotations

from alembic import op
from sqlalchemy import Connection

revision = "0003_text_search"
down_revision = "0002_answers_confirmed"
branch_labels = None
depends_on = None

TRIGRAM_SINCE = (3, 34, 0)

UPGRADE = [
    # Questions: the text.
    "CREATE VIRTUAL TABLE questions_fts USING fts5("
    "text, content='questions', content_rowid='id', tokenize='trigram')",
    "CREATE TRIGGER questions_fts_insert AFTER INSERT ON questions BEGIN "
    "INSERT INTO questions_fts(rowid, text) VALUES (new.id, new.text); END",
    "CREATE TRIGGER questions_fts_delete AFTER DELETE ON questions BEGIN "
    "INSERT INTO questions_fts(questions_fts, rowid, text) "
    "VALUES ('delete', old.id, old.text); END",
    "CREATE TRIGGER questions_fts_update AFTER UPDATE OF text ON questions BEGIN "
    "INSERT INTO questions_fts(questions_fts, rowid, text) "
    "VALUES ('delete', old.id, old.text); "
    "INSERT INTO questions_fts(rowid, text) VALUES (new.id, new.text); END",
    "INSERT INTO questions_fts(questions_fts) VALUES ('rebuild')",
    # Answers: the answer and the reasoning.
    "CREATE VIRTUAL TABLE answers_fts USING fts5("
    "answer, reasoning, content='answers', content_rowid='id', tokenize='trigram')",
    "CREATE TRIGGER answers_fts_insert AFTER INSERT ON answers BEGIN "
    "INSERT INTO answers_fts(rowid, answer, reasoning) "
    "VALUES (new.id, new.answer, new.reasoning); END",
    "CREATE TRIGGER answers_fts_delete AFTER DELETE ON answers BEGIN "
    "INSERT INTO answers_fts(answers_fts, rowid, answer, reasoning) "
    "VALUES ('delete', old.id, old.answer, old.reasoning); END",
    "CREATE TRIGGER answers_fts_update AFTER UPDATE OF answer, reasoning ON answers BEGIN "
    "INSERT INTO answers_fts(answers_fts, rowid, answer, reasoning) "
    "VALUES ('delete', old.id, old.answer, old.reasoning); "
    "INSERT INTO answers_fts(rowid, answer, reasoning) "
    "VALUES (new.id, new.answer, new.reasoning); END",
    "INSERT INTO answers_fts(answers_fts) VALUES ('rebuild')",
]

DOWNGRADE = [
    "DROP TRIGGER IF EXISTS answers_fts_update",
    "DROP TRIGGER IF EXISTS answers_fts_delete",
    "DROP TRIGGER IF EXISTS answers_fts_insert",
    "DROP TABLE IF EXISTS answers_fts",
    "DROP TRIGGER IF EXISTS questions_fts_update",
    "DROP TRIGGER IF EXISTS questions_fts_delete",
    "DROP TRIGGER IF EXISTS questions_fts_insert",
    "DROP TABLE IF EXISTS questions_fts",
]


def _trigram_fts_available(connection: Connection) -> bool:
    if connection.dialect.name != "sqlite":
        return False
    version = str(connection.exec_driver_sql("SELECT sqlite_version()").scalar())
    if tuple(int(part) for part in version.split(".")[:3]) < TRIGRAM_SINCE:
        return False
    options = {str(row[0]) for row in connection.exec_driver_sql("PRAGMA compile_options")}
    return "ENABLE_FTS5" in options


def upgrade() -> None:
    connection = op.get_bind()
    if not _trigram_fts_available(connection):
        return
    for statement in UPGRADE:
        connection.exec_driver_sql(statement)


def downgrade() -> None:
    connection = op.get_bind()
    if connection.dialect.name != "sqlite":
        return
    for statement in DOWNGRADE:
        connection.exec_driver_sql(statement)

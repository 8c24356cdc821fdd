"""tag counts: a tag's own and its subtree's questions and answered questions, kept by triggers

Revision ID: 0017_tag_counts
Revises: 0016_record_history
Create Date: 2026-12-05 13:30:00

The tree showed each tag's counts, and its subtree's, by reading the questions and answers
below it: a top level of a 100,000-tag, 1,000,000-question project read all of them. A row
per tag in `tag_counts` holds the tag's own numbers (questions, answered: a question with at
least one answer, any variant) and its subtree's (descendants; questions and answered of the
tag and all below), so the tree reads a page's counts by their ids.

Database triggers keep the rows in step with every write, whichever code makes it: a tag's
insert adds its row (its delete removes it by cascade); a question's insert, delete (foreign-key
cascades of a tag or project included) and move to another tag; an answer's insert, delete and
move to another question (the first answer of a question makes it answered, deleting its last
makes it unanswered). A question's delete is counted BEFORE the row goes, while its answers
are still there (their cascade runs after it, and then finds no question to count against).
Every change of a tag's own counts is added to the subtree totals of the tag and its
ancestors (a trigger on tag_counts itself); a tag's insert, delete and move to another parent
add or take its whole subtree from its ancestors'. Walks up the tree follow live tags only, so
in a cascade the deletes below a deleted tag change nothing above it (its own delete, counted
before it goes, took its whole subtree away). A multi-row INSERT of tags must list a parent
before its children (as the ORM does: a child needs its parent's id).

On PostgreSQL the answer triggers run BEFORE each row: a row trigger there sees the rows its
statement handled earlier (not the later ones, as AFTER triggers of a multi-row statement
would), so the first and last answer of a question are told apart within one statement. They
lock the tag's row before looking at the answers, so concurrent writers of one tag's answers
take turns and each sees what the other committed. SQLite runs one writer at a time and fires
AFTER triggers row by row, so plain SQL triggers do there.

The upgrade fills the rows from the tables (under a lock of the three tables on PostgreSQL,
so no write slips between the count and the triggers).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0017_tag_counts"
down_revision = "0016_record_history"
branch_labels = None
depends_on = None

BACKFILL = (
    "INSERT INTO tag_counts (tag_id, questions, answered) "
    "SELECT t.id, "
    "(SELECT count(*) FROM questions q WHERE q.tag_id = t.id), "
    "(SELECT count(*) FROM questions q WHERE q.tag_id = t.id "
    "AND EXISTS (SELECT 1 FROM answers a WHERE a.question_id = q.id)) "
    "FROM tags t"
)
# Then each tag's subtree from the own counts: one walk from every tag down to its descendants.
BACKFILL_SUBTREES = (
    "UPDATE tag_counts SET subtree_tags = s.tags, subtree_questions = s.questions, "
    "subtree_answered = s.answered FROM ("
    "WITH RECURSIVE walk(root, id) AS (SELECT tag_id, tag_id FROM tag_counts "
    "UNION ALL SELECT walk.root, tags.id FROM walk JOIN tags ON tags.parent_id = walk.id) "
    "SELECT walk.root AS root, count(*) - 1 AS tags, sum(c.questions) AS questions, "
    "sum(c.answered) AS answered FROM walk JOIN tag_counts c ON c.tag_id = walk.id "
    "GROUP BY walk.root) AS s WHERE s.root = tag_counts.tag_id"
)

# The tag with the id in the placeholder and its ancestors, live ones only: a walk from a
# deleted tag, or through one deleted in the same cascade, ends there.
_UP = (
    "(WITH RECURSIVE up(id) AS (SELECT id FROM tags WHERE id = {tag} UNION ALL "
    "SELECT p.id FROM up JOIN tags c ON c.id = up.id JOIN tags p ON p.id = c.parent_id) "
    "SELECT id FROM up)"
)


def _add_to_subtrees(tag: str, tags: str, questions: str, answered: str) -> str:
    """Add to the subtree totals of a tag and its ancestors."""
    return (
        f"UPDATE tag_counts SET subtree_tags = subtree_tags + {tags}, "
        f"subtree_questions = subtree_questions + {questions}, "
        f"subtree_answered = subtree_answered + {answered} "
        f"WHERE tag_id IN {_UP.format(tag=tag)}"
    )


# A tag's whole subtree (itself included) as seen from above, in SQLite: its stored totals.
def _subtree_of(tag: str, column: str, plus: str = "") -> str:
    return f"COALESCE((SELECT {column}{plus} FROM tag_counts WHERE tag_id = {tag}), 0)"


# "Has an answer" as 0/1, for the question in the placeholder.
_HAS_ANSWER = "(CASE WHEN EXISTS (SELECT 1 FROM answers WHERE question_id = {q}) THEN 1 ELSE 0 END)"

SQLITE_TRIGGERS = {
    "tag_counts_tag_insert": "AFTER INSERT ON tags BEGIN "
    "INSERT INTO tag_counts (tag_id, questions, answered) VALUES (new.id, 0, 0); "
    f"{_add_to_subtrees('new.parent_id', '1', '0', '0')}; END",
    # Before the delete: the tag's totals are still there. Its descendants' deletes (the
    # cascade) then find no live parent to walk up from.
    "tag_counts_tag_delete": "BEFORE DELETE ON tags BEGIN "
    + _add_to_subtrees(
        "old.parent_id",
        f"-{_subtree_of('old.id', 'subtree_tags', ' + 1')}",
        f"-{_subtree_of('old.id', 'subtree_questions')}",
        f"-{_subtree_of('old.id', 'subtree_answered')}",
    )
    + "; END",
    "tag_counts_tag_move": "AFTER UPDATE OF parent_id ON tags "
    "WHEN old.parent_id IS NOT new.parent_id BEGIN "
    + _add_to_subtrees(
        "old.parent_id",
        f"-{_subtree_of('new.id', 'subtree_tags', ' + 1')}",
        f"-{_subtree_of('new.id', 'subtree_questions')}",
        f"-{_subtree_of('new.id', 'subtree_answered')}",
    )
    + "; "
    + _add_to_subtrees(
        "new.parent_id",
        _subtree_of("new.id", "subtree_tags", " + 1"),
        _subtree_of("new.id", "subtree_questions"),
        _subtree_of("new.id", "subtree_answered"),
    )
    + "; END",
    # Every change of a tag's own counts, whichever trigger made it, reaches its subtree
    # totals and its ancestors'.
    "tag_counts_subtree": "AFTER UPDATE OF questions, answered ON tag_counts "
    "WHEN old.questions <> new.questions OR old.answered <> new.answered BEGIN "
    + _add_to_subtrees(
        "new.tag_id", "0", "new.questions - old.questions", "new.answered - old.answered"
    )
    + "; END",
    "tag_counts_question_insert": "AFTER INSERT ON questions WHEN new.tag_id IS NOT NULL BEGIN "
    "UPDATE tag_counts SET questions = questions + 1, "
    f"answered = answered + {_HAS_ANSWER.format(q='new.id')} WHERE tag_id = new.tag_id; END",
    "tag_counts_question_delete": "BEFORE DELETE ON questions WHEN old.tag_id IS NOT NULL BEGIN "
    "UPDATE tag_counts SET questions = questions - 1, "
    f"answered = answered - {_HAS_ANSWER.format(q='old.id')} WHERE tag_id = old.tag_id; END",
    "tag_counts_question_move": "AFTER UPDATE OF tag_id ON questions "
    "WHEN old.tag_id IS NOT new.tag_id BEGIN "
    "UPDATE tag_counts SET questions = questions - 1, "
    f"answered = answered - {_HAS_ANSWER.format(q='old.id')} WHERE tag_id = old.tag_id; "
    "UPDATE tag_counts SET questions = questions + 1, "
    f"answered = answered + {_HAS_ANSWER.format(q='new.id')} WHERE tag_id = new.tag_id; END",
    # After the insert: the new row is there, so "first" is "no other answer".
    "tag_counts_answer_insert": "AFTER INSERT ON answers "
    "WHEN NOT EXISTS (SELECT 1 FROM answers "
    "WHERE question_id = new.question_id AND id <> new.id) BEGIN "
    "UPDATE tag_counts SET answered = answered + 1 "
    "WHERE tag_id = (SELECT tag_id FROM questions WHERE id = new.question_id); END",
    # After the delete: the row is gone. In a question's cascade the question is gone too.
    "tag_counts_answer_delete": "AFTER DELETE ON answers "
    "WHEN NOT EXISTS (SELECT 1 FROM answers WHERE question_id = old.question_id) BEGIN "
    "UPDATE tag_counts SET answered = answered - 1 "
    "WHERE tag_id = (SELECT tag_id FROM questions WHERE id = old.question_id); END",
    "tag_counts_answer_move": "AFTER UPDATE OF question_id ON answers "
    "WHEN old.question_id IS NOT new.question_id BEGIN "
    "UPDATE tag_counts SET answered = answered - 1 "
    "WHERE tag_id = (SELECT tag_id FROM questions WHERE id = old.question_id) "
    "AND NOT EXISTS (SELECT 1 FROM answers WHERE question_id = old.question_id); "
    "UPDATE tag_counts SET answered = answered + 1 "
    "WHERE tag_id = (SELECT tag_id FROM questions WHERE id = new.question_id) "
    "AND NOT EXISTS (SELECT 1 FROM answers "
    "WHERE question_id = new.question_id AND id <> new.id); END",
}

# PostgreSQL: one plpgsql function per trigger, named as the trigger.
# tag_counts_lock(question) locks the counts row of the question's tag and returns the tag
# (NULL: no such question, or no tag), reading the tag again once locked: a concurrent move
# of the question that held the lock may have changed it meanwhile.
PG_LOCK_FUNCTION = """
CREATE FUNCTION tag_counts_lock(question integer) RETURNS integer LANGUAGE plpgsql AS $$
DECLARE
    tag integer;
    locked integer;
BEGIN
    SELECT tag_id INTO tag FROM questions WHERE id = question;
    LOOP
        IF tag IS NULL THEN
            RETURN NULL;
        END IF;
        PERFORM 1 FROM tag_counts WHERE tag_id = tag FOR UPDATE;
        SELECT tag_id INTO locked FROM questions WHERE id = question;
        IF locked IS NOT DISTINCT FROM tag THEN
            RETURN tag;
        END IF;
        tag := locked;
    END LOOP;
END $$
"""

_HAS_ANSWER_PG = "(EXISTS (SELECT 1 FROM answers WHERE question_id = {q}))::integer"
# In a cascade (a tag's or project's delete) the tag may be gone while its counts row is not
# yet: PostgreSQL checks the foreign key again on a second update of a row within one
# transaction, so the rows of deleted tags are left alone.
_LIVE_TAG = " AND EXISTS (SELECT 1 FROM tags WHERE tags.id = tag_counts.tag_id)"

# name: (timing and event, condition or "", body)
PG_TRIGGERS = {
    "tag_counts_tag_insert": (
        "AFTER INSERT ON tags",
        "",
        "INSERT INTO tag_counts (tag_id, questions, answered) VALUES (NEW.id, 0, 0); "
        f"{_add_to_subtrees('NEW.parent_id', '1', '0', '0')}; RETURN NULL;",
    ),
    # The tag's totals are read locked, after any writer below it has committed.
    "tag_counts_tag_delete": (
        "BEFORE DELETE ON tags",
        "",
        "SELECT subtree_tags + 1, subtree_questions, subtree_answered "
        "INTO n_tags, n_questions, n_answered FROM tag_counts WHERE tag_id = OLD.id FOR UPDATE; "
        + _add_to_subtrees(
            "OLD.parent_id",
            "-COALESCE(n_tags, 0)",
            "-COALESCE(n_questions, 0)",
            "-COALESCE(n_answered, 0)",
        )
        + "; RETURN OLD;",
    ),
    # Before the update, like the answers' triggers: a statement moving several tags moves
    # them one after the other.
    "tag_counts_tag_move": (
        "BEFORE UPDATE OF parent_id ON tags",
        "OLD.parent_id IS DISTINCT FROM NEW.parent_id",
        "SELECT subtree_tags + 1, subtree_questions, subtree_answered "
        "INTO n_tags, n_questions, n_answered FROM tag_counts WHERE tag_id = OLD.id FOR UPDATE; "
        + _add_to_subtrees(
            "OLD.parent_id",
            "-COALESCE(n_tags, 0)",
            "-COALESCE(n_questions, 0)",
            "-COALESCE(n_answered, 0)",
        )
        + "; "
        + _add_to_subtrees(
            "NEW.parent_id",
            "COALESCE(n_tags, 0)",
            "COALESCE(n_questions, 0)",
            "COALESCE(n_answered, 0)",
        )
        + "; RETURN NEW;",
    ),
    "tag_counts_subtree": (
        "AFTER UPDATE OF questions, answered ON tag_counts",
        "OLD.questions <> NEW.questions OR OLD.answered <> NEW.answered",
        _add_to_subtrees(
            "NEW.tag_id", "0", "NEW.questions - OLD.questions", "NEW.answered - OLD.answered"
        )
        + "; RETURN NULL;",
    ),
    "tag_counts_question_insert": (
        "AFTER INSERT ON questions",
        "NEW.tag_id IS NOT NULL",
        "UPDATE tag_counts SET questions = questions + 1, "
        f"answered = answered + {_HAS_ANSWER_PG.format(q='NEW.id')} WHERE tag_id = NEW.tag_id; "
        "RETURN NULL;",
    ),
    # The counts row is locked first, so the answers are read after any concurrent writer
    # of this tag's answers has committed.
    "tag_counts_question_delete": (
        "BEFORE DELETE ON questions",
        "OLD.tag_id IS NOT NULL",
        "PERFORM 1 FROM tag_counts WHERE tag_id = OLD.tag_id FOR UPDATE; "
        "UPDATE tag_counts SET questions = questions - 1, "
        f"answered = answered - {_HAS_ANSWER_PG.format(q='OLD.id')} WHERE tag_id = OLD.tag_id"
        f"{_LIVE_TAG}; RETURN OLD;",
    ),
    "tag_counts_question_move": (
        "AFTER UPDATE OF tag_id ON questions",
        "OLD.tag_id IS DISTINCT FROM NEW.tag_id",
        "PERFORM 1 FROM tag_counts WHERE tag_id IN (OLD.tag_id, NEW.tag_id) "
        "ORDER BY tag_id FOR UPDATE; "
        "UPDATE tag_counts SET questions = questions - 1, "
        f"answered = answered - {_HAS_ANSWER_PG.format(q='OLD.id')} WHERE tag_id = OLD.tag_id; "
        "UPDATE tag_counts SET questions = questions + 1, "
        f"answered = answered + {_HAS_ANSWER_PG.format(q='NEW.id')} WHERE tag_id = NEW.tag_id; "
        "RETURN NULL;",
    ),
    # Before the insert: the new row is not there yet, earlier rows of the statement are.
    "tag_counts_answer_insert": (
        "BEFORE INSERT ON answers",
        "",
        "tag := tag_counts_lock(NEW.question_id); "
        "IF tag IS NOT NULL AND NOT EXISTS "
        "(SELECT 1 FROM answers WHERE question_id = NEW.question_id) THEN "
        "UPDATE tag_counts SET answered = answered + 1 WHERE tag_id = tag; END IF; "
        "RETURN NEW;",
    ),
    # Before the delete: the row is still there. In a question's cascade the question is gone.
    "tag_counts_answer_delete": (
        "BEFORE DELETE ON answers",
        "",
        "tag := tag_counts_lock(OLD.question_id); "
        "IF tag IS NOT NULL AND NOT EXISTS (SELECT 1 FROM answers "
        "WHERE question_id = OLD.question_id AND id <> OLD.id) THEN "
        f"UPDATE tag_counts SET answered = answered - 1 WHERE tag_id = tag{_LIVE_TAG}; END IF; "
        "RETURN OLD;",
    ),
    "tag_counts_answer_move": (
        "BEFORE UPDATE OF question_id ON answers",
        "OLD.question_id IS DISTINCT FROM NEW.question_id",
        "tag := tag_counts_lock(OLD.question_id); "
        "IF tag IS NOT NULL AND NOT EXISTS (SELECT 1 FROM answers "
        "WHERE question_id = OLD.question_id AND id <> OLD.id) THEN "
        "UPDATE tag_counts SET answered = answered - 1 WHERE tag_id = tag; END IF; "
        "tag := tag_counts_lock(NEW.question_id); "
        "IF tag IS NOT NULL AND NOT EXISTS "
        "(SELECT 1 FROM answers WHERE question_id = NEW.question_id) THEN "
        "UPDATE tag_counts SET answered = answered + 1 WHERE tag_id = tag; END IF; "
        "RETURN NEW;",
    ),
}


def _table(name: str) -> str:
    return name.split(" ON ")[1]


def upgrade() -> None:
    op.create_table(
        "tag_counts",
        sa.Column("tag_id", sa.Integer(), nullable=False),
        sa.Column("questions", sa.Integer(), server_default="0", nullable=False),
        sa.Column("answered", sa.Integer(), server_default="0", nullable=False),
        sa.Column("subtree_tags", sa.Integer(), server_default="0", nullable=False),
        sa.Column("subtree_questions", sa.Integer(), server_default="0", nullable=False),
        sa.Column("subtree_answered", sa.Integer(), server_default="0", nullable=False),
        sa.ForeignKeyConstraint(["tag_id"], ["tags.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("tag_id"),
    )
    connection = op.get_bind()
    if connection.dialect.name == "postgresql":
        connection.exec_driver_sql(
            "LOCK TABLE tags, questions, answers IN SHARE ROW EXCLUSIVE MODE"
        )
        connection.exec_driver_sql(PG_LOCK_FUNCTION)
        for name, (event, condition, body) in PG_TRIGGERS.items():
            connection.exec_driver_sql(
                f"CREATE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $$ "
                "DECLARE tag integer; n_tags integer; n_questions integer; "
                f"n_answered integer; BEGIN {body} END $$"
            )
            when = f" WHEN ({condition})" if condition else ""
            connection.exec_driver_sql(
                f"CREATE TRIGGER {name} {event} FOR EACH ROW{when} EXECUTE FUNCTION {name}()"
            )
    else:
        for name, definition in SQLITE_TRIGGERS.items():
            connection.exec_driver_sql(f"CREATE TRIGGER {name} {definition}")
    connection.exec_driver_sql(BACKFILL)
    connection.exec_driver_sql(BACKFILL_SUBTREES)


def downgrade() -> None:
    connection = op.get_bind()
    postgres = connection.dialect.name == "postgresql"
    for name, (event, _condition, _body) in PG_TRIGGERS.items():
        if postgres:
            connection.exec_driver_sql(f"DROP TRIGGER IF EXISTS {name} ON {_table(event)}")
            connection.exec_driver_sql(f"DROP FUNCTION IF EXISTS {name}()")
        else:
            connection.exec_driver_sql(f"DROP TRIGGER IF EXISTS {name}")
    if postgres:
        connection.exec_driver_sql("DROP FUNCTION IF EXISTS tag_counts_lock(integer)")
    op.drop_table("tag_counts")

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
would), so the first and last answer of a question are told apart within one statement.
SQLite runs one writer at a time and fires AFTER triggers row by row, so plain SQL triggers
do there.

PostgreSQL runs several writers of one project at once (a shared job's workers store answers
of many tags in one transaction). A count change locks its tag's row and all its ancestors'
until commit, so two transactions reaching tags under shared ancestors in opposite orders
would each wait for a row the other holds: a deadlock, and one of them aborted. So every
trigger that changes counts first takes the project's transaction-scoped advisory lock
(COUNTS_LOCK, project id): a project's count-changing transactions take turns from their
first count change to their commit, and only the holder ever locks a tag_counts row, so
those rows never make anyone wait. (The trigger on tag_counts itself runs only within the
others, under the lock already.) Holding the lock also means every other count change of the
project is committed or rolled back: under READ COMMITTED each statement of a plpgsql
function takes a fresh snapshot, so the statements after the lock read committed answers and
questions ("is this the first answer?") and committed counts, with no row locks of their
own. A row written but not yet counted (an AFTER trigger waiting for its turn) is counted
against what is committed when its turn comes. (A transaction changing counts of two
projects takes their locks in the order it meets them, so two such in opposite orders could
still deadlock; no writer here changes two projects in one transaction.)

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
# The first key of the two-key advisory locks that give a project's count changes turns
# (the project id is the second); any constant, apart from the migrations' one-key lock.
COUNTS_LOCK = 0x74616763


def _turn(project: str) -> str:
    """Wait for the project's count changes to be this transaction's turn (see above)."""
    return f"PERFORM pg_advisory_xact_lock({COUNTS_LOCK}, {project}); "


# The tag of the question in the placeholder, into `tag` (NULL: no such question, or no tag).
_TAG_OF = "SELECT tag_id INTO tag FROM questions WHERE id = {q}; "

_HAS_ANSWER_PG = "(EXISTS (SELECT 1 FROM answers WHERE question_id = {q}))::integer"
# In a cascade (a tag's or project's delete) the tag may be gone while its counts row is not
# yet: PostgreSQL checks the foreign key again on a second update of a row within one
# transaction, so the rows of deleted tags are left alone.
_LIVE_TAG = " AND EXISTS (SELECT 1 FROM tags WHERE tags.id = tag_counts.tag_id)"

# name: (timing and event, condition or "", body)
PG_TRIGGERS = {
    # Inserts of tags and questions are counted AFTER the row, but take the turn BEFORE it
    # is written: a row written while waiting for the turn would hold its unique keys, and
    # the holder inserting the same label or question text would wait for it in turn (a
    # deadlock, instead of the unique violation the writers expect and handle).
    "tag_counts_tag_turn": ("BEFORE INSERT ON tags", "", _turn("NEW.project_id") + "RETURN NEW;"),
    "tag_counts_question_turn": (
        "BEFORE INSERT ON questions",
        "NEW.tag_id IS NOT NULL",
        _turn("NEW.project_id") + "RETURN NEW;",
    ),
    "tag_counts_tag_insert": (
        "AFTER INSERT ON tags",
        "",
        _turn("NEW.project_id")
        + "INSERT INTO tag_counts (tag_id, questions, answered) VALUES (NEW.id, 0, 0); "
        f"{_add_to_subtrees('NEW.parent_id', '1', '0', '0')}; RETURN NULL;",
    ),
    # The tag's totals are read in turn: any writer below it has committed.
    "tag_counts_tag_delete": (
        "BEFORE DELETE ON tags",
        "",
        _turn("OLD.project_id") + "SELECT subtree_tags + 1, subtree_questions, subtree_answered "
        "INTO n_tags, n_questions, n_answered FROM tag_counts WHERE tag_id = OLD.id; "
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
        _turn("NEW.project_id") + "SELECT subtree_tags + 1, subtree_questions, subtree_answered "
        "INTO n_tags, n_questions, n_answered FROM tag_counts WHERE tag_id = OLD.id; "
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
    # Runs only within the other triggers' updates, which hold the project's turn already.
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
        _turn("NEW.project_id") + "UPDATE tag_counts SET questions = questions + 1, "
        f"answered = answered + {_HAS_ANSWER_PG.format(q='NEW.id')} WHERE tag_id = NEW.tag_id; "
        "RETURN NULL;",
    ),
    # In turn, the answers are read after any concurrent writer of them has committed.
    "tag_counts_question_delete": (
        "BEFORE DELETE ON questions",
        "OLD.tag_id IS NOT NULL",
        _turn("OLD.project_id") + "UPDATE tag_counts SET questions = questions - 1, "
        f"answered = answered - {_HAS_ANSWER_PG.format(q='OLD.id')} WHERE tag_id = OLD.tag_id"
        f"{_LIVE_TAG}; RETURN OLD;",
    ),
    "tag_counts_question_move": (
        "AFTER UPDATE OF tag_id ON questions",
        "OLD.tag_id IS DISTINCT FROM NEW.tag_id",
        _turn("NEW.project_id") + "UPDATE tag_counts SET questions = questions - 1, "
        f"answered = answered - {_HAS_ANSWER_PG.format(q='OLD.id')} WHERE tag_id = OLD.tag_id; "
        "UPDATE tag_counts SET questions = questions + 1, "
        f"answered = answered + {_HAS_ANSWER_PG.format(q='NEW.id')} WHERE tag_id = NEW.tag_id; "
        "RETURN NULL;",
    ),
    # Before the insert: the new row is not there yet, earlier rows of the statement are.
    # The question's tag is read in turn too: a move of the question whose trigger has not
    # run yet counts this answer when it runs (after this transaction's commit).
    "tag_counts_answer_insert": (
        "BEFORE INSERT ON answers",
        "",
        _turn("NEW.project_id")
        + _TAG_OF.format(q="NEW.question_id")
        + "IF tag IS NOT NULL AND NOT EXISTS "
        "(SELECT 1 FROM answers WHERE question_id = NEW.question_id) THEN "
        "UPDATE tag_counts SET answered = answered + 1 WHERE tag_id = tag; END IF; "
        "RETURN NEW;",
    ),
    # Before the delete: the row is still there. In a question's cascade the question is gone.
    "tag_counts_answer_delete": (
        "BEFORE DELETE ON answers",
        "",
        _turn("OLD.project_id")
        + _TAG_OF.format(q="OLD.question_id")
        + "IF tag IS NOT NULL AND NOT EXISTS (SELECT 1 FROM answers "
        "WHERE question_id = OLD.question_id AND id <> OLD.id) THEN "
        f"UPDATE tag_counts SET answered = answered - 1 WHERE tag_id = tag{_LIVE_TAG}; END IF; "
        "RETURN OLD;",
    ),
    "tag_counts_answer_move": (
        "BEFORE UPDATE OF question_id ON answers",
        "OLD.question_id IS DISTINCT FROM NEW.question_id",
        _turn("NEW.project_id")
        + _TAG_OF.format(q="OLD.question_id")
        + "IF tag IS NOT NULL AND NOT EXISTS (SELECT 1 FROM answers "
        "WHERE question_id = OLD.question_id AND id <> OLD.id) THEN "
        "UPDATE tag_counts SET answered = answered - 1 WHERE tag_id = tag; END IF; "
        + _TAG_OF.format(q="NEW.question_id")
        + "IF tag IS NOT NULL AND NOT EXISTS "
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
    op.drop_table("tag_counts")

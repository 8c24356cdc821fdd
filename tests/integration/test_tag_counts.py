"""The counts the database keeps per tag (tag_counts, migration 0017) against a recount from
the tables, after every kind of write, on SQLite and PostgreSQL; and the tree's subtree
counts read from them after tag moves and deletes."""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import Connection, delete, exists, func, insert, inspect, select, text, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from distillset.config import Settings
from distillset.domain import Origin, text_hash
from distillset.projects.lifecycle import create_project, delete_project, get_project
from distillset.questions import delete_questions, move_questions
from distillset.review import delete_records, import_dataset
from distillset.store import Answer, Project, Question, Store, Tag, TagCounts, open_store
from distillset.store.db import alembic_config
from distillset.tags import add_subtree_counts, child_rows
from distillset.tags.tree import add_tag_path, delete_tag, find_tag, move_tag

Counts = dict[int, tuple[int, int, int, int, int]]


def recount(session: Session) -> Counts:
    """Each tag's questions and answered questions, and its subtree's (descendants, questions
    and answered of the tag and all below), counted from the tables."""
    answered = exists().where(Answer.question_id == Question.id)
    questions = dict(
        session.execute(select(Question.tag_id, func.count()).group_by(Question.tag_id)).all()
    )
    with_answers = dict(
        session.execute(
            select(Question.tag_id, func.count()).where(answered).group_by(Question.tag_id)
        ).all()
    )
    parents = dict(session.execute(select(Tag.id, Tag.parent_id)).all())
    totals = {tag_id: [0, 0, 0] for tag_id in parents}
    for tag_id in parents:
        own = (int(questions.get(tag_id, 0)), int(with_answers.get(tag_id, 0)))
        above: int | None = tag_id
        while above is not None:
            total = totals[above]
            total[0] += above != tag_id
            total[1] += own[0]
            total[2] += own[1]
            above = parents[above]
    return {
        tag_id: (int(questions.get(tag_id, 0)), int(with_answers.get(tag_id, 0)), *total)
        for tag_id, (*total,) in totals.items()
    }


def stored(session: Session) -> Counts:
    rows = session.execute(
        select(
            TagCounts.tag_id,
            TagCounts.questions,
            TagCounts.answered,
            TagCounts.subtree_tags,
            TagCounts.subtree_questions,
            TagCounts.subtree_answered,
        )
    )
    return {tag_id: tuple(counts) for tag_id, *counts in rows}  # type: ignore[misc]


def _question(session: Session, project: Project, tag: Tag | None, text_: str) -> Question:
    question = Question(
        project_id=project.id,
        tag_id=tag.id if tag else None,
        text=text_,
        text_hash=text_hash(text_),
    )
    session.add(question)
    session.flush()
    return question


def _answer(session: Session, question: Question, variant: int = 0) -> Answer:
    answer = Answer(
        question_id=question.id,
        project_id=question.project_id,
        variant=variant,
        answer=f"Answer {variant} to {question.text}",
    )
    session.add(answer)
    session.flush()
    return answer


def _by_text(session: Session, text_: str) -> Question:
    return session.scalars(select(Question).where(Question.text == text_)).one()


def _sports(session: Session) -> None:
    sports = create_project(session, "Sports")
    rules = add_tag_path(session, sports, "Ball games > Football > Rules", Origin.MANUAL)
    add_tag_path(session, sports, "Ball games > Tennis", Origin.MANUAL)
    add_tag_path(session, sports, "Running", Origin.MANUAL)
    other = create_project(session, "Other")
    chess = add_tag_path(session, other, "Chess", Origin.MANUAL)
    _answer(session, _question(session, other, chess, "Castling?"))
    _question(session, other, chess, "En passant?")
    assert rules.depth == 3


def _insert_questions(session: Session) -> None:
    sports = get_project(session, "Sports")
    football = find_tag(session, sports, "Ball games > Football")
    rules = find_tag(session, sports, "Ball games > Football > Rules")
    tennis = find_tag(session, sports, "Ball games > Tennis")
    for text_ in ("Offside?", "Penalty?", "Corner?"):
        _question(session, sports, football, text_)
    for text_ in ("Handball?", "Free kick?"):
        _question(session, sports, rules, text_)
    for text_ in ("Deuce?", "Let?"):
        _question(session, sports, tennis, text_)
    _question(session, sports, None, "Untagged?")


def _add_answers(session: Session) -> None:
    for text_ in ("Offside?", "Handball?", "Deuce?", "Untagged?"):
        _answer(session, _by_text(session, text_))
    _answer(session, _by_text(session, "Offside?"), variant=1)  # a second sample


def _two_answers_in_one_statement(session: Session) -> None:
    # One multi-row INSERT: its second row is not the question's first answer.
    question = _by_text(session, "Penalty?")
    session.execute(
        insert(Answer).values(
            [
                {"question_id": question.id, "project_id": question.project_id, "variant": v}
                | {"answer": f"Penalty {v}", "labels": []}
                for v in (0, 1, 2)
            ]
        )
    )


def _delete_one_of_two_answers(session: Session) -> None:
    offside = _by_text(session, "Offside?")
    first = session.scalars(
        select(Answer.id).where(Answer.question_id == offside.id, Answer.variant == 0)
    ).one()
    delete_records(session, get_project(session, "Sports"), ids=[first])


def _delete_all_answers_in_one_statement(session: Session) -> None:
    penalty = _by_text(session, "Penalty?")
    session.execute(delete(Answer).where(Answer.question_id == penalty.id))


def _delete_a_last_answer(session: Session) -> None:
    handball = _by_text(session, "Handball?")
    last = session.scalars(select(Answer.id).where(Answer.question_id == handball.id)).one()
    delete_records(session, get_project(session, "Sports"), ids=[last])


def _move_questions(session: Session) -> None:
    sports = get_project(session, "Sports")
    running = find_tag(session, sports, "Running")
    moved = [_by_text(session, t).id for t in ("Offside?", "Corner?", "Deuce?", "Untagged?")]
    move_questions(session, sports, running.id, ids=moved)
    # Back to no tag, and from no tag to one, by hand.
    session.execute(update(Question).where(Question.text == "Corner?").values(tag_id=None))


def _move_an_answer(session: Session) -> None:
    # Offside's only answer goes to Let?: Offside becomes unanswered, Let answered.
    offside, let = _by_text(session, "Offside?"), _by_text(session, "Let?")
    session.execute(
        update(Answer).where(Answer.question_id == offside.id).values(question_id=let.id)
    )


def _delete_questions(session: Session) -> None:
    sports = get_project(session, "Sports")
    delete_questions(session, sports, ids=[_by_text(session, "Let?").id])
    # Deleted with its answer still there: the answer goes by cascade.
    _answer(session, _by_text(session, "Free kick?"))
    session.execute(delete(Question).where(Question.text == "Free kick?"))


def _move_a_tag(session: Session) -> None:
    sports = get_project(session, "Sports")
    tennis = find_tag(session, sports, "Ball games > Tennis")
    _answer(session, _question(session, sports, tennis, "Tie break?"))
    move_tag(session, tennis, find_tag(session, sports, "Running"))
    # A tag with a subtree of its own (Rules), two levels down.
    move_tag(session, find_tag(session, sports, "Ball games > Football"), tennis)


def _import(session: Session, tmp_path: Path) -> None:
    rows = [
        {"instruction": "Marathon?", "output": "42 km."},
        {"instruction": "Sprint?", "output": "100 m."},
        {"instruction": "Handball?", "output": "Already asked."},  # a duplicate: skipped
    ]
    path = tmp_path / "running.jsonl"
    path.write_text("\n".join(json.dumps(row) for row in rows), encoding="utf-8")
    sports = get_project(session, "Sports")
    result = import_dataset(session, sports, path, tag_id=find_tag(session, sports, "Running").id)
    assert (result.questions, result.duplicates) == (2, 1)


def _delete_a_tag_subtree(session: Session) -> None:
    sports = get_project(session, "Sports")
    delete_tag(session, find_tag(session, sports, "Running > Tennis > Football"))


def _delete_a_top_level_tag(session: Session) -> None:
    sports = get_project(session, "Sports")
    delete_tag(session, find_tag(session, sports, "Ball games"))


def _delete_a_project(session: Session) -> None:
    delete_project(session, get_project(session, "Sports"))


def steps(tmp_path: Path) -> list[tuple[str, Callable[[Session], None]]]:
    return [
        ("projects and tags", _sports),
        ("insert questions", _insert_questions),
        ("add answers", _add_answers),
        ("answers in one statement", _two_answers_in_one_statement),
        ("delete one of two answers", _delete_one_of_two_answers),
        ("delete all answers in one statement", _delete_all_answers_in_one_statement),
        ("delete a last answer", _delete_a_last_answer),
        ("move questions", _move_questions),
        ("move an answer", _move_an_answer),
        ("delete questions", _delete_questions),
        ("move a tag", _move_a_tag),
        ("import", lambda session: _import(session, tmp_path)),
        ("delete a tag subtree", _delete_a_tag_subtree),
        ("delete a top-level tag", _delete_a_top_level_tag),
        ("delete a project", _delete_a_project),
    ]


def _check_tree(session: Session) -> None:
    """The tree's top level shows the counts the tables give."""
    counts = recount(session)
    for project_id in session.scalars(select(Project.id)):
        rows = child_rows(session, project_id, None)
        add_subtree_counts(session, rows)
        for row in rows:
            shown = (row.questions, row.answered)
            shown += (row.subtree_tags, row.subtree_questions, row.subtree_answered)
            assert shown == counts[row.id]


def test_kept_counts_equal_a_recount_after_every_write(
    store: Store, database: str, tmp_path: Path
) -> None:
    seen_answered = False
    for name, step in steps(tmp_path):
        with store.session() as session:
            step(session)
        with store.session() as session:
            expected = recount(session)
            assert stored(session) == expected, f"after {name}"
            _check_tree(session)
            seen_answered |= any(counts[1] for counts in expected.values())
    assert seen_answered  # the writes did reach the answered counts
    with store.session() as session:
        # Only the other project is left, with its own counts.
        chess = find_tag(session, get_project(session, "Other"), "Chess")
        assert stored(session) == {chess.id: (2, 1, 0, 2, 1)}


TRIGGERS = {
    "tag_counts_tag_insert": "tags",
    "tag_counts_tag_delete": "tags",
    "tag_counts_tag_move": "tags",
    "tag_counts_subtree": "tag_counts",
    "tag_counts_question_insert": "questions",
    "tag_counts_question_delete": "questions",
    "tag_counts_question_move": "questions",
    "tag_counts_answer_insert": "answers",
    "tag_counts_answer_delete": "answers",
    "tag_counts_answer_move": "answers",
}


@pytest.mark.parametrize("trigger", sorted(TRIGGERS))
def test_each_trigger_is_needed(store: Store, database: str, tmp_path: Path, trigger: str) -> None:
    """Without any one of the triggers, some write leaves the kept counts wrong."""
    with store.engine.begin() as connection:
        on_table = f" ON {TRIGGERS[trigger]}" if database == "postgresql" else ""
        connection.execute(text(f"DROP TRIGGER {trigger}{on_table}"))
    wrong = []
    for name, step in steps(tmp_path):
        with store.session() as session:
            step(session)
        with store.session() as session:
            if stored(session) != recount(session):
                wrong.append(name)
    assert wrong, f"no write needed {trigger}"


def test_the_upgrade_counts_what_is_stored_and_the_downgrade_removes_it(
    settings: Settings, database: str
) -> None:
    store = open_store(settings)  # opens at the head: undo 0017 to seed without its triggers
    command.downgrade(alembic_config(store.engine), "0016_record_history")
    assert "tag_counts" not in inspect(store.engine).get_table_names()
    with store.session() as session:
        sports = create_project(session, "Sports")
        tennis = add_tag_path(session, sports, "Ball games > Tennis", Origin.MANUAL)
        _answer(session, _question(session, sports, tennis, "Deuce?"), variant=1)
        _answer(session, _question(session, sports, tennis, "Let?"))
        _question(session, sports, tennis, "Ace?")
    store.close()
    store = open_store(settings)  # upgrades again, counting the rows above
    try:
        with store.session() as session:
            tennis = find_tag(session, get_project(session, "Sports"), "Ball games > Tennis")
            assert stored(session)[tennis.id] == (3, 2, 0, 3, 2)
            ball = find_tag(session, get_project(session, "Sports"), "Ball games")
            assert stored(session)[ball.id] == (0, 0, 1, 3, 2)
            assert stored(session) == recount(session)
    finally:
        store.close()


# PostgreSQL: writers of one project at once (shared jobs' workers). Each count change
# updates its tag's row and all its ancestors'; two transactions changing tags under shared
# ancestors in opposite orders must take turns, not deadlock.

# ("question" | "same question", a tag's name) or ("answer", the question's text)
Step = tuple[str, str]


def _shared_ancestors(store: Store) -> dict[str, int]:
    """Sports > Ball games > Football and > Tennis, one question each that has no answer
    yet; and Running, a tag of its own. Returns the tags' ids by name."""
    with store.session() as session:
        sports = create_project(session, "Sports")
        football = add_tag_path(session, sports, "Ball games > Football", Origin.MANUAL)
        tennis = add_tag_path(session, sports, "Ball games > Tennis", Origin.MANUAL)
        running = add_tag_path(session, sports, "Running", Origin.MANUAL)
        _question(session, sports, football, "Offside?")
        _question(session, sports, tennis, "Deuce?")
        return {
            "project": sports.id,
            "Football": football.id,
            "Tennis": tennis.id,
            "Running": running.id,
        }


def _write(connection: Connection, ids: dict[str, int], step: Step, variant: int) -> None:
    """A question under the tag named (a new text, or always the same), or an answer (of this
    `variant`) to the question."""
    kind, where = step
    if kind in ("question", "same question"):
        text_ = "Same?" if kind == "same question" else f"{where} question {uuid.uuid4().hex}"
        connection.execute(
            insert(Question).values(
                project_id=ids["project"], tag_id=ids[where], text=text_, text_hash=text_hash(text_)
            )
        )
    else:
        question_id = connection.scalar(select(Question.id).where(Question.text == where))
        connection.execute(
            insert(Answer).values(
                question_id=question_id,
                project_id=ids["project"],
                variant=variant,
                answer=f"To {where}",
            )
        )


def _wait_until_blocked(watcher: Connection, pid: int, worker: threading.Thread) -> None:
    """Until the backend `pid` waits for a lock (or its thread ended: it did not wait)."""
    for _ in range(2000):
        waiting = watcher.scalar(
            text("SELECT wait_event_type = 'Lock' FROM pg_stat_activity WHERE pid = :pid"),
            {"pid": pid},
        )
        if waiting or not worker.is_alive():
            return
        time.sleep(0.01)
    raise AssertionError(f"backend {pid} neither waited for a lock nor finished")


def _interleave(store: Store, ids: dict[str, int], first: list[Step], second: list[Step]) -> None:
    """`first` writes its first step; `second` starts its transaction, which waits behind it
    (before the fix, on one of its ancestors' rows); then `first` goes on: without turns,
    each waits for a row the other holds. Both commit; a deadlock is raised here."""
    errors: list[BaseException] = []

    def run_second(connection: Connection) -> None:
        try:
            with connection.begin():
                for step in second:
                    _write(connection, ids, step, variant=1)
        except BaseException as exc:  # raised again in the test's thread
            errors.append(exc)

    with store.engine.connect() as a, store.engine.connect() as b, store.engine.connect() as w:
        for connection in (a, b):  # a bug here fails the test instead of hanging it
            connection.execute(text("SET lock_timeout = '20s'"))
            connection.commit()
        b_pid = b.scalar(text("SELECT pg_backend_pid()"))
        b.commit()
        with a.begin():
            _write(a, ids, first[0], variant=0)
            worker = threading.Thread(target=run_second, args=(b,))
            worker.start()
            _wait_until_blocked(w, b_pid, worker)
            for step in first[1:]:
                _write(a, ids, step, variant=0)
        worker.join()
    if errors:
        raise errors[0]


OPPOSITE_ORDERS = {
    "questions": (
        [("question", "Football"), ("question", "Tennis"), ("question", "Running")],
        [("question", "Tennis"), ("question", "Football")],
    ),
    # Both add the first answer of each of the two questions: only one of them counts each.
    "first answers of the same questions": (
        [("answer", "Offside?"), ("answer", "Deuce?")],
        [("answer", "Deuce?"), ("answer", "Offside?")],
    ),
    "questions and answers": (
        [("question", "Football"), ("answer", "Deuce?"), ("question", "Running")],
        [("answer", "Deuce?"), ("question", "Running"), ("answer", "Offside?")],
    ),
}


@pytest.mark.parametrize("case", sorted(OPPOSITE_ORDERS))
def test_concurrent_writers_under_shared_ancestors_take_turns(
    store: Store, postgres_url: str, case: str
) -> None:
    ids = _shared_ancestors(store)
    first, second = OPPOSITE_ORDERS[case]
    _interleave(store, ids, first, second)
    with store.session() as session:
        counts = stored(session)
        assert counts == recount(session)
        if case == "first answers of the same questions":
            assert counts[ids["Football"]][:2] == (1, 1)
            assert counts[ids["Tennis"]][:2] == (1, 1)


def test_a_concurrent_duplicate_question_clashes_instead_of_deadlocking(
    store: Store, postgres_url: str
) -> None:
    """The second transaction's question waits for its turn before it is written, so the
    first one's question of the same text is stored, and the second gets the unique
    violation that question writers handle (not a deadlock)."""
    ids = _shared_ancestors(store)
    first = [("question", "Football"), ("same question", "Running")]
    second = [("same question", "Tennis")]
    with pytest.raises(IntegrityError):
        _interleave(store, ids, first, second)
    with store.session() as session:
        assert _by_text(session, "Same?").tag_id == ids["Running"]
        assert stored(session) == recount(session)

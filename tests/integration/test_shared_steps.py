"""What follows a shared job's expansion or top-up is read from what is stored: done again
after a worker died between storing its rows and adding their items, a step that creates
nothing new still adds the items of what the dead worker made (and none twice)."""

from __future__ import annotations

from sqlalchemy import select

from distillset.auto.plan import JobSpec, WorkItem
from distillset.auto.shared_steps import (
    after_expansion,
    after_questions,
    planned_items,
    shares_tree,
    tag_depths,
)
from distillset.domain import text_hash
from distillset.store import Answer, Question, Store, Tag
from helpers import make_project

PER_LEVEL, PER_LEAF = 2, 2


def _tag(store: Store, project_id: int, label: str, parent: int | None, depth: int) -> int:
    with store.session() as session:
        tag = Tag(
            project_id=project_id, parent_id=parent, label=label, label_key=label, depth=depth
        )
        session.add(tag)
        session.flush()
        return tag.id


def _question(store: Store, project_id: int, tag_id: int, text: str) -> int:
    with store.session() as session:
        question = Question(
            project_id=project_id, tag_id=tag_id, text=text, text_hash=text_hash(text)
        )
        session.add(question)
        session.flush()
        return question.id


def test_an_expansion_done_again_adds_the_items_of_what_is_stored(
    database: str, store: Store
) -> None:
    project = make_project(store, "http://127.0.0.1:9/v1", "Sports")
    spec = JobSpec(levels=2, tags_per_level=PER_LEVEL, questions_per_leaf=PER_LEAF, answer=True)
    # A dead worker expanded the top level: its children are stored, their items are not.
    fresh = _tag(store, project, "Running", None, 1)
    full = _tag(store, project, "Cycling", None, 1)  # expanded already (its item ran)
    leaves = [_tag(store, project, f"Leaf {n}", full, 2) for n in range(PER_LEVEL)]
    _question(store, project, leaves[0], "How do I pace a climb?")

    with store.session() as session:
        top = after_expansion(session, project, spec, None, 1, leaf_depth=2)
        below = after_expansion(session, project, spec, full, 2, leaf_depth=2)
        depths = tag_depths(session, [0, fresh, leaves[1]])

    assert top == [("expand", fresh)]  # the full one needs no item of its own
    assert below == [("questions", leaves[0]), ("questions", leaves[1])]
    assert depths == {0: 0, fresh: 1, leaves[1]: 2}


def test_a_top_up_done_again_adds_every_unanswered_question_of_its_leaf(
    database: str, store: Store
) -> None:
    project = make_project(store, "http://127.0.0.1:9/v1", "Sports")
    spec = JobSpec(levels=1, tags_per_level=1, questions_per_leaf=PER_LEAF, answer=True)
    leaf = _tag(store, project, "Running", None, 1)
    answered = _question(store, project, leaf, "What is a tempo run?")
    waiting = _question(store, project, leaf, "How long is a marathon?")
    with store.session() as session:
        session.add(Answer(project_id=project, question_id=answered, answer="A steady run."))

    with store.session() as session:
        follow = after_questions(session, project, spec, leaf)
        answered_ids = list(session.scalars(select(Answer.question_id)))

    assert answered_ids == [answered]
    assert follow == [waiting]


def test_which_steps_a_job_shares() -> None:
    ready = WorkItem(expand=[None, 4], questions=[5], answers=[6], conversations={})
    tree = JobSpec(levels=2, tags_per_level=2, questions_per_leaf=2, answer=True)
    items, left = planned_items(tree, ready)

    assert items == [("expand", 0), ("expand", 4), ("questions", 5), ("answer", 6)]
    assert left == WorkItem()
    # Where new questions pass a semantic screen, only the answers are items.
    screened = JobSpec(
        levels=2, tags_per_level=2, questions_per_leaf=2, answer=True, semantic_dedup=0.9
    )
    assert not shares_tree(screened)
    items, left = planned_items(screened, ready)
    assert items == [("answer", 6)]
    assert (left.expand, left.questions, left.answers) == ([None, 4], [5], [])

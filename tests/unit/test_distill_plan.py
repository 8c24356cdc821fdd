"""Planning and duplicate detection: exact counts from parameters and the existing tree."""

from __future__ import annotations

import pytest

from distillset.auto.plan import answers_spec, auto_spec, plan_job, questions_spec, tags_spec
from distillset.domain import InvalidInputError, Origin
from distillset.generation.dedup import comparison_key, is_near_duplicate, pick_new
from distillset.projects import lifecycle as projects
from distillset.store import Answer, Question, Store
from distillset.tags import tree as tags


@pytest.mark.parametrize(
    ("left", "right", "same"),
    [
        ("Ball games", "ball games.", True),
        ("Ball games", "Ball game", True),
        ("Colour theory", "Color theory", True),
        ("Level 1 drills", "Level 2 drills", False),
        ("AI", "ML", False),
        ("Ethics of school sport programmes", "History of school sport programmes", False),
        ("足球运动的基础知识", "足球运动的历史与演变", False),
        ("What role do rules play in football?", "What role do rules play in football", True),
        ("What role do rules play in football?", "How do rules influence football?", False),
    ],
)
def test_near_duplicates(left: str, right: str, same: bool) -> None:
    assert is_near_duplicate(comparison_key(left), comparison_key(right)) is same


def test_pick_new_keeps_order_drops_duplicates_and_cuts_to_the_limit() -> None:
    chosen = pick_new(
        ["Tennis", "Football", "football!", "Swimming", "  ", "Rowing", "Cycling"],
        existing=["Tennis"],
        limit=3,
    )
    assert chosen == ["Football", "Swimming", "Rowing"]


@pytest.mark.parametrize(
    ("levels", "per_level", "questions", "expected"),
    [
        (1, 3, 2, (3, 3, 6)),
        (2, 3, 2, (12, 9, 18)),
        (3, 2, 1, (14, 8, 8)),
        (2, 10, 10, (110, 100, 1000)),
    ],
)
def test_plan_of_an_empty_tree(
    store: Store, levels: int, per_level: int, questions: int, expected: tuple[int, int, int]
) -> None:
    with store.session() as session:
        project = projects.create_project(session, "Sports")
        plan, ready = plan_job(
            session, project.id, auto_spec(levels=levels, tags=per_level, questions=questions)
        )
    assert (plan.tags, plan.leaves, plan.questions) == expected
    assert plan.answers == plan.questions
    expansions = sum(per_level**level for level in range(levels))
    assert plan.calls == {"tags": expansions, "questions": plan.leaves, "answer": plan.answers}
    assert ready.expand == [None] and ready.questions == [] and ready.answers == []


def test_plan_tops_up_what_exists(store: Store) -> None:
    with store.session() as session:
        project = projects.create_project(session, "Sports")
        football = tags.add_tag_path(session, project, "Ball games > Football")
        tags.add_tag_path(session, project, "Ball games > Tennis")
        tags.add_tag_path(session, project, "Athletics")
        answered = Question(project_id=project.id, tag_id=football.id, text="a?", text_hash="a")
        unanswered = Question(project_id=project.id, tag_id=football.id, text="b?", text_hash="b")
        session.add_all([answered, unanswered])
        session.flush()
        session.add(Answer(question_id=answered.id, project_id=project.id, answer="A"))
        session.flush()

        plan, ready = plan_job(session, project.id, auto_spec(levels=2, tags=3, questions=3))

    # Topic: 1 new top-level tag (+3 children); Ball games: 1 new child; Athletics: 3 children.
    assert plan.tags == 4 + 1 + 3
    assert plan.leaves == 9
    # Football needs 1 more question; the 7 new leaves and Tennis need 3 each.
    assert plan.questions == 1 + 3 * 8
    assert plan.answers == plan.questions + 1  # the unanswered question too
    assert ready.questions == [football.id, football.id + 1]
    assert ready.answers == [unanswered.id]
    assert len(ready.expand) == 3


def test_step_specs_plan_only_their_own_work(store: Store) -> None:
    with store.session() as session:
        project = projects.create_project(session, "Sports")
        tag = tags.add_children(session, project.id, None, ["Rowing"], Origin.MANUAL)[0]
        session.add(Question(project_id=project.id, tag_id=tag.id, text="q?", text_hash="q"))
        session.flush()
        tag_plan, _ = plan_job(session, project.id, tags_spec(tag.id, 4))
        question_plan, _ = plan_job(session, project.id, questions_spec(tag.id, 5))
        answer_plan, ready = plan_job(session, project.id, answers_spec())
    assert (tag_plan.tags, tag_plan.questions, tag_plan.answers) == (4, 0, 0)
    assert (question_plan.tags, question_plan.questions, question_plan.answers) == (0, 4, 0)
    assert answer_plan.answers == 1 and len(ready.answers) == 1


def test_parameters_out_of_range_are_refused() -> None:
    with pytest.raises(InvalidInputError, match="levels must be between 1 and 6, got 0"):
        auto_spec(levels=0)
    with pytest.raises(InvalidInputError, match="count must be between 1 and 100"):
        tags_spec(None, 500)

"""Review services over a small seeded dataset: list, filter, edit, confirm, score, delete."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from distillset import resolve
from distillset.domain import InvalidInputError, NotFoundError, Origin
from distillset.projects.lifecycle import create_project
from distillset.review.editing import (
    change_labels,
    count_records,
    delete_records,
    edit_record,
    get_record,
    list_records,
    set_confirmed,
    set_note,
    set_score,
)
from distillset.review.filters import RecordFilter
from distillset.review.records import iter_records
from distillset.store import Answer, Project, Question, Store
from distillset.tags.tree import add_tag_path
from helpers import add_record, only_project


def seed(store: Store) -> None:
    """Sports > Ball games (3 answers) and Sports > Running (2 answers, one without reasoning)."""
    with store.session() as session:
        project = create_project(session, "Sports")
        ball = add_tag_path(session, project, "Ball games", Origin.MANUAL)
        running = add_tag_path(session, project, "Running", Origin.MANUAL)
        rows = [
            (ball, "How is a football inflated?", "With a pump.", "Think about valves.", "m1"),
            (ball, "What is a volley?", "Hitting before the bounce.", "Tennis terms.", "m1"),
            (ball, "Why do balls spin?", "Magnus effect.", "Air pressure.", "m2"),
            (running, "How long is a marathon?", "42.195 km.", "Known distance.", "m2"),
            (running, "What is a sprint?", "A short fast run.", None, "m1"),
        ]
        for tag, question, answer, reasoning, model in rows:
            add_record(session, project, tag, question, answer, reasoning=reasoning, model=model)


@pytest.fixture
def project(store: Store) -> Project:
    seed(store)
    return only_project(store)


def test_pages_follow_the_cursor_to_the_end_without_repeats(store: Store, project: Project) -> None:
    with store.session() as session:
        seen: list[int] = []
        cursor = None
        while True:
            page = list_records(session, project, cursor=cursor, limit=2)
            seen += [record.id for record in page.records]
            if page.next_cursor is None:
                break
            cursor = page.next_cursor
        newest = list_records(session, project, limit=2, newest_first=True)
        rest = list_records(session, project, cursor=newest.next_cursor, newest_first=True)
    assert seen == sorted(seen) and len(seen) == 5
    assert [r.id for r in newest.records + rest.records] == sorted(seen, reverse=True)


def test_filters_combine(store: Store, project: Project) -> None:
    with store.session() as session:
        ball_id = resolve.tag_id(session, project, "Ball games")
        running_id = resolve.tag_id(session, project, "Sports > Running")
        ball = list_records(session, project, RecordFilter(tag_id=ball_id)).records
        assert {r.tag_path for r in ball} == {"Ball games"} and len(ball) == 3
        assert count_records(session, project, RecordFilter(tag_id=running_id)) == 2
        no_reasoning = list_records(session, project, RecordFilter(has_reasoning=False)).records
        assert [r.question for r in no_reasoning] == ["What is a sprint?"]
        found = list_records(session, project, RecordFilter(search="MAGNUS")).records
        assert [r.answer for r in found] == ["Magnus effect."]
        by_reasoning = list_records(session, project, RecordFilter(search="tennis")).records
        assert [r.question for r in by_reasoning] == ["What is a volley?"]
        assert count_records(session, project, RecordFilter(model="m2", tag_id=running_id)) == 1
        assert count_records(session, project, RecordFilter(search="100%")) == 0
        with pytest.raises(NotFoundError, match="no tag with id 999 in project 'Sports'"):
            list_records(session, project, RecordFilter(tag_id=999))


@pytest.mark.usefixtures("database")
def test_a_tag_id_selects_its_whole_subtree_in_its_own_project_only(store: Store) -> None:
    with store.session() as session:
        sports = create_project(session, "Sports")
        music = create_project(session, "Music")
        ball = add_tag_path(session, sports, "Ball games", Origin.MANUAL)
        tennis = add_tag_path(session, sports, "Ball games > Tennis", Origin.MANUAL)
        running = add_tag_path(session, sports, "Running", Origin.MANUAL)
        foreign = add_tag_path(session, music, "Ball games", Origin.MANUAL)  # the same label
        for tag, question in ((ball, "What is a ball?"), (tennis, "What is a let?")):
            add_record(session, sports, tag, question, "An answer.")
        add_record(session, sports, running, "What is a lap?", "One round.")
        add_record(session, music, foreign, "What is a ball?", "A dance.")
        subtree = RecordFilter(tag_id=ball.id)
        found = list_records(session, sports, subtree).records
        assert sorted(r.question for r in found) == ["What is a ball?", "What is a let?"]
        assert count_records(session, sports, RecordFilter(tag_id=tennis.id)) == 1
        # A bulk change selects by the same subtree (a WITH clause inside an UPDATE).
        assert set_confirmed(session, sports, True, record_filter=subtree) == 2
        refused = f"no tag with id {foreign.id} in project 'Sports'"
        with pytest.raises(NotFoundError, match=refused):
            list_records(session, sports, RecordFilter(tag_id=foreign.id))
        with pytest.raises(NotFoundError, match=refused):
            set_score(session, sports, 1.0, record_filter=RecordFilter(tag_id=foreign.id))
        ids = (sports.id, music.id, foreign.id)
    with store.session() as session:
        sports, music = session.get_one(Project, ids[0]), session.get_one(Project, ids[1])
        assert count_records(session, sports, RecordFilter(confirmed=True)) == 2
        assert count_records(session, music, RecordFilter(scored=True)) == 0
        assert count_records(session, music, RecordFilter(tag_id=ids[2])) == 1


def test_confirm_score_and_filter_by_them(store: Store, project: Project) -> None:
    with store.session() as session:
        ids = [r.id for r in list_records(session, project).records]
        running = RecordFilter(tag_id=resolve.tag_id(session, project, "Running"))
        assert set_confirmed(session, project, True, record_filter=running) == 2
        assert set_confirmed(session, project, False, ids=[ids[3]]) == 1
        assert set_score(session, project, 4.5, reason="good", ids=ids[:2]) == 2
        assert set_score(session, project, 2.0, ids=[ids[2]]) == 1
    with store.session() as session:
        confirmed = list_records(session, project, RecordFilter(confirmed=True)).records
        assert [r.id for r in confirmed] == [ids[4]]
        high = list_records(session, project, RecordFilter(min_score=4)).records
        assert [r.id for r in high] == ids[:2] and high[0].score_reason == "good"
        assert count_records(session, project, RecordFilter(scored=False)) == 2
        assert count_records(session, project, RecordFilter(max_score=3)) == 1
        scored = get_record(session, project, ids[0])
        assert scored.scored_at is not None
        # What a rescore started after the scores has left: all of them again.
        later = RecordFilter(scored_before=scored.scored_at + timedelta(seconds=1))
        assert count_records(session, project, later) == 5
        earlier = RecordFilter(scored_before=scored.scored_at)
        assert ids[0] not in [r.id for r in list_records(session, project, earlier).records]
        set_score(session, project, None, ids=[ids[0]])
        cleared = get_record(session, project, ids[0])
        assert (cleared.score, cleared.score_reason, cleared.scored_at) == (None, None, None)


@pytest.mark.parametrize("bad", [5.5, -0.5, 3.3, float("nan")])
def test_scores_outside_half_steps_are_refused(store: Store, project: Project, bad: float) -> None:
    with store.session() as session, pytest.raises(InvalidInputError):
        set_score(session, project, bad, ids=[1])


def test_unknown_ids_are_refused_before_any_change(store: Store, project: Project) -> None:
    with store.session() as session, pytest.raises(NotFoundError, match="999"):
        set_confirmed(session, project, True, ids=[1, 999])
    with store.session() as session:
        assert count_records(session, project, RecordFilter(confirmed=True)) == 0


def test_edit_can_clear_reasoning_and_change_the_question(store: Store, project: Project) -> None:
    with store.session() as session:
        record = list_records(session, project, limit=1).records[0]
        edited = edit_record(
            session, project, record.id, question="How do you inflate a ball?", reasoning=""
        )
        assert edited.reasoning is None and edited.question == "How do you inflate a ball?"
        edited = edit_record(session, project, record.id, answer="Use a needle and a pump.")
        assert edited.answer == "Use a needle and a pump." and edited.reasoning is None
        with pytest.raises(InvalidInputError):
            edit_record(session, project, record.id, answer="  ")
        with pytest.raises(InvalidInputError, match="already asks"):
            edit_record(session, project, record.id, question="what is a volley")


def test_notes_and_labels(store: Store, project: Project) -> None:
    with store.session() as session:
        ids = [r.id for r in list_records(session, project).records]
        set_note(session, project, ids[0], "check the units")
        assert change_labels(session, project, ids[:2], add=["hard", "physics"]) == 2
        assert change_labels(session, project, [ids[0]], add=["hard"], remove=["physics"]) == 1
        first = get_record(session, project, ids[0])
        assert first.note == "check the units" and first.labels == ["hard"]
        assert count_records(session, project, RecordFilter(label="physics")) == 1
        assert count_records(session, project, RecordFilter(label="hard")) == 2
        set_note(session, project, ids[0], "")
        assert get_record(session, project, ids[0]).note is None


def test_delete_leaves_the_question_unanswered(store: Store, project: Project) -> None:
    with store.session() as session:
        first = list_records(session, project, limit=1).records[0]
        # A second answer (variant 1) to the same question keeps it answered after one delete.
        extra = Answer(
            question_id=first.question_id, project_id=project.id, answer="Other.", variant=1
        )
        session.add(extra)
        session.flush()
        result = delete_records(session, project, ids=[first.id])
        assert (result.records, result.questions_unanswered) == (1, 0)
        result = delete_records(session, project, ids=[extra.id])
        assert (result.records, result.questions_unanswered) == (1, 1)
        running = RecordFilter(tag_id=resolve.tag_id(session, project, "Running"))
        result = delete_records(session, project, record_filter=running)
        assert (result.records, result.questions_unanswered) == (2, 2)
        # The questions stay; only their answers went.
        assert session.scalar(select(func.count(Question.id))) == 5
        assert count_records(session, project, RecordFilter()) == 2


def test_iter_records_reads_everything_in_batches(store: Store, project: Project) -> None:
    with store.session() as session:
        batches = list(iter_records(session, project, RecordFilter(), batch_size=2))
    assert [len(batch) for batch in batches] == [2, 2, 1]
    assert batches[0][0].tag_path == "Ball games"

"""The duplicate report: exact and near repeats within a tag, never across tags."""

from __future__ import annotations

import json
from collections.abc import Callable

from sqlalchemy import select
from typer.testing import Result

from distillset.domain import Origin, text_hash
from distillset.projects.lifecycle import create_project
from distillset.review.duplicates import find_duplicates
from distillset.review.editing import count_records
from distillset.review.filters import RecordFilter
from distillset.store import Answer, Project, Question, Store
from distillset.tags.tree import add_tag_path

Cli = Callable[..., Result]


def seed(store: Store) -> None:
    rows = {
        "Ball games": [
            ("What is a volley in tennis?", "Hitting the ball before it bounces."),
            ("What is a volley in tennis ?!", "A shot of its own."),  # same question, folded
            ("What is the volley in tennis?", "Another article, near the first."),
            ("How is a football inflated?", "hitting the ball before it bounces"),  # same answer
            ("What is level 1 of coaching?", "Level one."),
            ("What is level 2 of coaching?", "Level two."),  # digits differ: not a repeat
        ],
        "Running": [("What is a volley in tennis!", "Off-topic but another tag.")],
    }
    with store.session() as session:
        project = create_project(session, "Sports")
        for path, pairs in rows.items():
            tag = add_tag_path(session, project, path, Origin.MANUAL)
            for question_text, answer in pairs:
                question = Question(
                    project_id=project.id,
                    tag_id=tag.id,
                    text=question_text,
                    text_hash=text_hash(question_text + path),
                )
                session.add(question)
                session.flush()
                session.add(Answer(question_id=question.id, project_id=project.id, answer=answer))


def test_duplicates_are_grouped_within_each_tag(store: Store) -> None:
    seed(store)
    with store.session() as session:
        project = session.scalars(select(Project)).one()
        groups = find_duplicates(session, project)
    summary = [(g.part, g.tag_path, g.record_ids, g.exact) for g in groups]
    assert summary == [
        ("question", "Ball games", [1, 2, 3], False),
        ("answer", "Ball games", [1, 4], True),
    ]


def test_duplicates_command_labels_all_but_the_oldest(cli: Cli, store: Store) -> None:
    seed(store)
    result = cli("dataset", "duplicates", "Sports", "--label", "duplicate", "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert [group["duplicates"] for group in report["groups"]] == [[2, 3], [4]]
    assert report["labelled"] == 3
    with store.session() as session:
        project = session.scalars(select(Project)).one()
        assert count_records(session, project, RecordFilter(label="duplicate")) == 3
    only_running = json.loads(
        cli("dataset", "duplicates", "Sports", "--tag", "Running", "--json").stdout
    )
    assert only_running["groups"] == []


def test_across_tags_groups_repeats_from_every_tag(store: Store) -> None:
    seed(store)
    with store.session() as session:
        project = session.scalars(select(Project)).one()
        groups = find_duplicates(session, project, across_tags=True)
    questions = [g.record_ids for g in groups if g.part == "question"]
    assert questions == [[1, 2, 3, 7]]  # the Running record repeats the Ball games one


def test_near_repeats_are_found_in_a_tag_of_thousands(store: Store) -> None:
    # The pairwise scan gave up on near matches above 2,000 records in one tag.
    with store.session() as session:
        project = create_project(session, "Big")
        tag = add_tag_path(session, project, "Drills", Origin.MANUAL)
        texts = [f"Which drill number {n} builds sprint speed?" for n in range(2_400)]
        texts += [
            "Which drill number 7 builds sprint speeds?",
            "Which drill number 7 build sprint speed?",
        ]
        for text in texts:
            question = Question(
                project_id=project.id, tag_id=tag.id, text=text, text_hash=text_hash(text)
            )
            session.add(question)
            session.flush()
            session.add(Answer(question_id=question.id, project_id=project.id, answer=text))
    with store.session() as session:
        project = session.scalars(select(Project)).one()
        groups = find_duplicates(session, project)
    assert [(g.part, g.record_ids, g.exact) for g in groups if g.part == "question"] == [
        ("question", [8, 2401, 2402], False)
    ]

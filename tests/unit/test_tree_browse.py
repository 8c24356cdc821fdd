"""The lazy tree's counts of whole subtrees and its search by part of a label or path."""

from __future__ import annotations

from distillset.domain import Origin, text_hash
from distillset.projects.lifecycle import create_project
from distillset.store import Question, Store, Tag
from distillset.tags import add_subtree_counts, child_rows, open_rows, revealed_rows, search_tags
from distillset.tags.tree import add_tag_path
from helpers import add_record


def _sports(store: Store) -> int:
    with store.session() as session:
        project = create_project(session, "Sports")
        football = add_tag_path(session, project, "Ball games > Football > Rules", Origin.MANUAL)
        tennis = add_tag_path(session, project, "Ball games > Tennis", Origin.MANUAL)
        add_tag_path(session, project, "Running", Origin.MANUAL)
        add_record(session, project, football, "Offside?", "A rule.")
        add_record(session, project, tennis, "Deuce?", "40-40.")
        session.flush()
        session.add(
            Question(
                project_id=project.id, tag_id=tennis.id, text="Let?", text_hash=text_hash("Let?")
            )
        )
        return project.id


def test_subtree_counts_sum_every_level_below(store: Store, database: str) -> None:
    project_id = _sports(store)
    with store.session() as session:
        ball, running = child_rows(session, project_id, None)
        assert not ball.subtree_known  # read apart: pages ask for them in a fragment of their own
        add_subtree_counts(session, [ball, running])
        assert (ball.children, ball.questions, ball.answered) == (2, 0, 0)
        assert (ball.subtree_tags, ball.subtree_questions, ball.subtree_answered) == (3, 3, 2)
        assert (running.subtree_tags, running.subtree_questions) == (0, 0)
        football, tennis = child_rows(session, project_id, ball.id)
        add_subtree_counts(session, [football, tennis])
        assert (tennis.subtree_tags, tennis.subtree_questions, tennis.subtree_answered) == (0, 2, 1)
        assert (football.subtree_tags, football.subtree_questions) == (1, 1)


def test_search_finds_labels_and_paths_prefix_first(store: Store, database: str) -> None:
    project_id = _sports(store)
    with store.session() as session:
        paths = [match.path for match in search_tags(session, project_id, "ball")]
        assert paths == ["Ball games", "Ball games > Football"]
        assert [m.path for m in search_tags(session, project_id, "games > rul")] == [
            "Ball games > Football > Rules"
        ]
        assert search_tags(session, project_id, "tennis > ball") == []
        assert search_tags(session, project_id, " > ") == []
        assert search_tags(session, project_id, "%") == []
        assert len(search_tags(session, project_id, "n", limit=1)) == 1


def test_reveal_opens_the_ancestors_down_to_the_tag(store: Store, database: str) -> None:
    project_id = _sports(store)
    with store.session() as session:
        rules = search_tags(session, project_id, "rules")[0]
        rows, from_start = revealed_rows(session, session.get(Tag, rules.id))
        assert from_start
        ball = rows[0]
        assert [row.label for row in ball.child_rows or []] == ["Football", "Tennis"]
        football = (ball.child_rows or [])[0]
        assert [row.label for row in football.child_rows or []] == ["Rules"]
        assert rows[1].child_rows is None


def test_open_rows_open_again_what_was_open(store: Store, database: str) -> None:
    project_id = _sports(store)
    with store.session() as session:
        rows = child_rows(session, project_id, None)
        ball = rows[0]
        football_id = child_rows(session, project_id, ball.id)[0].id
        open_rows(session, project_id, rows, {ball.id, football_id, rows[1].id})
        assert [row.label for row in ball.child_rows or []] == ["Football", "Tennis"]
        football = (ball.child_rows or [])[0]
        assert [row.label for row in football.child_rows or []] == ["Rules"]
        assert rows[1].child_rows is None  # Running has no sub-tags: nothing to open

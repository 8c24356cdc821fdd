"""The store: migrations, SQLite settings, cascades and the tag-tree services on a real file."""

from __future__ import annotations

import subprocess
import sys
import threading
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine, create_engine, func, inspect, select, text
from sqlalchemy.exc import IntegrityError

from distillset.config import Settings, load_settings
from distillset.domain import ConflictError, DistillsetError, InvalidInputError, text_hash
from distillset.projects import lifecycle as projects
from distillset.store import (
    Answer,
    Base,
    ModelEndpoint,
    Project,
    Question,
    Store,
    Tag,
    Task,
    open_store,
)
from distillset.store.db import alembic_config, make_engine, migrate
from distillset.store.models import is_text_index_table
from distillset.tags import tree as tags


def migrations_env_include_name(name: str | None, type_: str, _parents: object) -> bool:
    # The full-text index tables (migration 0003) are no model's; the rest must match.
    return not (type_ == "table" and is_text_index_table(name))


def _question(session: object, project: Project, tag: Tag, text_: str) -> Question:
    question = Question(
        project_id=project.id, tag_id=tag.id, text=text_, text_hash=text_hash(text_)
    )
    session.add(question)  # type: ignore[attr-defined]
    session.flush()  # type: ignore[attr-defined]
    return question


# SQLite cannot reflect the expression index on tags; it is checked by the uniqueness test.
@pytest.mark.filterwarnings("ignore:.*expression-based index")
def test_empty_database_migrates_to_the_models(store: Store) -> None:
    with store.engine.connect() as connection:
        context = MigrationContext.configure(
            connection, opts={"include_name": migrations_env_include_name}
        )
        assert context.get_current_revision() is not None
        # The migrations build exactly the schema the models describe.
        assert compare_metadata(context, Base.metadata) == []
    names = set(inspect(store.engine).get_table_names())
    assert {
        "projects",
        "model_endpoints",
        "tags",
        "questions",
        "answers",
        "tasks",
        "llm_calls",
    } <= names


def test_sqlite_runs_in_wal_mode_with_foreign_keys(store: Store) -> None:
    with store.engine.connect() as connection:
        assert connection.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert connection.execute(text("PRAGMA foreign_keys")).scalar() == 1
        assert connection.execute(text("PRAGMA busy_timeout")).scalar() > 0
    with pytest.raises(IntegrityError), store.session() as session:
        session.add(Tag(project_id=999, label="x", label_key="x"))


def test_reopening_is_idempotent(settings: Settings) -> None:
    for _ in range(2):
        store = open_store(settings)
        with store.session() as session:
            projects.create_project(session, f"P{session.scalar(select(func.count(Project.id)))}")
        store.close()
    store = open_store(settings)
    with store.session() as session:
        assert [p.name for p in projects.list_projects(session)] == ["P0", "P1"]
    store.close()


def test_newer_schema_is_refused_clearly(settings: Settings) -> None:
    store = open_store(settings)
    with store.engine.begin() as connection:
        connection.execute(text("UPDATE alembic_version SET version_num = '9999_from_the_future'"))
    store.close()
    with pytest.raises(DistillsetError, match="newer than this distillset knows"):
        open_store(settings)


def test_database_url_setting_is_used(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'elsewhere' / 'data.db'}"
    store = open_store(load_settings(home=tmp_path / "home", database_url=url))
    store.close()
    assert (tmp_path / "elsewhere" / "data.db").exists()
    assert not (tmp_path / "home" / "distillset.sqlite3").exists()


def test_unopenable_database_is_a_clear_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    with pytest.raises(DistillsetError, match="cannot open the database"):
        open_store(load_settings(database_url=f"sqlite:///{blocker / 'db.sqlite3'}"))


def test_the_stream_migration_keeps_the_projects_model_choices(settings: Settings) -> None:
    # Copying model_endpoints in batch mode would have dropped the old table, and with it,
    # through ON DELETE SET NULL, every project's question and answer model.
    engine = make_engine(settings.resolved_database_url)
    command.upgrade(alembic_config(engine), "0003_text_search")
    with engine.begin() as connection:
        connection.exec_driver_sql(
            "INSERT INTO model_endpoints (id, alias, base_url, model, extra_body,"
            " structured_output, created_at)"
            " VALUES (1, 'ds', 'http://x/v1', 'm', '{}', 'none', '2026-01-01 00:00:00')"
        )
        connection.exec_driver_sql(
            "INSERT INTO projects (name, topic, description, language, question_model_id,"
            " answer_model_id, max_concurrency, max_retries, request_timeout, created_at)"
            " VALUES ('P', 'P', '', 'en', 1, 1, 8, 3, 120.0, '2026-01-01 00:00:00')"
        )
    engine.dispose()
    store = open_store(settings)
    try:
        with store.session() as session:
            data = projects.project_as_dict(projects.get_project(session, "P"))
            endpoint = session.scalars(select(ModelEndpoint)).one()
            assert (data["question_model"], data["answer_model"]) == ("ds", "ds")
            assert endpoint.stream is False
    finally:
        store.close()


def test_migrate_twice_is_a_no_op(store: Store) -> None:
    migrate(store.engine)
    with store.engine.connect() as connection:
        assert MigrationContext.configure(connection).get_current_revision() is not None


def test_delete_tag_cascades_in_one_transaction(store: Store) -> None:
    with store.session() as session:
        project = projects.create_project(session, "P")
        football = tags.add_tag_path(session, project, "Ball games > Football")
        tennis = tags.add_tag_path(session, project, "Ball games > Tennis")
        athletics = tags.add_tag_path(session, project, "Athletics")
        for tag in (football, tennis, athletics):
            question = _question(session, project, tag, f"What about {tag.label}?")
            session.add(Answer(question_id=question.id, project_id=project.id, answer="..."))
    with store.session() as session:
        project = projects.get_project(session, "P")
        counts = tags.delete_tag(session, tags.find_tag(session, project, "Ball games"))
        assert (counts.tags, counts.questions, counts.answers) == (3, 2, 2)
    with store.session() as session:
        assert [t.label for t in session.scalars(select(Tag))] == ["Athletics"]
        assert [q.text for q in session.scalars(select(Question))] == ["What about Athletics?"]
        assert session.scalar(select(func.count(Answer.id))) == 1


def test_failed_delete_leaves_everything(store: Store) -> None:
    with store.session() as session:
        project = projects.create_project(session, "P")
        tag = tags.add_tag_path(session, project, "A > B")
        _question(session, project, tag, "Q?")
    with pytest.raises(RuntimeError), store.session() as session:
        project = projects.get_project(session, "P")
        tags.delete_tag(session, tags.find_tag(session, project, "A"))
        raise RuntimeError("crash before commit")
    with store.session() as session:
        assert session.scalar(select(func.count(Tag.id))) == 2
        assert session.scalar(select(func.count(Question.id))) == 1


def test_rename_keeps_questions_attached(store: Store) -> None:
    with store.session() as session:
        project = projects.create_project(session, "P")
        tag = tags.add_tag_path(session, project, "Ball games > Tennis")
        question_id = _question(session, project, tag, "How is a tie-break scored?").id
        tags.rename_tag(session, tag, "3. Racket sports")
    with store.session() as session:
        project = projects.get_project(session, "P")
        renamed = tags.find_tag(session, project, "Ball games > Racket sports")
        question = session.get(Question, question_id)
        assert question is not None and question.tag_id == renamed.id
        assert str(tags.tag_path(session, renamed)) == "Ball games > Racket sports"
        with pytest.raises(ConflictError):
            tags.add_tag_path(session, project, "ball games > racket SPORTS")


def test_move_updates_depths_and_refuses_cycles(store: Store) -> None:
    with store.session() as session:
        project = projects.create_project(session, "P")
        deep = tags.add_tag_path(session, project, "A > B > C")
        other = tags.add_tag_path(session, project, "X")
        b = tags.find_tag(session, project, "A > B")
        tags.move_tag(session, b, other)
        assert deep.depth == 3 and b.depth == 2
        session.refresh(deep)
        assert str(tags.tag_path(session, deep)) == "X > B > C"
        with pytest.raises(InvalidInputError, match="under itself"):
            tags.move_tag(session, other, deep)
        tags.move_tag(session, b, None)
        session.refresh(deep)
        assert (b.depth, deep.depth) == (1, 2)


def test_depth_limit_on_add(store: Store) -> None:
    path = " > ".join(f"L{i}" for i in range(tags.MAX_TAG_DEPTH))
    with store.session() as session:
        project = projects.create_project(session, "P")
        assert tags.add_tag_path(session, project, path).depth == tags.MAX_TAG_DEPTH
        with pytest.raises(InvalidInputError, match="levels deep"):
            tags.add_tag_path(session, project, path + " > one too many")


def test_sibling_labels_are_unique_in_the_database(store: Store) -> None:
    with store.session() as session:
        project = projects.create_project(session, "P")
        tags.add_children(session, project.id, None, ["Football"])
    with pytest.raises(IntegrityError), store.session() as session:
        project = projects.get_project(session, "P")
        session.add(Tag(project_id=project.id, label="FOOTBALL", label_key="football"))


def test_add_children_tops_up_only_missing(store: Store) -> None:
    with store.session() as session:
        project = projects.create_project(session, "P")
        first = tags.add_children(session, project.id, None, ["A", "B"])
        again = tags.add_children(session, project.id, None, ["b", "C", "1. A"])
        assert [t.label for t in first] == ["A", "B"]
        assert [t.label for t in again] == ["C"]
        assert [t.position for t in tags.children(session, project.id, None)] == [0, 1, 2]


def test_delete_project_removes_everything(store: Store) -> None:
    with store.session() as session:
        project = projects.create_project(session, "P")
        tag = tags.add_tag_path(session, project, "A")
        question = _question(session, project, tag, "Q?")
        session.add(Answer(question_id=question.id, project_id=project.id, answer="a"))
        session.add(Task(project_id=project.id, kind="auto_distill"))
    with store.session() as session:
        projects.delete_project(session, projects.get_project(session, "P"))
    with store.session() as session:
        for model in (Project, Tag, Question, Answer, Task):
            assert session.scalar(select(func.count()).select_from(model)) == 0


def test_insert_tree_merges_and_appends_positions(store: Store) -> None:
    file_tree = [
        tags.TreeNode("Ball games", children=[tags.TreeNode("Tennis"), tags.TreeNode("Golf")]),
        tags.TreeNode("ball GAMES", children=[tags.TreeNode("Football"), tags.TreeNode("Rugby")]),
        tags.TreeNode("Athletics"),
    ]
    with store.session() as session:
        project = projects.create_project(session, "P")
        tags.add_tag_path(session, project, "Ball games > Football")
        assert tags.insert_tree(session, project, file_tree) == 4  # Tennis, Golf, Rugby, Athletics
    with store.session() as session:
        tree = tags.load_tree(session, 1)
        assert [(n.label, [c.label for c in n.children]) for n in tree] == [
            ("Ball games", ["Football", "Tennis", "Golf", "Rugby"]),
            ("Athletics", []),
        ]
        ball = tags.find_tag(session, projects.get_project(session, "P"), "Ball games")
        positions = [t.position for t in tags.children(session, 1, ball.id)]
        assert positions == [0, 1, 2, 3]
        assert {t.depth for t in tags.children(session, 1, ball.id)} == {2}
        assert tags.insert_tree(session, projects.get_project(session, "P"), file_tree) == 0


def test_models_and_migrations_build_the_same_indexes(store: Store, tmp_path: Path) -> None:
    """Expression indexes escape autogenerate's comparison; compare the DDL SQLite keeps."""

    def index_sql(engine: Engine) -> dict[str, str]:
        with engine.connect() as connection:
            rows = connection.execute(
                text("SELECT name, sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL")
            )
            return {name: " ".join(sql.split()) for name, sql in rows}

    fresh = create_engine(f"sqlite:///{tmp_path / 'from-models.sqlite3'}")
    Base.metadata.create_all(fresh)
    try:
        from_models = index_sql(fresh)
    finally:
        fresh.dispose()
    migrated = index_sql(store.engine)
    assert from_models == migrated
    assert "coalesce(parent_id, 0)" in migrated["uq_tags_sibling_label"]


def test_concurrent_first_opens_migrate_once(tmp_path: Path) -> None:
    """Threads of one process and separate processes may open a fresh database together.

    Every opener waits at one start line (the processes after their imports, so a slow
    start under load cannot make them miss the race): all five open at the same moment."""
    home = tmp_path / "shared"
    opener = (
        "import sys; from distillset.config import load_settings; "
        "from distillset.store import open_store; "
        "print('ready', flush=True); sys.stdin.readline(); "
        "open_store(load_settings(home=sys.argv[1])).close()"
    )
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", opener, str(home)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        for _ in range(2)
    ]
    errors: list[BaseException] = []
    start_line = threading.Barrier(4)  # three threads and this one, once the processes are ready

    def open_in_thread() -> None:
        try:
            start_line.wait()
            open_store(load_settings(home=home)).close()
        except BaseException as exc:  # collected, asserted below
            errors.append(exc)

    threads = [threading.Thread(target=open_in_thread) for _ in range(3)]
    for thread in threads:
        thread.start()
    ready = [process.stdout.readline() for process in processes if process.stdout]
    if ready == [b"ready\n"] * len(processes):
        for process in processes:
            assert process.stdin is not None
            process.stdin.write(b"go\n")
            process.stdin.flush()
        start_line.wait()
    else:
        start_line.abort()  # a process died before the start line: its stderr is shown below
    for thread in threads:
        thread.join()
    failures = [p.communicate()[1].decode() for p in processes if p.wait() != 0]
    assert failures == []
    assert errors == []
    store = open_store(load_settings(home=home))
    with store.engine.connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM alembic_version")).scalar() == 1
    store.close()

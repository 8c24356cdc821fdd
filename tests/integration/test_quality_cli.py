"""Dataset quality from the command line, on SQLite and PostgreSQL: semantic duplicates over a
real HTTP embeddings endpoint (the fake server), flags, decontamination and the report."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import func, select
from typer.testing import Result

from distillset.domain import Origin, text_hash
from distillset.projects.endpoints import add_endpoint
from distillset.projects.lifecycle import create_project
from distillset.review.editing import count_records
from distillset.review.filters import RecordFilter
from distillset.store import Answer, Project, Question, Store
from distillset.tags.tree import add_tag_path
from distillset.testing import FakeModelServer
from helpers import add_record, only_project

Cli = Callable[..., Result]
TRAIN = (
    "A train leaves the station at noon travelling at sixty miles per hour towards the city; "
    "when does it arrive?"
)


@pytest.fixture
def sports(database: str, store: Store, fake_server: FakeModelServer) -> str:
    """Records 1-6 (question ids the same) and an unanswered question 7. Questions 2 and 4
    say 1 again (4 under another tag), and 7 too; the others are distinct."""
    with store.session() as session:
        add_endpoint(session, "embed", model="fake-embed", base_url=fake_server.url)
        project = create_project(session, "Sports")
        tennis = add_tag_path(session, project, "Ball games > Tennis", Origin.MANUAL)
        running = add_tag_path(session, project, "Running", Origin.MANUAL)
        add_tag_path(session, project, "Swimming", Origin.MANUAL)
        rows = [
            (tennis, "What is a volley in tennis?", "A shot hit before the ball bounces."),
            (tennis, "In tennis, what is a volley?", "I'm sorry, but I can't help with that."),
            (running, "How should a beginner pace a first marathon?", "<think>hmm</think> Slowly."),
            (running, "A volley in tennis is what?", "A shot played in the air, near the net."),
            (
                running,
                "Why do runners <b>taper</b> before a race?",
                "Runners taper before a race because",
            ),
            (running, TRAIN, "At the time the timetable says, which depends on the distance."),
        ]
        for tag, question, answer in rows:
            add_record(session, project, tag, question, answer, model="teacher")
        session.add(
            Question(
                project_id=project.id,
                tag_id=tennis.id,
                text="Tennis: a volley is what?",
                text_hash=text_hash("Tennis: a volley is what?"),
            )
        )
    return "Sports"


def run_json(cli: Cli, *args: str) -> dict:
    result = cli(*args, "--json")
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_semantic_duplicates_over_an_embeddings_endpoint(
    cli: Cli, store: Store, fake_server: FakeModelServer, sports: str
) -> None:
    args = ("dataset", "duplicates", sports, "--semantic", "--embeddings", "embed")
    report = run_json(cli, *args)
    assert report["model"] == f"fake-embed at {fake_server.url}"
    assert [(g["keep"], g["duplicates"]) for g in report["groups"]] == [(1, [2, 4, 7])]
    paths = [q["tag_path"] for q in report["groups"][0]["questions"]]
    assert paths == ["Ball games > Tennis", "Ball games > Tennis", "Running", "Ball games > Tennis"]
    assert fake_server.stats().by_kind["embeddings"] == 1
    assert fake_server.stats().bodies[-1]["model"] == "fake-embed"
    assert len(fake_server.stats().bodies[-1]["input"]) == 7

    labelled = run_json(cli, *args, "--label", "same")
    assert labelled["labelled"] == 2  # the records of questions 2 and 4 (7 has none)
    # The vectors were kept: the second scan asked the server for nothing.
    assert fake_server.stats().by_kind["embeddings"] == 1
    with store.session() as session:
        assert count_records(session, only_project(store), RecordFilter(label="same")) == 2

    deleted = run_json(cli, *args, "--delete", "--yes")
    assert deleted["questions_deleted"] == 3 and deleted["records_deleted"] == 2
    with store.session() as session:
        assert sorted(session.scalars(select(Question.id))) == [1, 3, 5, 6]
        assert session.scalar(select(func.count(Answer.id))) == 4


def test_a_lower_threshold_groups_more_and_a_subtree_fewer(
    cli: Cli, store: Store, sports: str
) -> None:
    # Another question about volleys, in another frame and with no other detail: the
    # near-miss rule leaves it to the vectors, which call it question 1 only when loose.
    with store.session() as session:
        project = session.scalars(select(Project)).one()
        cycling = add_tag_path(session, project, "Cycling", Origin.MANUAL)
        text = "Who made the volley popular in tennis?"
        session.add(
            Question(project_id=project.id, tag_id=cycling.id, text=text, text_hash=text_hash(text))
        )
    base = ("dataset", "duplicates", sports, "--semantic", "--embeddings", "embed")
    assert [(g["keep"], g["duplicates"]) for g in run_json(cli, *base)["groups"]] == [
        (1, [2, 4, 7])
    ]
    loose = run_json(cli, *base, "--threshold", "0.05")
    assert [(g["keep"], g["duplicates"]) for g in loose["groups"]] == [(1, [2, 4, 7, 8])]
    tennis = run_json(cli, *base, "--tag", "Ball games")
    assert [(g["keep"], g["duplicates"]) for g in tennis["groups"]] == [(1, [2, 7])]


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (("--semantic", "--threshold", "1.5"), "threshold must be above 0 and at most 1"),
        (("--semantic", "--threshold", "0"), "threshold must be above 0 and at most 1"),
        (("--semantic", "--confirmed"), "--confirmed does not apply to --semantic"),
        (("--threshold", "0.8"), "apply to --semantic"),
        (("--label", "x", "--delete"), "not both"),
        (("--semantic", "--embeddings", "nowhere"), "nowhere"),
    ],
)
def test_bad_duplicate_options_are_user_mistakes(
    cli: Cli, sports: str, options: tuple[str, ...], message: str
) -> None:
    result = cli("dataset", "duplicates", sports, *options)
    assert result.exit_code == 2, result.output
    assert message in result.output and "Traceback" not in result.output


def test_the_embeddings_endpoint_is_retried_and_its_refusal_reported(
    cli: Cli, fake_server: FakeModelServer, sports: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    args = ("dataset", "duplicates", sports, "--semantic", "--embeddings", "embed")
    secret = "sk-test-embeddings-0123456789"
    monkeypatch.setenv("OPENAI_API_KEY", secret)
    fake_server.configure(require_api_key="another-key")
    refused = cli(*args)
    assert refused.exit_code == 2
    assert "HTTP 401" in refused.output and secret not in refused.output

    fake_server.configure(require_api_key=None, retry_after=0.01)
    fake_server.queue_faults("429", "500")
    assert len(run_json(cli, *args)["groups"]) == 1
    statuses = fake_server.stats().by_status
    assert (statuses[401], statuses[429], statuses[500], statuses[200]) == (1, 1, 1, 1)


def test_flags_are_counted_listed_and_labelled(cli: Cli, store: Store, sports: str) -> None:
    summary = run_json(cli, "dataset", "flags", sports)
    assert summary["records"] == 6
    assert summary["by_kind"] == {
        "refusal": 1,
        "wrong_language": 0,
        "leaked_reasoning": 1,
        "truncated": 1,
        "length_outlier": 0,
        "restates_question": 1,
    }
    assert summary["examples"]["refusal"][0]["record"] == 2
    listed = run_json(cli, "dataset", "list", sports, "--flag", "truncated", "--count")
    assert [r["id"] for r in listed["records"]] == [5] and listed["total"] == 1
    first = run_json(cli, "dataset", "list", sports, "--flag", "refusal", "--limit", "1")
    assert [r["id"] for r in first["records"]] == [2] and first["next_cursor"] is None
    labelled = run_json(
        cli, "dataset", "flags", sports, "--flag", "leaked_reasoning", "--label", "x"
    )
    assert labelled["labelled"] == 1
    with store.session() as session:
        assert count_records(session, only_project(store), RecordFilter(label="x")) == 1
    bad = cli("dataset", "list", sports, "--flag", "rude")
    assert bad.exit_code == 2 and "unknown flag 'rude'" in bad.output


def _benchmark(folder: Path) -> Path:
    path = folder / "bench.jsonl"
    copied = TRAIN.upper().replace(";", ",").replace("WHEN DOES IT ARRIVE?", "HOW FAR IS IT?")
    lines = [{"question": copied}, {"question": "What is the capital of France?"}]
    path.write_text("\n".join(json.dumps(line) for line in lines), encoding="utf-8")
    return path


def test_decontamination_flags_labels_and_removes(
    cli: Cli, store: Store, sports: str, tmp_path: Path
) -> None:
    bench = str(_benchmark(tmp_path))
    found = run_json(cli, "dataset", "decontaminate", sports, "--against", bench)
    assert [item["question_id"] for item in found["contaminated"]] == [6]
    assert found["contaminated"][0]["source"] == "bench.jsonl:1"
    assert (
        run_json(cli, "dataset", "decontaminate", sports, "--against", bench, "--label", "c")[
            "labelled"
        ]
        == 1
    )
    declined = cli("dataset", "decontaminate", sports, "--against", bench, "--remove", input="n\n")
    assert declined.exit_code == 1
    with store.session() as session:
        assert session.get(Question, 6) is not None
    removed = run_json(
        cli, "dataset", "decontaminate", sports, "--against", bench, "--remove", "--yes"
    )
    assert removed["questions_deleted"] == 1 and removed["records_deleted"] == 1
    with store.session() as session:
        assert session.get(Question, 6) is None


@pytest.mark.parametrize(
    ("name", "content", "extra", "message"),
    [
        ("empty.jsonl", "", (), "holds no benchmark questions"),
        ("bench.xml", "<q/>", (), "unknown format '.xml'"),
        ("bench.jsonl", '{"question": "x"}', ("--ngram", "20"), "between 8 and 13"),
        ("bench.csv", "id,text\n1,hello\n", ("--field", "question"), "no field 'question'"),
    ],
)
def test_bad_benchmark_input_is_a_user_mistake(
    cli: Cli, sports: str, tmp_path: Path, name: str, content: str, extra: tuple, message: str
) -> None:
    path = tmp_path / name
    path.write_text(content, encoding="utf-8")
    result = cli("dataset", "decontaminate", sports, "--against", str(path), *extra)
    assert result.exit_code == 2, result.output
    assert message in result.output and "Traceback" not in result.output


def test_the_report_as_json_and_as_a_self_contained_html_file(
    cli: Cli, sports: str, tmp_path: Path
) -> None:
    html = tmp_path / "report.html"
    report = run_json(cli, "report", sports, "--embeddings", "embed", "--html", str(html))
    assert report["stages"]["questions"] == 7 and report["stages"]["records"] == 6
    assert report["stages"]["unanswered"] == 1
    assert report["coverage"]["leaves"] == 3 and report["coverage"]["without_records"] == 1
    assert report["lengths"]["answer"]["count"] == 6
    assert report["flags"]["by_kind"]["refusal"] == 1
    assert report["duplicates"]["semantic"]["duplicate_questions"] == 3
    assert report["diversity"]["computed"] and 1 <= report["diversity"]["vendi"] <= 7
    assert report["diversity"]["alike_tags"][0]["tag_path"] == "Ball games > Tennis"
    assert report["cost"]["models"][0] == {
        "model": "teacher",
        "records": 6,
        "input_tokens": 0,
        "output_tokens": 0,
    }
    page = html.read_text(encoding="utf-8")
    assert page.count("<svg") >= 6
    assert "src=" not in page and "href=" not in page and "<script" not in page
    assert "&lt;b&gt;taper&lt;/b&gt;" in page and "<b>taper" not in page  # data is escaped

    skipped = run_json(cli, "report", sports, "--no-semantic")
    assert skipped["duplicates"]["semantic"] == {"computed": False, "reason": "not asked for"}
    text = cli("report", sports, "--no-semantic")
    assert text.exit_code == 0 and "Flags: 3 of 6 records" in text.output
    bad = cli("report", sports, "--threshold", "2")
    assert bad.exit_code == 2 and "threshold" in bad.output
    nowhere = str(tmp_path / "missing" / "report.html")
    unwritable = cli("report", sports, "--no-semantic", "--html", nowhere)
    assert unwritable.exit_code == 2 and "cannot write" in unwritable.output

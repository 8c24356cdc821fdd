"""Generation-time semantic dedup: a new question too close in meaning to one anywhere in the
project is dropped and topped up; the embeddings calls are in the call log with their usage
and cost. Through the CLI, the fake server over real HTTP, on both databases."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest
from sqlalchemy import delete, select
from typer.testing import Result

from distillset.generation.local_embedder import local_model_problem
from distillset.store import LlmCall, Question, Store, Tag, TaskEvent
from distillset.testing import FakeModelServer
from distillset.testing.fake_embeddings import embedding

NAME = "Physical Education and Sports"
PROBLEM = local_model_problem()
Cli = Callable[..., Result]


@pytest.fixture
def project(
    database: str, cli: Cli, cli_project_factory: Callable[[str], str], fake_server: FakeModelServer
) -> str:
    cli_project_factory(NAME)
    for args in (
        ("model", "add", "embed", "--base-url", fake_server.url, "--model", "fake-embed",
         "--price-in", "0.02"),
        ("tags", "add", NAME, "--path", "Running"),
        ("tags", "add", NAME, "--path", "Swimming"),
    ):  # fmt: skip
        result = cli(*args)
        assert result.exit_code == 0, (args, result.output)
    return NAME


def questions_of(store: Store, label: str) -> list[str]:
    with store.session() as session:
        tag = session.scalars(select(Tag.id).where(Tag.label == label)).one()
        return list(session.scalars(select(Question.text).where(Question.tag_id == tag)))


def plant_paraphrases(cli: Cli, store: Store) -> list[str]:
    """What the model proposes for Swimming, asked in other words under Running instead."""
    first = cli("questions", "generate", NAME, "--tag", "Swimming", "--count", "3")
    assert first.exit_code == 0, first.output
    proposed = questions_of(store, "Swimming")
    with store.session() as session:
        session.execute(delete(Question).where(Question.text.in_(proposed)))
        running = session.scalars(select(Tag).where(Tag.label == "Running")).one()
        for text in proposed:
            session.add(
                Question(
                    project_id=running.project_id,
                    tag_id=running.id,
                    text=f"Briefly, {text}",
                    text_hash=f"paraphrase {text}"[:64],
                )
            )
    return proposed


def check_dropped_and_topped_up(store: Store, result: Result, proposed: list[str]) -> None:
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["counters"]["questions"]["done"] == 3
    kept = questions_of(store, "Swimming")
    assert len(kept) == 3 and not set(kept) & set(proposed)
    with store.session() as session:
        events = session.scalars(
            select(TaskEvent.message).where(TaskEvent.task_id == summary["id"])
        ).all()
    assert any(f"dropped {len(proposed)} proposed questions" in event for event in events)


def test_a_question_close_to_one_elsewhere_in_the_project_is_dropped_and_topped_up(
    cli: Cli, project: str, store: Store, fake_server: FakeModelServer
) -> None:
    proposed = plant_paraphrases(cli, store)

    result = cli(
        "questions", "generate", NAME, "--tag", "Swimming", "--count", "3",
        "--semantic-dedup", "0.85", "--embeddings", "embed", "--json",
    )  # fmt: skip

    check_dropped_and_topped_up(store, result, proposed)
    with store.session() as session:
        embedded = session.scalars(select(LlmCall).where(LlmCall.purpose == "embeddings")).all()
    assert embedded and all(call.status == "ok" for call in embedded)
    assert all(call.input_tokens and call.cost and call.cost > 0 for call in embedded)
    assert all(call.endpoint_alias == "embed" for call in embedded)
    assert fake_server.stats().by_kind.get("embeddings", 0) == len(embedded)


@pytest.mark.skipif(PROBLEM is not None, reason=f"{PROBLEM}: the quality extra is not installed")
def test_the_offline_model_drops_paraphrases_by_default(
    cli: Cli, project: str, store: Store, fake_server: FakeModelServer
) -> None:
    proposed = plant_paraphrases(cli, store)

    result = cli(
        "questions", "generate", NAME, "--tag", "Swimming", "--count", "3",
        "--semantic-dedup", "0.9", "--json",
    )  # fmt: skip

    check_dropped_and_topped_up(store, result, proposed)
    assert fake_server.stats().by_kind.get("embeddings", 0) == 0  # nothing left the machine


def test_semantic_dedup_needs_an_embeddings_endpoint(
    cli: Cli, project: str, fake_server: FakeModelServer
) -> None:
    for args, message in (
        (("--semantic-dedup", "1.5", "--embeddings", "embed"), "at most 1"),
        (("--embeddings", "embed"), "--embeddings goes with --semantic-dedup"),
        (("--semantic-dedup", "0.9", "--embeddings", "nope"), "nope"),
    ):
        result = cli("questions", "generate", NAME, "--tag", "Swimming", "--count", "2", *args)
        assert result.exit_code == 2, (args, result.output)
        assert message in result.stderr, (args, result.stderr)
    assert fake_server.stats().total == 0


def test_a_near_miss_of_a_question_elsewhere_is_kept(
    cli: Cli, project: str, store: Store, fake_server: FakeModelServer
) -> None:
    """The same question about something else ("... in winter") is close by the vectors but
    not a duplicate: the guard applies the near-miss rule the quality report applies."""
    first = cli("questions", "generate", NAME, "--tag", "Swimming", "--count", "3")
    assert first.exit_code == 0, first.output
    proposed = questions_of(store, "Swimming")
    near_misses = [f"{text.rstrip('?')} in winter?" for text in proposed]
    for text, near_miss in zip(proposed, near_misses, strict=True):
        vectors = [embedding(t, fake_server.config.embedding_dims) for t in (text, near_miss)]
        # Close enough that the vectors alone would drop it.
        assert sum(a * b for a, b in zip(*vectors, strict=True)) >= 0.85
    with store.session() as session:
        session.execute(delete(Question).where(Question.text.in_(proposed)))
        running = session.scalars(select(Tag).where(Tag.label == "Running")).one()
        session.add_all(
            Question(project_id=running.project_id, tag_id=running.id, text=text,
                     text_hash=f"near miss {text}"[:64])
            for text in near_misses
        )  # fmt: skip

    result = cli(
        "questions", "generate", NAME, "--tag", "Swimming", "--count", "3",
        "--semantic-dedup", "0.85", "--embeddings", "embed", "--json",
    )  # fmt: skip

    assert result.exit_code == 0, result.output
    assert sorted(questions_of(store, "Swimming")) == sorted(proposed)
    with store.session() as session:
        events = session.scalars(select(TaskEvent.message)).all()
    assert not any("dropped" in event for event in events)

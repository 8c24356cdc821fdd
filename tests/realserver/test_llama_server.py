"""distillset against a real llama.cpp server: lists under json_schema, answers streamed and
not, usage, cut replies, a real error body, and soft labels with token ids, through the CLI
and real HTTP."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import select
from typer.testing import Result

from distillset.domain import text_hash
from distillset.llm.soft_labels import unpack
from distillset.store import Answer, LlmCall, Question, SoftLabel, Store, Tag

NAME = "Physical Education and Sports"
Cli = Callable[..., Result]


def _ok(result: Result) -> Result:
    assert result.exit_code == 0, result.output
    return result


def _add_questions(store: Store, *texts: str) -> None:
    """Questions written by hand under the one tag, so an answer test needs no list call."""
    with store.session() as session:
        tag = session.scalars(select(Tag)).one()
        for text in texts:
            session.add(
                Question(
                    project_id=tag.project_id, tag_id=tag.id, text=text, text_hash=text_hash(text)
                )
            )


@pytest.fixture
def project(cli: Cli, llama_server: str) -> str:
    _ok(cli("project", "create", NAME))
    _ok(
        cli(
            "model",
            "add",
            "gemma",
            "--base-url",
            llama_server,
            "--model",
            "gemma-3-270m",
            "--api-key-env",
            "LLAMA_TEST_API_KEY",
            "--structured",
            "json_schema",
            "--temperature",
            "0",
            "--max-tokens",
            "48",
            "--concurrency",
            "2",
        )
    )
    _ok(cli("project", "set", NAME, "--question-model", "gemma", "--answer-model", "gemma"))
    return NAME


@pytest.fixture(autouse=True)
def _key(monkeypatch: pytest.MonkeyPatch) -> None:
    # llama-server without --api-key ignores the header; a key is set so none is reported missing.
    monkeypatch.setenv("LLAMA_TEST_API_KEY", "sk-local-unused")


def test_model_test_reports_each_capability_and_the_served_model(cli: Cli, project: str) -> None:
    report = json.loads(_ok(cli("model", "test", "gemma", "--json", "--timeout", "120")).stdout)

    assert report["ok"] is True and report["structured_output_works"] is True
    assert report["verdicts"] and all(
        verdict.split(" ", 1)[0] in ("works", "refused", "unknown")
        for verdict in report["verdicts"].values()
    )
    # llama-server answers any model name with its own: the model it reports is shown.
    assert report["model"].endswith("gemma-3-270m-q4_k_m.gguf")
    assert report["model_matches"] is False


def test_tags_and_questions_parse_under_json_schema_with_usage_logged(
    cli: Cli, project: str, store: Store
) -> None:
    # A base model may only echo the topic or the tag back, which is refused like a duplicate
    # (the run then says how many it got), or write one string until the token bound (the
    # call is then a failure, stored as cut): the structure is asserted, not the outcome.
    for args in (
        ("tags", "generate", NAME, "--count", "1"),
        ("tags", "add", NAME, "--path", "Running"),
        ("questions", "generate", NAME, "--tag", "Running", "--count", "1"),
    ):
        result = cli(*args)
        assert (
            result.exit_code == 0
            or "proposed only 0 new" in result.output
            or (args[0] == "questions" and "finish_reason=length" in result.output)
        ), result.output

    with store.session() as session:
        calls = list(session.scalars(select(LlmCall)))
    assert {call.purpose for call in calls} >= {"tags", "questions"}
    assert any(call.purpose == "tags" and call.status == "ok" for call in calls)
    for call in calls:
        assert call.input_tokens and call.output_tokens
        if call.status != "ok":  # a question cut at the bound: logged, never parsed
            assert call.purpose == "questions" and "length" in (call.error or ""), call.error
            continue
        reply = json.loads(call.response_body or "{}")["choices"][0]["message"]["content"]
        items = json.loads(reply)["items"]
        assert len(items) == 1 and isinstance(items[0], str)
        # Lists are bounded by default, and the count is in the schema, so the server stops
        # when the list is complete instead of writing until its context is full.
        sent = json.loads(call.request_body or "{}")
        schema = sent["response_format"]["json_schema"]["schema"]["properties"]["items"]
        assert schema["maxItems"] == 1 and sent["max_tokens"] > 0


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "streamed"])
def test_answers_are_stored_with_usage_or_failed_when_cut(
    cli: Cli, project: str, store: Store, stream: bool
) -> None:
    _ok(cli("tags", "add", NAME, "--path", "Running"))
    _ok(cli("model", "set", "gemma", "--stream" if stream else "--no-stream"))
    _add_questions(store, "What is a warm-up?", "Why do runners stretch?")
    # Room for a short answer for one question; the model is told to stop early nowhere, so a
    # reply that reaches the bound is cut (finish_reason "length") and must not be stored.
    _ok(cli("model", "set", "gemma", "--max-tokens", "8"))
    result = cli("answers", "generate", NAME, "--json")

    with store.session() as session:
        answers = list(session.scalars(select(Answer)))
        questions = list(session.scalars(select(Question)))
        calls = list(session.scalars(select(LlmCall).where(LlmCall.purpose == "answer")))
    assert calls and all(call.output_tokens for call in calls)
    for answer in answers:  # whatever was stored finished on its own
        assert answer.finish_reason == "stop" and answer.output_tokens
    cut = [q for q in questions if q.last_error]
    assert len(answers) + len(cut) == 2
    for question in cut:
        assert "length" in question.last_error or "token limit" in question.last_error
    assert result.exit_code in (0, 1), result.output


def test_a_context_overflow_is_reported_with_the_servers_reason(
    cli: Cli, project: str, store: Store
) -> None:
    _ok(cli("project", "set", NAME, "--answer-system-prompt", "Be brief. " * 1500))
    _ok(cli("tags", "add", NAME, "--path", "Running"))
    _add_questions(store, "What is a warm-up?")
    cli("answers", "generate", NAME)

    with store.session() as session:
        question = session.scalars(select(Question)).one()
        assert session.scalars(select(Answer)).first() is None
    assert question.last_error is not None
    assert "context" in question.last_error and "structured output" not in question.last_error


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "streamed"])
def test_soft_labels_with_token_ids_spell_the_stored_answer(
    cli: Cli, project: str, store: Store, stream: bool, tmp_path: Path
) -> None:
    # Each answer stops at its first line break, so it ends on its own (finish_reason stop).
    stop = json.dumps({"stop": ["\n"]})
    mode = "--stream" if stream else "--no-stream"
    _ok(cli("model", "set", "gemma", "--logprobs", "5", "--extra-body", stop, mode))
    _ok(cli("tags", "add", NAME, "--path", "Running"))
    _add_questions(store, "What is a warm-up?", "Why do runners stretch?")

    report = json.loads(_ok(cli("model", "test", "gemma", "--json")).stdout)
    cli("answers", "generate", NAME)

    assert report["verdicts"]["logprobs"] == "works, k=5, token ids: yes"
    vocabulary = report["server_model"]["vocab_size"]
    assert vocabulary > 0 and report["server_model"]["model_path"].endswith(".gguf")
    with store.session() as session:
        answers = list(session.scalars(select(Answer)))
        rows = {row.answer_id: row for row in session.scalars(select(SoftLabel))}
        raw = {answer.id: answer.raw_content for answer in answers}
    assert answers, "no answer ended on its own"
    for answer in answers:
        assert answer.soft_label_status == "captured" and answer.finish_reason == "stop"
        labels = unpack(rows[answer.id].data)
        # llama.cpp sends token ids and bytes: they spell the generated text exactly.
        assert labels.text_bytes.decode("utf-8") == raw[answer.id]
        start = rows[answer.id].answer_start
        assert start is not None
        assert b"".join(labels.tokens[start:]).decode().strip() == answer.answer
        assert labels.ids is not None and labels.top_ids is not None
        assert all(0 <= token_id < vocabulary for token_id in labels.ids)
        for token_id, top_ids, top in zip(labels.ids, labels.top_ids, labels.top_logprobs,
                                          strict=True):  # fmt: skip
            assert len(top_ids) == 5 and top == sorted(top, reverse=True)
            assert all(lp <= 0 for lp in top)
            assert token_id in top_ids  # temperature 0: the sampled token is the best one
        assert rows[answer.id].tokenizer["server"]["vocab_size"] == vocabulary

    path = tmp_path / "kd.jsonl"
    _ok(cli("export", NAME, "-o", str(path), "--soft-labels"))
    exported = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    for row in exported:
        assert row["soft_labels"]["aligned"] is True
        assert row["soft_labels"]["token_ids"] == unpack(rows[row_answer_id(row, answers)].data).ids


def row_answer_id(row: dict[str, object], answers: list[Answer]) -> int:
    """The answer an alpaca row was exported from (its output is the answer)."""
    return next(answer.id for answer in answers if answer.answer == row["output"])


def test_score_tokens_says_in_one_line_that_llama_cpp_cannot_score_given_text(
    cli: Cli, store: Store, project: str
) -> None:
    """llama.cpp's server scores no prompt tokens (it ignores vLLM's prompt_logprobs and
    echoes no prompt logprobs): the probe finds out, and nothing is created."""
    _ok(cli("tags", "add", NAME, "--path", "Running"))
    _add_questions(store, "What is a relay race?")
    with store.session() as session:
        question = session.scalars(select(Question)).one()
        session.add(
            Answer(
                question_id=question.id,
                project_id=question.project_id,
                answer="A race run by a team in turns.",
            )
        )
    result = cli("answers", "score-tokens", project, "--endpoint", "gemma", "--all")

    assert result.exit_code == 2, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    assert "endpoint 'gemma' cannot score given text: the reply has no prompt_logprobs" in lines[0]
    with store.session() as session:
        assert session.scalars(select(SoftLabel)).all() == []

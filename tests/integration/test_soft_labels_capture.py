"""Soft labels captured with each answer from an endpoint set to `--logprobs K` (issue 14, parts
1-4): through the CLI and real HTTP to the fake server, on SQLite and PostgreSQL. The tokens
spell the stored text, the record says what became of the soft labels asked for, and a server
that refuses, ignores or garbles them costs no answer."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import delete, select, text
from typer.testing import Result

from distillset.llm.soft_labels import unpack
from distillset.store import Answer, LlmCall, SoftLabel, Store
from distillset.testing import FakeModelServer

NAME = "Sprinting"
NOTES = {
    "ignore": "the server sent no logprobs (it ignores them)",
    "malformed": "the server's logprobs could not be read (token 0: the logprob is not a number)",
    "refuse": "the server refused soft labels (HTTP 400: logprobs is not supported with this "
    "model)",
}
Cli = Callable[..., Result]


def ok(result: Result) -> Result:
    assert result.exit_code == 0, result.output
    return result


@pytest.fixture
def project(database: str, cli: Cli, cli_project_factory: Callable[[str], str]) -> str:
    """Two questions under one tag, the answer endpoint asking for the top 5 alternatives."""
    cli_project_factory(NAME)
    ok(cli("tags", "add", NAME, "--path", "Starts"))
    ok(cli("questions", "generate", NAME, "--tag", "Starts", "--count", "2"))
    ok(cli("model", "set", "fake", "--logprobs", "5", "--tokenizer", "fake-org/tokenizer"))
    return NAME


def _answers(store: Store) -> list[Answer]:
    with store.session() as session:
        answers = list(session.scalars(select(Answer).order_by(Answer.id)))
        for answer in answers:  # the deferred columns, read while the session is open
            _ = (answer.raw_content, answer.raw_reasoning, answer.text_spans)
        return answers


def _soft_labels(store: Store) -> dict[int, SoftLabel]:
    with store.session() as session:
        return {row.answer_id: row for row in session.scalars(select(SoftLabel))}


def _asked_logprobs(fake_server: FakeModelServer) -> list[dict[str, Any]]:
    return [body for body in fake_server.stats().bodies if body.get("logprobs")]


@pytest.mark.parametrize(("stream", "ids"), [(False, True), (True, True), (False, False),
                                             (True, False)])  # fmt: skip
def test_each_answer_keeps_the_tokens_that_spell_its_text_with_their_top_k(
    cli: Cli, project: str, store: Store, fake_server: FakeModelServer, stream: bool, ids: bool
) -> None:
    fake_server.configure(logprobs_ids=ids)
    ok(cli("model", "set", "fake", "--stream" if stream else "--no-stream"))

    ok(cli("answers", "generate", NAME))

    asked = _asked_logprobs(fake_server)
    assert len(asked) == 2 and all(body["top_logprobs"] == 5 for body in asked)
    assert all(bool(body.get("stream")) is stream for body in asked)
    rows = _soft_labels(store)
    for answer in _answers(store):
        assert answer.soft_label_status == "captured"
        # The exact text: the separated reasoning, the content, the answer's offsets in it.
        assert answer.raw_reasoning == answer.reasoning and answer.raw_content == answer.answer
        assert answer.text_spans == {
            "answer": [0, len(answer.answer)],
            "reasoning": [0, len(answer.reasoning or "")],
            "reasoning_in": "reasoning",
        }
        row = rows[answer.id]
        labels = unpack(row.data)
        assert (row.tokens, row.k, row.has_ids) == (len(labels), 5, ids)
        # The reasoning's tokens, the end of thinking a reasoning parser cuts out, the answer's.
        spelled = labels.text_bytes.decode()
        assert spelled == f"{answer.reasoning}\n</think>\n\n{answer.answer}"
        assert b"".join(labels.tokens[row.answer_start :]).decode() == answer.answer
        assert all(len(top) == 5 for top in labels.top_tokens)
        assert (labels.ids is not None) is ids
        assert all(lp <= 0 for lp in labels.logprobs)
        assert row.tokenizer == {
            "endpoint_model": "fake-model",
            "tokenizer": "fake-org/tokenizer",
            "model": "fake-model",
            "server": {
                "id": "fake-model",
                "root": "fake-org/fake-model",
                "owned_by": "distillset",
                "vocab_size": 250_100,
                "model_path": "/models/fake-model.gguf",
            },
        }


def test_the_call_log_keeps_them_packed_and_a_reply_from_the_cache_carries_the_same(
    cli: Cli, project: str, store: Store, fake_server: FakeModelServer
) -> None:
    ok(cli("answers", "generate", NAME))
    rows = _soft_labels(store)
    blobs = {answer.question_id: rows[answer.id].data for answer in _answers(store)}
    with store.session() as session:
        bodies = [
            call.response_body or ""
            for call in session.scalars(select(LlmCall).where(LlmCall.purpose == "answer"))
        ]
        # The answers are lost after their replies were logged (a crash between the two).
        session.execute(delete(Answer))
    assert len(bodies) == 2
    for body in bodies:
        assert "top_logprobs" not in body and '"packed_soft_labels"' in body

    ok(cli("answers", "generate", NAME))

    assert len(_asked_logprobs(fake_server)) == 2  # nothing sent again: from the cache
    rows = _soft_labels(store)
    for answer in _answers(store):
        assert answer.soft_label_status == "captured"
        assert rows[answer.id].data == blobs[answer.question_id]


@pytest.mark.parametrize(
    ("mode", "status"),
    [("ignore", "absent"), ("malformed", "malformed"), ("refuse", "refused")],
)
@pytest.mark.parametrize("stream", [False, True])
def test_a_server_that_ignores_garbles_or_refuses_logprobs_costs_no_answer(
    cli: Cli,
    project: str,
    store: Store,
    fake_server: FakeModelServer,
    mode: str,
    status: str,
    stream: bool,
) -> None:
    fake_server.configure(logprobs_mode=mode)
    ok(cli("model", "set", "fake", "--stream" if stream else "--no-stream"))
    ok(cli("project", "set", NAME, "--max-concurrency", "1"))  # one request after the other

    result = ok(cli("answers", "generate", NAME, "--json"))

    run = json.loads(result.stdout)
    assert run["counters"]["answers"]["done"] == 2
    answers = _answers(store)
    assert len(answers) == 2 and all(a.answer and a.soft_label_status == status for a in answers)
    assert _soft_labels(store) == {}
    # The run says so once, in its events: never a silent gap.
    shown = json.loads(ok(cli("tasks", "show", str(run["id"]), "--json")).stdout)
    notes = [e["message"] for e in shown["events"] if "answers are stored without" in e["message"]]
    assert len(notes) == 1 and notes[0].startswith(NOTES[mode]), shown["events"]
    if mode == "refuse":
        # Refused once, then the run went on without asking for them again.
        assert len(_asked_logprobs(fake_server)) == 1


def test_tokens_that_do_not_spell_the_text_are_kept_and_flagged(
    cli: Cli, project: str, store: Store, fake_server: FakeModelServer
) -> None:
    fake_server.configure(logprobs_mode="misaligned")

    ok(cli("answers", "generate", NAME))

    rows = _soft_labels(store)
    for answer in _answers(store):
        assert answer.soft_label_status == "misaligned"
        assert rows[answer.id].answer_start is None and rows[answer.id].tokens > 0


def test_k_above_the_server_cap_is_reported_by_model_test_and_the_run_keeps_its_answers(
    cli: Cli, project: str, store: Store, fake_server: FakeModelServer
) -> None:
    fake_server.configure(max_top_logprobs=20)
    ok(cli("model", "set", "fake", "--logprobs", "50"))

    report = json.loads(ok(cli("model", "test", "fake", "--json")).stdout)
    ok(cli("answers", "generate", NAME))

    assert report["verdicts"]["logprobs"].startswith(
        "refused (HTTP 400: Requested sample logprobs of 50, which is greater than max allowed: 20)"
    )
    answers = _answers(store)
    assert len(answers) == 2 and all(a.soft_label_status == "refused" for a in answers)


@pytest.mark.parametrize(
    ("setting", "ids", "verdict"),
    [
        ("5", True, "works, k=5, token ids: yes"),
        ("5", False, "works, k=5, token ids: no"),
        (
            "0",
            True,
            "unknown (not asked for: `distillset model set fake --logprobs 20` keeps soft labels)",
        ),
    ],
)
def test_model_test_says_whether_logprobs_work_with_what_k_and_token_ids(
    cli: Cli,
    project: str,
    fake_server: FakeModelServer,
    setting: str,
    ids: bool,
    verdict: str,
) -> None:
    fake_server.configure(logprobs_ids=ids)
    ok(cli("model", "set", "fake", "--logprobs", setting))

    shown = ok(cli("model", "test", "fake")).stdout
    report = json.loads(ok(cli("model", "test", "fake", "--json")).stdout)

    assert report["verdicts"]["logprobs"] == verdict
    assert f"logprobs: {verdict}" in shown.splitlines()
    if setting != "0":
        assert report["server_model"]["root"] == "fake-org/fake-model"


@pytest.mark.parametrize("value", ["-1", "101", "many"])
def test_a_bad_k_is_refused_in_one_line_and_changes_nothing(
    cli: Cli, project: str, store: Store, value: str
) -> None:
    refused = cli("model", "set", "fake", "--logprobs", value)

    assert refused.exit_code == 2
    assert "logprobs" in refused.output and "Traceback" not in refused.output
    if value != "many":
        assert refused.stderr.strip() == f"error: logprobs must be between 0 and 100, got {value}"
    shown = json.loads(ok(cli("model", "show", "fake", "--json")).stdout)
    assert shown["logprobs"] == 5 and shown["tokenizer"] == "fake-org/tokenizer"


@pytest.mark.parametrize("style", ["raw", "split", "escaped"])
def test_tokens_that_spell_the_key_are_withheld_and_the_key_is_stored_nowhere(
    cli: Cli,
    project: str,
    store: Store,
    fake_server: FakeModelServer,
    monkeypatch: pytest.MonkeyPatch,
    style: str,
) -> None:
    secret = uuid.uuid4().hex  # one token of its own in the server's reply
    key = f"sk-ECHO/{secret}"
    monkeypatch.setenv("ECHO_API_KEY", key)
    ok(cli("model", "set", "fake", "--api-key-env", "ECHO_API_KEY"))
    # The server quotes the key back: its tokens spell it piece by piece.
    fake_server.configure(require_api_key=key, echo_authorization=style)

    ok(cli("answers", "generate", NAME))

    answers = _answers(store)
    assert len(answers) == 2 and all(a.soft_label_status == "withheld" for a in answers)
    assert _soft_labels(store) == {}
    with store.engine.connect() as connection:
        for table in ("answers", "llm_calls", "soft_labels"):
            for row in connection.execute(text(f"SELECT * FROM {table}")):  # noqa: S608
                for value in row:
                    shown = value.decode("latin-1") if isinstance(value, bytes) else str(value)
                    assert key not in "".join(shown.split()), (table, shown[:300])
                    assert secret not in shown, (table, shown[:300])

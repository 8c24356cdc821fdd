"""A planted API key, used for a whole faulty run, never lands in a file, an output or a log.

The fake model requires the key as a Bearer token, so the run only works if the key is sent;
afterwards the database (with its -wal, held open), every file under the data directory, the
exports, every CLI output (including `--debug` error paths), the web pages and API replies,
and every log record are searched for it. An unexpected error inside a model call, run
with `--debug`, shows its traceback, and still not the key.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from typer.testing import Result

from distillset.config import Settings
from distillset.llm import EndpointConfig, HttpTransport
from distillset.store import Store
from distillset.testing import FakeModelServer
from distillset.web import create_app

NAME = "Secret project"
API = "/api/v1"


@pytest.fixture
def planted(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[str, str]]:
    key = f"sk-PLANTED-{uuid.uuid4().hex}"
    wrong = f"sk-PLANTED-WRONG-{uuid.uuid4().hex}"
    monkeypatch.setenv("PLANTED_KEY", key)
    monkeypatch.setenv("WRONG_KEY", wrong)
    yield key, wrong


def test_a_planted_key_appears_in_no_file_output_page_or_log(
    cli: Callable[..., Result],
    settings: Settings,
    store: Store,  # held open, so the -wal file is still there to search
    fake_server: FakeModelServer,
    planted: tuple[str, str],
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    key, wrong = planted
    fake_server.configure(
        require_api_key=key,
        rate_429=0.03,
        rate_500=0.03,
        rate_malformed=0.02,
        rate_truncated=0.02,
        retry_after=0.05,
        seed=3,
    )
    outputs: list[str] = []

    def run(*args: str, ok: bool | None = True) -> Result:
        result = cli(*args)
        outputs.append(result.stdout + result.stderr)
        if ok is not None:
            assert (result.exit_code == 0) == ok, (args, result.output[-800:])
        return result

    base = ("--base-url", fake_server.url, "--model", "fake-model")
    run("project", "create", NAME)
    run("model", "add", "good", *base, "--api-key-env", "PLANTED_KEY")
    run("model", "add", "wrong", *base, "--api-key-env", "WRONG_KEY")
    run("model", "add", "nowhere", "--base-url", "http://127.0.0.1:9/v1", "--model", "m",
        "--api-key-env", "PLANTED_KEY")  # fmt: skip
    run("project", "set", NAME, "--question-model", "good", "--answer-model", "good",
        "--max-concurrency", "4", "--retries", "5")  # fmt: skip

    # A whole run with faults; a plain re-run retries whatever still failed.
    auto = ("auto", NAME, "--levels", "2", "--tags", "2", "--questions", "2")
    if run(*auto, ok=None).exit_code != 0:
        run(*auto)
    assert fake_server.stats().by_status.get(200, 0) >= 15

    # Failed requests: a wrong key (401) and a wrong URL, plainly and with --debug.
    for alias in ("wrong", "nowhere"):
        run("model", "test", alias, ok=False)
        run("--debug", "model", "test", alias, ok=False)
    run("project", "set", NAME, "--question-model", "wrong", "--retries", "0")
    run("--debug", "tags", "generate", NAME, "--count", "3", ok=False)
    run("--debug", "auto", NAME, "--levels", "2", "--tags", "3", "--questions", "2", ok=False)
    run("model", "test", "good")

    # Every listing and export a user would share.
    listings = [
        ("tasks", "list", NAME),
        ("tasks", "show", "1"),
        ("dataset", "list", NAME),
        ("model", "list"),
        ("model", "show", "good"),
        ("project", "show", NAME),
    ]
    for listing in listings:
        run(*listing)
        run(*listing, "--json")
    exports = [tmp_path / "alpaca.jsonl", tmp_path / "raw.parquet", tmp_path / "share.jsonl"]
    exports.append(tmp_path / "raw.csv")  # CSV holds flat formats only
    run("export", NAME, "-f", "alpaca", "-o", str(exports[0]))
    run("export", NAME, "-f", "raw", "-o", str(exports[1]))
    run("export", NAME, "-f", "sharegpt", "-o", str(exports[2]))
    run("export", NAME, "-f", "raw", "-o", str(exports[3]))

    pages: list[str] = []
    with TestClient(create_app(settings), base_url="http://127.0.0.1") as client:
        tested = client.post(f"{API}/endpoints/good/test")
        failed = client.post(f"{API}/endpoints/wrong/test")
        download = client.get("/projects/1/export/file?format=raw&file_format=jsonl")
        assert '"question_id"' in download.text  # the web download holds the records
        pages += [tested.text, failed.text, download.text]
        for path in ("/", "/projects/1", "/projects/1/settings", "/projects/1/tasks",
                     "/projects/1/tasks/1", "/projects/1/dataset", "/projects/1/questions",
                     "/projects/1/export", "/projects/1/distill/tags/1", f"{API}/endpoints",
                     f"{API}/projects/1/tasks", f"{API}/tasks/1", f"{API}/projects/1/records",
                     f"{API}/projects/1/export?format=alpaca&file_format=csv"):  # fmt: skip
            reply = client.get(path)
            assert reply.status_code == 200, (path, reply.text[:300])
            pages.append(reply.text)

    files = _files(settings)
    assert any(path.name.endswith("-wal") for path in files), files
    for secret in (key, wrong):
        for text in (*outputs, *pages, caplog.text):
            assert secret not in text
        for path in [*files, *exports]:
            assert secret.encode() not in path.read_bytes(), path
    # The 401 really happened, and was recorded (without the key) for the user to see.
    assert fake_server.stats().by_status.get(401, 0) >= 1
    assert any("invalid api key" in text for text in outputs)


def _files(settings: Settings) -> list[Path]:
    return [path for path in settings.home.rglob("*") if path.is_file()]


BROKEN_RUNS = (("model", "test", "broken"), ("auto", NAME, "--levels", "1", "--tags", "2"))


def _project_on_broken_endpoint(
    cli: Callable[..., Result], fake_server: FakeModelServer, key_env: str
) -> None:
    """The project's models are endpoint 'broken', whose key is read from ``key_env``."""
    base = ("--base-url", fake_server.url, "--model", "fake-model")
    assert cli("project", "create", NAME).exit_code == 0
    assert cli("model", "add", "broken", *base, "--api-key-env", key_env).exit_code == 0
    models = ("--question-model", "broken", "--answer-model", "broken")
    assert cli("project", "set", NAME, *models).exit_code == 0


def _debug_runs_of_a_failing_model_call(
    cli: Callable[..., Result], fake_server: FakeModelServer, key_env: str
) -> list[str]:
    """`model test` and `auto` with --debug on an endpoint whose every call fails, then the
    task listings; all their output. The error is one no handler expects: a traceback."""
    _project_on_broken_endpoint(cli, fake_server, key_env)
    outputs = []
    for args in BROKEN_RUNS:
        result = cli("--debug", *args)
        assert result.exit_code != 0, result.output[-800:]
        assert "Traceback (most recent call last)" in result.stderr, args
        assert "error: unexpected " in result.stderr, args
        outputs.append(result.stdout + result.stderr)
    # The failure is kept with the task (its last error and events) for people to read.
    for listing in (("tasks", "list", NAME, "--json"), ("tasks", "show", "1", "--json")):
        result = cli(*listing)
        assert result.exit_code == 0 and '"failed"' in result.stdout, result.output[-800:]
        outputs.append(result.stdout)
    return outputs


def _leaks(key: str, texts: Iterable[str], settings: Settings) -> list[str]:
    """Where the key shows: the outputs (by number) and the files under the data directory."""
    found = [f"output {number}" for number, text in enumerate(texts) if key in text]
    return found + [str(path) for path in _files(settings) if key.encode() in path.read_bytes()]


def test_a_key_with_a_line_break_inside_is_refused_without_showing_it(
    cli: Callable[..., Result],
    settings: Settings,
    store: Store,
    fake_server: FakeModelServer,
    planted: tuple[str, str],
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A key holding a line break no HTTP header may carry (two pasted lines): refused in one
    clear line before any request, which names where the key comes from but not the key."""
    caplog.set_level(logging.DEBUG)
    key, _ = planted
    monkeypatch.setenv("BROKEN_KEY", f"{key}\r\n{key}")
    _project_on_broken_endpoint(cli, fake_server, "BROKEN_KEY")
    outputs = []
    for args in BROKEN_RUNS:
        result = cli("--debug", *args)
        assert result.exit_code == 2 and len(result.stderr.splitlines()) == 1, result.output
        assert "(environment variable BROKEN_KEY) holds spaces, control" in result.stderr
        outputs.append(result.stdout + result.stderr)
    outputs.append(cli("model", "show", "broken", "--json").stdout)
    assert '"key_set": false' in outputs[-1]

    assert _leaks(key, [*outputs, caplog.text], settings) == []
    assert fake_server.stats().total == 0


def test_a_key_pasted_with_its_line_break_works(
    cli: Callable[..., Result], fake_server: FakeModelServer, planted: tuple[str, str]
) -> None:
    key, _ = planted
    fake_server.configure(require_api_key=key)
    base = ("--base-url", fake_server.url, "--model", "fake-model")
    for name, value in (("pasted", f"{key}\r\n"), ("padded", f"  {key} ")):
        assert cli("keys", "set", name, input=value).exit_code == 0
        assert cli("model", "add", name, *base, "--key-name", name).exit_code == 0
        tested = cli("model", "test", name, "--json")
        assert tested.exit_code == 0, tested.output
        assert key not in tested.output


def test_a_bug_below_the_gateway_shows_its_traceback_with_debug_but_not_the_key(
    cli: Callable[..., Result],
    settings: Settings,
    store: Store,
    fake_server: FakeModelServer,
    planted: tuple[str, str],
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """An exception raised while the request's headers and URL are in scope: its message and
    traceback are shown in full with --debug, and kept in the task row."""
    caplog.set_level(logging.DEBUG)
    key, _ = planted
    fake_server.configure(require_api_key=key)

    async def transport_bug(
        self: HttpTransport, endpoint: EndpointConfig, url: str, payload: bytes, **options: Any
    ) -> Any:
        # The session's headers held in the failing frame, as a real bug would.
        headers = dict(self.session_for(endpoint).headers)
        raise RuntimeError(f"unexpected reply from {url} ({len(headers)} headers sent)")

    monkeypatch.setattr(HttpTransport, "send", transport_bug)

    outputs = _debug_runs_of_a_failing_model_call(cli, fake_server, "PLANTED_KEY")

    assert all("RuntimeError: unexpected reply from http://127.0.0.1" in text for text in outputs)
    assert _leaks(key, [*outputs, caplog.text], settings) == []


def test_an_error_quoting_the_authorization_header_does_not_show_the_key(
    cli: Callable[..., Result],
    settings: Settings,
    store: Store,
    fake_server: FakeModelServer,
    planted: tuple[str, str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Some HTTP stacks quote a refused header in their error (http.client: "Invalid header
    value b'Bearer ...'"); the key is known to the gateway, so it can be hidden."""
    key, _ = planted

    async def header_refused(
        self: HttpTransport, endpoint: EndpointConfig, url: str, payload: bytes, **options: Any
    ) -> Any:
        session = self.session_for(endpoint)
        raise ValueError(f"Invalid header value {session.headers['Authorization']!r}")

    monkeypatch.setattr(HttpTransport, "send", header_refused)

    outputs = _debug_runs_of_a_failing_model_call(cli, fake_server, "PLANTED_KEY")

    assert _leaks(key, outputs, settings) == []
    assert all("Invalid header value 'Bearer ***'" in text for text in outputs[:2])

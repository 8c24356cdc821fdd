"""Settings a user got wrong (database URL, numbers, keys file) through the real command line:
one `error: ...` line and exit 2, never 'unexpected ...'."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from typer.testing import Result

from helpers import assert_refused_in_one_line

Cli = Callable[..., Result]


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("foo://bar", "unknown database type 'foo'"),
        ("not a url", "DISTILLSET_DATABASE_URL is not a database URL"),
    ],
)
def test_an_unusable_database_url_is_one_line(
    cli: Cli, monkeypatch: pytest.MonkeyPatch, url: str, message: str
) -> None:
    monkeypatch.setenv("DISTILLSET_DATABASE_URL", url)
    assert_refused_in_one_line(cli, [(("project", "list"), message)])


def test_a_missing_postgres_driver_says_what_to_install(
    cli: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    # As if the postgres extra were not installed, whatever this environment has.
    monkeypatch.setitem(sys.modules, "psycopg", None)
    monkeypatch.setitem(sys.modules, "psycopg2", None)
    monkeypatch.setenv("DISTILLSET_DATABASE_URL", "postgresql+psycopg://me:s3cret-pw@db/data")
    install = "pip install 'distillset[postgres]'"
    assert_refused_in_one_line(cli, [(("project", "list"), install)])
    assert "s3cret-pw" not in cli("project", "list").output  # the URL may hold a password

    monkeypatch.setenv("DISTILLSET_DATABASE_URL", "postgresql+psycopg2://me@db/data")
    assert_refused_in_one_line(
        cli, [(("project", "list"), "write the URL as postgresql+psycopg://")]
    )


def test_a_setting_of_the_wrong_type_names_the_variable(
    cli: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DISTILLSET_HEARTBEAT_STALE_SECONDS", "abc")
    assert_refused_in_one_line(
        cli,
        [
            (
                ("project", "list"),
                "DISTILLSET_HEARTBEAT_STALE_SECONDS: Input should be a valid number",
            )
        ],
    )


def test_a_keys_file_in_a_folder_that_cannot_exist_is_one_line(
    cli: Cli, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    for keys_file, reason in [
        (blocker / "keys.json", "is not a folder"),
        (blocker / "deeper" / "keys.json", "Not a directory"),
    ]:
        monkeypatch.setenv("DISTILLSET_KEYS_FILE", str(keys_file))
        result = cli("keys", "set", "main", input="sk-never-shown\n")
        assert result.exit_code == 2, result.output
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: cannot write the keys file")
        assert reason in lines[0] and "DISTILLSET_KEYS_FILE" in lines[0]
        assert "sk-never-shown" not in result.output
    assert blocker.read_text() == ""

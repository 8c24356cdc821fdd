"""`distillset model ...` and `distillset keys ...` through the real command line."""

from __future__ import annotations

import json
import stat
from collections.abc import Callable
from pathlib import Path

import pytest
from typer.testing import Result

from distillset.config import load_settings
from distillset.projects.endpoints import resolve_api_key
from distillset.store import ModelEndpoint, open_store
from helpers import assert_refused_in_one_line

Cli = Callable[..., Result]


def test_add_with_every_option_and_show(cli: Cli) -> None:
    result = cli(
        "model", "add", "local", "--base-url", "http://127.0.0.1:8000/v1/", "--model", "qwen",
        "--api-key-env", "LOCAL_KEY", "--temperature", "0", "--max-tokens", "2048",
        "--top-p", "0.9", "--concurrency", "4", "--rpm", "60", "--tpm", "90000",
        "--structured", "json_schema", "--price-in", "0.27", "--price-out", "1.1",
        "--extra-body", '{"chat_template_kwargs": {"enable_thinking": true}}',
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    shown = json.loads(cli("model", "show", "local", "--json").stdout)
    assert (
        shown
        | {
            "base_url": "http://127.0.0.1:8000/v1",
            "model": "qwen",
            "api_key_env": "LOCAL_KEY",
            "temperature": 0.0,  # 0 is a real value, not "unset"
            "max_tokens": 2048,
            "top_p": 0.9,
            "concurrency": 4,
            "rpm": 60,
            "tpm": 90000,
            "structured_output": "json_schema",
            "price_input_per_m": 0.27,
            "price_output_per_m": 1.1,
            "extra_body": {"chat_template_kwargs": {"enable_thinking": True}},
            "key_set": False,
        }
        == shown
    )


def test_preset_fills_base_url_and_key_env(cli: Cli) -> None:
    assert (
        cli("model", "add", "ds", "--preset", "deepseek", "--model", "deepseek-chat").exit_code == 0
    )
    shown = json.loads(cli("model", "show", "ds", "--json").stdout)
    assert shown["base_url"] == "https://api.deepseek.com/v1"
    assert shown["api_key_env"] == "DEEPSEEK_API_KEY"
    assert shown["preset"] == "deepseek"


def test_openai_base_url_is_the_default(cli: Cli, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_BASE_URL", "http://127.0.0.1:4000/v1")
    assert cli("model", "add", "m", "--model", "gpt").exit_code == 0
    shown = json.loads(cli("model", "show", "m", "--json").stdout)
    assert shown["base_url"] == "http://127.0.0.1:4000/v1"
    assert shown["key_set"] is False
    monkeypatch.setenv("OPENAI_API_KEY", "sk-from-env")
    assert json.loads(cli("model", "show", "m", "--json").stdout)["key_set"] is True


def test_set_list_remove(cli: Cli) -> None:
    cli("model", "add", "m", "--base-url", "http://127.0.0.1:9/v1", "--model", "a")
    result = cli("model", "set", "m", "--model", "b", "--temperature", "0.7", "--key-name", "main")
    assert result.exit_code == 0, result.output
    assert "keys set main" in result.output  # the missing key is pointed out
    listed = json.loads(cli("model", "list", "--json").stdout)
    assert [(m["alias"], m["model"], m["temperature"], m["api_key_name"]) for m in listed] == [
        ("m", "b", 0.7, "main")
    ]
    plain = cli("model", "list").stdout
    assert "keys:main" in plain
    assert cli("model", "remove", "m").exit_code == 0
    assert json.loads(cli("model", "list", "--json").stdout) == []


OPTIONAL_SETTINGS = {
    "--temperature": "temperature",
    "--max-tokens": "max_tokens",
    "--top-p": "top_p",
    "--concurrency": "concurrency",
    "--rpm": "rpm",
    "--tpm": "tpm",
    "--price-in": "price_input_per_m",
    "--price-out": "price_output_per_m",
}


def _shown(cli: Cli, alias: str = "m") -> dict[str, object]:
    return dict(json.loads(cli("model", "show", alias, "--json").stdout))


def test_set_none_unsets_sampling_limits_and_prices(cli: Cli) -> None:
    cli(
        "model", "add", "m", "--base-url", "http://127.0.0.1:9/v1", "--model", "a",
        "--temperature", "0.7", "--max-tokens", "2048", "--top-p", "0.9", "--concurrency", "4",
        "--rpm", "60", "--tpm", "90000", "--price-in", "0.27", "--price-out", "1.1",
    )  # fmt: skip
    assert all(_shown(cli)[name] is not None for name in OPTIONAL_SETTINGS.values())

    unset_all = [arg for option in OPTIONAL_SETTINGS for arg in (option, "none")]
    result = cli("model", "set", "m", *unset_all)
    assert result.exit_code == 0, result.output
    shown = _shown(cli)
    assert {name: shown[name] for name in OPTIONAL_SETTINGS.values()} == dict.fromkeys(
        OPTIONAL_SETTINGS.values()
    )
    assert (shown["model"], shown["base_url"]) == ("a", "http://127.0.0.1:9/v1")


def test_temperature_0_is_a_value_and_rpm_0_is_no_limit(cli: Cli) -> None:
    base = ("--base-url", "http://127.0.0.1:9/v1", "--model", "a")
    cli("model", "add", "m", *base, "--temperature", "0.5", "--rpm", "60", "--tpm", "100")
    assert cli("model", "set", "m", "--temperature", "0", "--rpm", "0", "--tpm", "0").exit_code == 0
    shown = _shown(cli)
    assert (shown["temperature"], shown["rpm"], shown["tpm"]) == (0.0, None, None)

    cli("model", "add", "n", *base, "--max-tokens", "none", "--price-in", "0")
    assert (_shown(cli, "n")["max_tokens"], _shown(cli, "n")["price_input_per_m"]) == (None, 0.0)


def test_set_refuses_a_blank_model_and_bad_numbers(cli: Cli) -> None:
    cli("model", "add", "m", "--base-url", "http://127.0.0.1:9/v1", "--model", "a")
    cases = [
        (("model", "set", "m", "--model", ""), "give the model name"),
        (("model", "set", "m", "--model", "  "), "give the model name"),
        (("model", "set", "m", "--temperature", "warm"), "--temperature takes a number or 'none'"),
        (("model", "set", "m", "--max-tokens", "1.5"), "--max-tokens takes a whole number"),
        (("model", "set", "m", "--concurrency", "0"), "concurrency must be between"),
        (("model", "add", "n", "--base-url", "http://x/v1", "--model", "a", "--rpm", "x"),
         "--rpm takes a whole number or 'none'"),
    ]  # fmt: skip
    assert_refused_in_one_line(cli, cases)
    assert _shown(cli)["model"] == "a"


def test_model_mistakes_exit_2(cli: Cli) -> None:
    cli("model", "add", "m", "--base-url", "http://127.0.0.1:9/v1", "--model", "a")
    cases = [
        (("model", "add", "m", "--base-url", "http://x/v1", "--model", "a"), "already exists"),
        (("model", "add", "n", "--model", "a"), "--base-url or --preset"),
        (("model", "add", "n", "--preset", "nope", "--model", "a"), "unknown preset"),
        (("model", "add", "n", "--base-url", "ftp://x", "--model", "a"), "invalid base URL"),
        (("model", "add", "n", "--base-url", "http://x", "--model", "a", "--temperature", "3"),
         "temperature must be between"),
        (("model", "add", "n", "--base-url", "http://x", "--model", "a", "--structured", "xml"),
         "invalid structured output"),
        (("model", "add", "n", "--base-url", "http://x", "--model", "a", "--extra-body", "{"),
         "not valid JSON"),
        (("model", "add", "n", "--base-url", "http://x", "--model", "a", "--extra-body", "[1]"),
         "must be a JSON object"),
        (("model", "add", "a/b", "--base-url", "http://x", "--model", "a"), "invalid model alias"),
        (("model", "add", "..", "--base-url", "http://x", "--model", "a"), "invalid model alias"),
        (("model", "add", "x" * 65, "--base-url", "http://x", "--model", "a"),
         "invalid model alias"),
        (("model", "add", "None", "--base-url", "http://x", "--model", "a"), "means 'no model'"),
        (("model", "show", "ghost"), "no model endpoint named 'ghost'"),
        (("model", "remove", "ghost"), "no model endpoint"),
        (("model", "set", "m"), "nothing to change"),
        (("keys", "remove", "ghost"), "no key named"),
    ]  # fmt: skip
    assert_refused_in_one_line(cli, cases)


def test_keys_file_is_0600_and_lists_names_only(cli: Cli, distillset_home: Path) -> None:
    result = cli("keys", "set", "main", input="sk-secret-value-1\n")
    assert result.exit_code == 0, result.output
    assert "sk-secret-value-1" not in result.output
    keys_file = distillset_home / "keys.json"
    assert stat.S_IMODE(keys_file.stat().st_mode) == 0o600
    cli("keys", "set", "other", input="sk-secret-value-2\n")
    assert stat.S_IMODE(keys_file.stat().st_mode) == 0o600
    listed = cli("keys", "list", "--json")
    assert json.loads(listed.stdout) == ["main", "other"]
    assert "sk-secret" not in listed.output

    base = ("--base-url", "http://127.0.0.1:9/v1", "--model", "a")
    cli("model", "add", "m", *base, "--key-name", "main")
    assert json.loads(cli("model", "show", "m", "--json").stdout)["key_set"] is True
    assert cli("keys", "remove", "main").exit_code == 0
    assert json.loads(cli("keys", "list", "--json").stdout) == ["other"]
    assert json.loads(cli("model", "show", "m", "--json").stdout)["key_set"] is False


def test_empty_key_is_refused(cli: Cli) -> None:
    result = cli("keys", "set", "main", input="\n")
    assert result.exit_code == 2
    assert "the key is empty" in result.stderr


def test_a_key_no_provider_could_have_is_refused_when_set_without_showing_it(cli: Cli) -> None:
    for pasted in ("sk-first half sk-second", "sk-tab\there", "sk-naïve"):
        result = cli("keys", "set", "main", input=f"{pasted}\n")
        assert result.exit_code == 2, result.output
        assert result.stderr.startswith("error: the key holds spaces, control or non-ASCII")
        assert pasted not in result.output
    assert json.loads(cli("keys", "list", "--json").stdout) == []


def test_resolve_api_key_prefers_keys_file(cli: Cli, monkeypatch: pytest.MonkeyPatch) -> None:
    cli("keys", "set", "main", input="sk-from-file\n")
    monkeypatch.setenv("MY_KEY", "sk-from-env-var")
    monkeypatch.setenv("OPENAI_API_KEY", "sk-openai-default")
    base = ("--base-url", "http://127.0.0.1:9/v1", "--model", "a")
    cli("model", "add", "file", *base, "--key-name", "main")
    cli("model", "add", "env", *base, "--api-key-env", "MY_KEY")
    cli("model", "add", "nokey", *base)
    settings = load_settings()
    store = open_store(settings)
    try:
        with store.session() as session:
            found = {
                endpoint.alias: resolve_api_key(settings, endpoint)
                for endpoint in session.query(ModelEndpoint)
            }
    finally:
        store.close()
    assert found == {"file": "sk-from-file", "env": "sk-from-env-var", "nokey": "sk-openai-default"}


def test_keys_set_prompts_hidden_on_a_terminal(
    cli: Cli, monkeypatch: pytest.MonkeyPatch, distillset_home: Path
) -> None:
    monkeypatch.setattr("distillset.cli.models._stdin_is_terminal", lambda: True)
    result = cli("keys", "set", "main", input="sk-typed-at-prompt\n")
    assert result.exit_code == 0, result.output
    assert "Key for main" in result.output
    assert "sk-typed-at-prompt" not in result.output
    assert "sk-typed-at-prompt" in (distillset_home / "keys.json").read_text()


def test_removing_an_endpoint_clears_it_from_projects(cli: Cli) -> None:
    cli("model", "add", "m", "--base-url", "http://127.0.0.1:9/v1", "--model", "a")
    cli("project", "create", "P")
    cli("project", "set", "P", "--question-model", "m", "--answer-model", "m")
    assert cli("model", "remove", "m").exit_code == 0
    shown = json.loads(cli("project", "show", "P", "--json").stdout)
    assert (shown["question_model"], shown["answer_model"]) == (None, None)

"""Generation languages: any language code, Turkish prompts of its own, and for a language
without templates the English ones asking for that language; through the CLI, the REST API
and the Python API, against the fake model server over real HTTP, on both databases."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient
from typer.testing import Result

from distillset import Project
from distillset.config import Settings
from distillset.domain import InvalidInputError
from distillset.testing import FakeModelServer
from helpers import assert_refused_in_one_line

Cli = Callable[..., Result]
NAME = "Sports"


def _generate(cli: Cli, language: str) -> None:
    """Set the project's language, generate two tags, then questions for the first one and
    answers to them; the prompts the model was sent, in order."""
    assert cli("project", "set", NAME, "--language", language).exit_code == 0
    generated = cli("tags", "generate", NAME, "--count", "2", "--json")
    assert generated.exit_code == 0, generated.output
    first = json.loads(cli("tags", "tree", NAME, "--json").stdout)["children"][0]["label"]
    asked = cli("questions", "generate", NAME, "--tag", first, "--count", "2", "--json")
    assert asked.exit_code == 0, asked.output
    answered = cli("answers", "generate", NAME, "--json")
    assert answered.exit_code == 0, answered.output


@pytest.fixture
def project(database: str, cli_project_factory: Callable[[str], str]) -> str:
    """The project, on each database in turn."""
    return cli_project_factory(NAME)


def test_a_turkish_project_is_prompted_in_turkish(
    cli: Cli, project: str, fake_server: FakeModelServer
) -> None:
    _generate(cli, "tr")

    tags_prompt, questions_prompt, *answer_prompts = fake_server.stats().prompts
    assert "tam olarak 2 yeni alt konu" in tags_prompt and "JSON array" in tags_prompt
    assert "(yok)" in tags_prompt  # no sub-tag exists yet, said in Turkish
    assert "sınav soruları hazırlayan" in questions_prompt and "tam olarak 2" in questions_prompt
    assert len(answer_prompts) == 2
    assert json.loads(cli("project", "show", NAME, "--json").stdout)["language"] == "tr"


def test_a_language_without_templates_gets_the_english_ones_asking_for_it(
    cli: Cli, project: str, fake_server: FakeModelServer
) -> None:
    _generate(cli, "pt_br")  # written any way; stored as pt-BR

    tags_prompt, questions_prompt, *answer_prompts = fake_server.stats().prompts
    assert "exactly 2 new sub-topics" in tags_prompt
    assert tags_prompt.endswith("Write every label in Portuguese (pt-BR).")
    assert questions_prompt.endswith("Write every question in Portuguese (pt-BR).")
    assert [p.endswith("\n\nAnswer in Portuguese (pt-BR).") for p in answer_prompts] == [True] * 2
    shown = json.loads(cli("project", "show", NAME, "--json").stdout)
    assert shown["language"] == "pt-BR"
    prompt = json.loads(cli("prompts", "show", NAME, "judge", "--json").stdout)
    assert prompt["template"].rstrip().endswith("Write the reason in Portuguese (pt-BR).")


def test_unknown_language_codes_are_refused_everywhere(
    cli: Cli, client: TestClient, settings: Settings, database: str
) -> None:
    assert_refused_in_one_line(
        cli,
        [
            (("project", "create", "Q", "--language", code), "unknown language")
            for code in ("xx", "english", "fr-", "de-CH-1901", "fr\x1b[2J", "")
        ]
        + [(("project", "create", "Q", "--language", "zh-Hant-TWN"), "unknown language")],
    )
    assert cli("project", "list", "--json").stdout.strip() == "[]"
    for code in ("klingon", "x" * 5_000, "en GB"):
        response = client.post("/api/v1/projects", json={"name": "Q", "language": code})
        assert response.status_code == 422 and "unknown language" in response.json()["detail"]
    made = client.post("/api/v1/projects", json={"name": "Q", "language": "ZH-hant-tw"})
    assert made.status_code == 201 and made.json()["language"] == "zh-Hant-TW"
    with pytest.raises(InvalidInputError, match="unknown language 'xx'"):
        Project.create("R", language="xx", settings=settings)
    with Project.create("R", language="fr", settings=settings) as french:
        assert french.info()["language"] == "fr"
        with pytest.raises(InvalidInputError, match="unknown language"):
            french.configure(language="français")
        assert french.info()["language"] == "fr"


def test_the_pages_take_a_language_code_as_text(client: TestClient) -> None:
    created = client.post("/projects", data={"name": "Chess", "language": "pt-br"})
    assert created.status_code == 200, created.text
    settings_page = client.get("/projects/1/settings").text
    assert 'name="language" value="pt-BR"' in settings_page
    assert '<datalist id="language-codes"><option value="en"><option value="zh">' in settings_page
    refused = client.post("/projects", data={"name": "Go", "language": "klingon"})
    assert refused.status_code == 422 and "unknown language" in refused.text

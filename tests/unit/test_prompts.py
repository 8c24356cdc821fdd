"""Prompt templates: shipped per language, rendered, overridden per project, validated."""

from __future__ import annotations

import pytest

from distillset.domain import LANGUAGES, InvalidInputError
from distillset.projects import lifecycle as projects
from distillset.prompts import (
    KINDS,
    check_template,
    checked_language,
    default_template,
    empty_list_word,
    get_prompt,
    language_name,
    render,
    reset_prompt,
    set_prompt,
)
from distillset.prompts.overrides import project_templates
from distillset.store import Store


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("kind", list(KINDS))
def test_every_shipped_template_keeps_its_placeholders(kind: str, language: str) -> None:
    template = default_template(kind, language)
    assert check_template(kind, template) == template


@pytest.mark.parametrize(
    ("language", "count_words"), [("en", "exactly 7"), ("zh", "恰好 7"), ("tr", "tam olarak 7")]
)
@pytest.mark.parametrize("kind", ["tags", "questions"])
def test_list_prompts_ask_for_a_json_array_of_an_exact_count_with_the_path(
    kind: str, language: str, count_words: str
) -> None:
    text = render(
        default_template(kind, language),
        path="Sports > Ball Games",
        count=7,
        existing="- Football",
        topic="Sports",
    )
    assert "JSON array" in text and count_words in text
    assert "Sports > Ball Games" in text and "- Football" in text
    assert "{" not in text


def test_render_does_not_expand_braces_inside_values() -> None:
    assert render("Q: {question}", question="What is {path}?") == "Q: What is {path}?"
    assert render('{"items": []} {count}', count=3) == '{"items": []} 3'


def test_a_template_missing_a_required_placeholder_is_refused() -> None:
    with pytest.raises(InvalidInputError, match=r"must contain the placeholder\(s\) \{existing\}"):
        check_template("tags", "Give {count} sub-topics of {path}.")


def test_an_unknown_placeholder_is_refused_with_the_known_ones() -> None:
    with pytest.raises(InvalidInputError, match=r"unknown placeholder\(s\) \{leaf\}"):
        check_template("answer", "{question} about {leaf}")


def test_unknown_kind_and_empty_template_are_refused() -> None:
    with pytest.raises(InvalidInputError, match="unknown prompt kind"):
        check_template("summary", "{question}")
    with pytest.raises(InvalidInputError, match="empty"):
        check_template("answer", "   ")


def test_overrides_are_per_project_and_language_follows_the_project(store: Store) -> None:
    with store.session() as session:
        english = projects.create_project(session, "Sports")
        chinese = projects.create_project(session, "体育", language="zh")
        set_prompt(session, english, "answer", "Answer briefly: {question}")

        assert get_prompt(session, english, "answer").template == "Answer briefly: {question}"
        assert get_prompt(session, english, "answer").overridden
        assert get_prompt(session, chinese, "tags").template == default_template("tags", "zh")
        assert not get_prompt(session, chinese, "tags").overridden

        # A run reads every kind at once: the same templates as one by one.
        for project in (english, chinese):
            assert project_templates(session, project) == {
                kind: get_prompt(session, project, kind).template for kind in KINDS
            }
        assert project_templates(session, english)["answer"] == "Answer briefly: {question}"

        assert reset_prompt(session, english, "answer") is True
        assert reset_prompt(session, english, "answer") is False
        assert get_prompt(session, english, "answer").template == default_template("answer", "en")


@pytest.mark.parametrize(
    ("given", "stored"),
    [
        ("en", "en"),
        ("TR", "tr"),
        (" fr ", "fr"),
        ("pt-br", "pt-BR"),
        ("pt_BR", "pt-BR"),
        ("zh-hant", "zh-Hant"),
        ("zh-HANT-tw", "zh-Hant-TW"),
        ("es-419", "es-419"),
        ("fil", "fil"),
    ],
)
def test_a_language_code_is_stored_one_way(given: str, stored: str) -> None:
    assert checked_language(given) == stored


@pytest.mark.parametrize(
    "code",
    [
        "",
        "xx",
        "e",
        "english",
        "en-",
        "en-GB-",
        "en--GB",
        "en-G",
        "zh-Hant-TWN",
        "qaa",
        "e n",
        "fr\x00",
        "ab-cdefg",
        "yue-Hant-HK",
    ],  # fmt: skip
)
def test_anything_but_a_known_language_code_is_refused(code: str) -> None:
    with pytest.raises(InvalidInputError, match="unknown language|too long"):
        checked_language(code)


def test_a_language_without_templates_gets_the_english_ones_with_an_instruction() -> None:
    for kind, ask in [
        ("tags", "Write every label in French."),
        ("questions", "Write every question in French."),
        ("answer", "Answer in French."),
        ("judge", "Write the reason in French."),
    ]:
        template = default_template(kind, "fr")
        english = default_template(kind, "en").rstrip("\n")
        assert template == f"{english}\n\n{ask}\n"
        assert check_template(kind, template) == template
    assert render(default_template("answer", "de-CH"), question="Q?") == (
        "Q?\n\nAnswer in German (de-CH)."
    )
    assert default_template("tags", "tr") != default_template("tags", "en")


def test_language_names_and_empty_list_words() -> None:
    assert [language_name(code) for code in ("en", "zh", "tr", "pt-BR", "zz")] == [
        "English",
        "Chinese",
        "Turkish",
        "Portuguese (pt-BR)",
        "zz",
    ]
    assert [empty_list_word(code) for code in ("en", "zh", "tr", "fr")] == [
        "(none)",
        "（无）",
        "(yok)",
        "(none)",
    ]

"""Prompt templates shipped with the package: one file per kind and language.

Placeholders are written ``{name}``. Only known names are substituted, so braces in JSON
examples inside a template are left alone.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from importlib import resources

from distillset.domain import InvalidInputError, checked_text
from distillset.prompts.languages import has_own_templates, language_name


@dataclass(frozen=True)
class PromptKind:
    name: str
    description: str
    required: tuple[str, ...]
    optional: tuple[str, ...] = ()

    @property
    def placeholders(self) -> tuple[str, ...]:
        return self.required + self.optional


KINDS: dict[str, PromptKind] = {
    kind.name: kind
    for kind in (
        PromptKind(
            "tags",
            "asks the question model for sub-tags of a tag (or of the topic)",
            required=("path", "count", "existing"),
            optional=("topic",),
        ),
        PromptKind(
            "questions",
            "asks the question model for questions about a tag",
            required=("path", "count", "existing"),
            optional=("topic",),
        ),
        PromptKind(
            "answer",
            "the user message that asks the answer model one question",
            required=("question",),
            optional=("path", "topic"),
        ),
        PromptKind(
            "judge",
            "asks the judge model to score one record 0-5 with a short reason",
            required=("question", "answer"),
            optional=("path", "topic", "reasoning"),
        ),
        PromptKind(
            "conversation",
            "the answer model's system prompt in a multi-turn conversation",
            required=("assistant_role",),
            optional=("path", "topic", "scenario", "user_role"),
        ),
        PromptKind(
            "follow_up",
            "asks the user simulator for the next user turn of a conversation",
            required=("history",),
            optional=("path", "topic", "scenario", "user_role", "assistant_role", "round"),
        ),
        PromptKind(
            "judge_conversation",
            "asks the judge model to score one whole conversation 0-5 with a short reason",
            required=("conversation",),
            optional=("path", "topic", "scenario", "user_role", "assistant_role"),
        ),
        PromptKind(
            "difficulty",
            "asks the judge model to rate how hard one question is, 1-10, with a short reason",
            required=("question",),
            optional=("path", "topic"),
        ),
        PromptKind(
            "refine",
            "asks the answer model to rewrite one record's answer following a reviewer's advice",
            required=("question", "answer", "advice"),
            optional=("path", "topic", "reasoning"),
        ),
        PromptKind(
            "place",
            "asks the question model to place imported questions on leaves of the tree",
            required=("leaves", "questions"),
            optional=("topic",),
        ),
    )
}

_PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")
MAX_TEMPLATE_CHARS = 50_000


def prompt_kind(name: str) -> PromptKind:
    kind = KINDS.get(name)
    if kind is None:
        raise InvalidInputError(f"unknown prompt kind {name!r}: choose one of {', '.join(KINDS)}")
    return kind


# What a template in English adds for a language that has no templates of its own.
WRITE_IN = {
    "tags": "Write every label in {language}.",
    "questions": "Write every question in {language}.",
    "answer": "Answer in {language}.",
    "judge": "Write the reason in {language}.",
    "conversation": "Answer in {language}.",
    "follow_up": "Write the message in {language}.",
    "judge_conversation": "Write the reason in {language}.",
    "difficulty": "Write the reason in {language}.",
    "refine": "Write the new answer in {language}.",
    "place": "The questions may be in {language}: write each leaf path exactly as listed.",
}
# The word a prompt shows for an empty list (no existing tags or questions yet).
EMPTY_LIST = {"en": "(none)", "zh": "（无）", "tr": "(yok)"}


def _shipped(kind: str, language: str) -> str:
    path = resources.files("distillset.prompts").joinpath("templates", language, f"{kind}.txt")
    return path.read_text(encoding="utf-8")


@cache
def default_template(kind: str, language: str) -> str:
    """The template of a kind for the project's generation language: the one written in it
    (en, zh, tr), else the English one asking for replies in that language."""
    prompt_kind(kind)
    if has_own_templates(language):
        return _shipped(kind, language)
    english = _shipped(kind, "en").rstrip("\n")
    instruction = WRITE_IN[kind].format(language=language_name(language))
    return f"{english}\n\n{instruction}\n"


def empty_list_word(language: str) -> str:
    """How a prompt in this language says that a list is empty."""
    return EMPTY_LIST.get(language, EMPTY_LIST["en"])


def check_template(kind: str, template: str) -> str:
    """Refuse a template that lacks a required placeholder or names an unknown one."""
    spec = prompt_kind(kind)
    if not template.strip():
        raise InvalidInputError("the prompt template is empty")
    if len(template) > MAX_TEMPLATE_CHARS:
        raise InvalidInputError(f"the prompt template is longer than {MAX_TEMPLATE_CHARS} chars")
    checked_text("prompt template", template, None, single_line=False)  # NUL, ESC...
    used = set(_PLACEHOLDER.findall(template))
    missing = [name for name in spec.required if name not in used]
    if missing:
        names = ", ".join("{" + name + "}" for name in missing)
        raise InvalidInputError(f"the {kind!r} prompt must contain the placeholder(s) {names}")
    unknown = sorted(used - set(spec.placeholders))
    if unknown:
        names = ", ".join("{" + name + "}" for name in unknown)
        known = ", ".join("{" + name + "}" for name in spec.placeholders)
        raise InvalidInputError(
            f"unknown placeholder(s) {names} in the {kind!r} prompt: use {known}"
        )
    return template


def render(template: str, **values: object) -> str:
    """Fill the placeholders in one pass (a value containing `{x}` is never re-expanded)."""

    def fill(match: re.Match[str]) -> str:
        name = match.group(1)
        return str(values[name]) if name in values else match.group(0)

    return _PLACEHOLDER.sub(fill, template).strip()

"""Prompt templates per language, with per-project overrides."""

from distillset.prompts.languages import checked_language, has_own_templates, language_name
from distillset.prompts.overrides import (
    ProjectPrompt,
    get_prompt,
    project_templates,
    reset_prompt,
    set_prompt,
)
from distillset.prompts.templates import (
    KINDS,
    PromptKind,
    check_template,
    default_template,
    empty_list_word,
    prompt_kind,
    render,
)

__all__ = [
    "KINDS",
    "ProjectPrompt",
    "PromptKind",
    "check_template",
    "checked_language",
    "default_template",
    "empty_list_word",
    "get_prompt",
    "has_own_templates",
    "language_name",
    "project_templates",
    "prompt_kind",
    "render",
    "reset_prompt",
    "set_prompt",
]

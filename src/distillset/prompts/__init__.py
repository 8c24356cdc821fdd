"""Prompt templates per language, with per-project overrides."""

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
    prompt_kind,
    render,
)

__all__ = [
    "KINDS",
    "ProjectPrompt",
    "PromptKind",
    "check_template",
    "default_template",
    "get_prompt",
    "project_templates",
    "prompt_kind",
    "render",
    "reset_prompt",
    "set_prompt",
]

"""Prompts put their stable part first (instructions, rules, the project's topic) and what
changes from one request to the next last, so providers' automatic prefix caching serves
the shared beginning of every request of a kind from its cache."""

from __future__ import annotations

from pathlib import Path

import pytest

import distillset.prompts

TEMPLATES = Path(distillset.prompts.__file__).parent / "templates"
# What changes between requests of one project; {topic} is the project's, the same for all.
VARIABLE = (
    "{path}",
    "{existing}",
    "{count}",
    "{question}",
    "{answer}",
    "{reasoning}",
    "{questions}",
)


@pytest.mark.parametrize(
    "template",
    sorted(path for path in TEMPLATES.glob("*/*.txt") if path.stem != "answer"),
    ids=lambda path: f"{path.parent.name}/{path.stem}",
)
def test_every_rule_comes_before_the_first_variable_part(template: Path) -> None:
    lines = template.read_text(encoding="utf-8").splitlines()
    first_variable = next(
        number for number, line in enumerate(lines) if any(v in line for v in VARIABLE)
    )
    rules = [number for number, line in enumerate(lines) if line.startswith("- ")]
    assert rules, "the template has rules"
    assert max(rules) < first_variable, lines[first_variable]
    stable = "\n".join(lines[:first_variable])
    assert len(stable) > 100  # a prefix worth caching

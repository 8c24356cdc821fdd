"""The gateway is below every service: llm/ and store/ import nothing above them."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import distillset

PACKAGE = Path(distillset.__file__).parent
# What each low layer may import of the project (DESIGN.md §2).
ALLOWED = {
    "store": {"distillset.store", "distillset.domain", "distillset.config"},
    "llm": {"distillset.llm", "distillset.store", "distillset.domain", "distillset.config"},
}


def _project_imports(path: Path) -> set[str]:
    """Every distillset module a file imports, at the top or inside a function."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module]
        elif isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        else:
            continue
        found.update(name for name in names if name.split(".")[0] == "distillset")
    return found


@pytest.mark.parametrize("layer", sorted(ALLOWED))
def test_a_low_layer_imports_nothing_above_it(layer: str) -> None:
    allowed = ALLOWED[layer]
    above = {
        f"{path.relative_to(PACKAGE)}: {name}"
        for path in sorted((PACKAGE / layer).rglob("*.py"))
        for name in _project_imports(path)
        if not any(name == low or name.startswith(f"{low}.") for low in allowed)
    }
    assert above == set()

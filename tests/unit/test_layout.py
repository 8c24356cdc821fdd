"""The layout's rules that the layers contract (`make imports`) does not state: the lowest
layers import nothing above them, and the interfaces use the core only through each package's
`__init__` surface, which lists what it offers in `__all__`."""

from __future__ import annotations

import ast
import importlib
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


INTERFACES = ("cli", "web", "api")
CORE = sorted(
    path.name
    for path in PACKAGE.iterdir()
    if (path / "__init__.py").exists() and path.name not in (*INTERFACES, "testing")
)


@pytest.mark.parametrize("interface", INTERFACES)
def test_interfaces_import_only_package_surfaces(interface: str) -> None:
    reached_inside = {
        f"{path.relative_to(PACKAGE)}: {name}"
        for path in sorted((PACKAGE / interface).rglob("*.py"))
        for name in _project_imports(path)
        # distillset.<core package>.<module>: past the surface
        if len(parts := name.split(".")) > 2 and parts[1] in CORE
    }
    assert reached_inside == set()


@pytest.mark.parametrize("package", CORE)
def test_each_core_package_lists_its_surface(package: str) -> None:
    module = importlib.import_module(f"distillset.{package}")
    assert isinstance(module.__all__, list) and module.__all__ == sorted(set(module.__all__))
    assert [name for name in module.__all__ if not hasattr(module, name)] == []

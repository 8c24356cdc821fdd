"""Hostile tree files and arguments: refused in one clear line, with nothing written.

Labels that look like paths (`../../etc/passwd`) are data: they are stored as text and never
become a file name (downloads are named from a slug of the project name).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from typer.testing import Result

from distillset.config import Settings
from distillset.store import Store, Tag
from distillset.web import create_app

NAME = "Hostile files"
DEPTH = 10_000


def _tag_count(store: Store) -> int:
    with store.session() as session:
        return int(session.scalar(select(func.count(Tag.id))) or 0)


def _refused(result: Result, words: str) -> None:
    assert result.exit_code == 2, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and words in lines[0], lines


def _deep_json() -> str:
    return '{"label": "L", "children": [' * DEPTH + '{"label": "end"}' + "]}" * DEPTH


HOSTILE_FILES: dict[str, tuple[Callable[[], str | bytes], str]] = {
    "deep.json": (_deep_json, "nested too deeply"),
    "deep-list.json": (lambda: "[" * DEPTH + "]" * DEPTH, "nested too deeply"),
    "deep.yaml": (lambda: "a: {" * DEPTH + "b: c" + "}" * DEPTH, "deep"),
    "deep.md": (lambda: "\n".join(" " * i + f"- L{i}" for i in range(DEPTH)), "too large"),
    "truncated.json": (lambda: '{"label": "a", "children": [', "invalid JSON"),
    "empty-label.json": (lambda: '[{"label": "ok"}, {"label": "  "}]', "empty once cleaned"),
    "no-tags.json": (lambda: "[null]", "holds no tags"),
    "unlabelled.json": (lambda: '[{"label": "ok"}, [["x"]]]', "has no label"),
    "broken.yaml": (lambda: "a: [b, c\n  - : :", "invalid YAML"),
    "binary.md": (lambda: b"\xff\xfe\x00garbage\x00", "not UTF-8"),
    "huge.md": (lambda: "- item xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\n" * 600_000, "too large"),
}


@pytest.mark.parametrize("file_name", sorted(HOSTILE_FILES))
def test_hostile_tree_files_are_refused_and_write_nothing(
    cli: Callable[..., Result], store: Store, tmp_path: Path, file_name: str
) -> None:
    assert cli("project", "create", NAME).exit_code == 0
    assert cli("tags", "add", NAME, "--path", "Existing").exit_code == 0
    make, words = HOSTILE_FILES[file_name]
    content = make()
    path = tmp_path / file_name
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")

    result = cli("tags", "import", NAME, str(path))

    _refused(result, words)
    assert _tag_count(store) == 1


def test_import_paths_that_are_no_tree_file_are_refused(
    cli: Callable[..., Result], tmp_path: Path
) -> None:
    assert cli("project", "create", NAME).exit_code == 0
    _refused(cli("tags", "import", NAME, "../../../../etc/passwd"), "cannot tell the format")
    _refused(cli("tags", "import", NAME, str(tmp_path / "missing.json")), "missing.json")
    folder = tmp_path / "folder.json"
    folder.mkdir()
    _refused(cli("tags", "import", NAME, str(folder)), "folder.json")


def test_path_like_labels_are_text_and_never_become_files(
    cli: Callable[..., Result], settings: Settings, tmp_path: Path
) -> None:
    labels = ["../../../../tmp/evil", "/etc/passwd", "..\\..\\windows", "a/../../b"]
    outline = tmp_path / "outline.json"
    outline.write_text(json.dumps([{"label": label} for label in labels]), encoding="utf-8")
    assert cli("project", "create", "../../evil project").exit_code == 0

    imported = cli("tags", "import", "../../evil project", str(outline))

    assert imported.exit_code == 0, imported.output
    tree = json.loads(cli("tags", "tree", "../../evil project", "--json").stdout)
    assert sorted(child["label"] for child in tree["children"]) == sorted(labels)
    with TestClient(create_app(settings), base_url="http://127.0.0.1") as client:
        # The API's download (the page's says "nothing matched" for an empty project).
        reply = client.get(
            "/api/v1/projects/1/export", params={"format": "alpaca", "file_format": "jsonl"}
        )
    assert reply.status_code == 200, reply.text[:300]
    disposition = reply.headers["content-disposition"]
    assert "/" not in disposition and ".." not in disposition, disposition
    assert not Path("/tmp/evil").exists()


def test_an_argument_that_is_not_utf8_is_refused_in_one_line(settings: Settings) -> None:
    env = os.environ | {"DISTILLSET_HOME": str(settings.home)}
    distillset = [sys.executable.encode(), b"-m", b"distillset"]
    subprocess.run([*distillset, b"project", b"create", b"P"], env=env, check=True)

    done = subprocess.run(
        [*distillset, b"tags", b"add", b"P", b"--path", b"A > bad \xff\xfe bytes"],
        env=env,
        capture_output=True,
    )

    assert done.returncode == 2
    assert done.stderr.decode().strip() == (
        "error: invalid tag label: text that is not valid UTF-8 (invalid bytes, or a JSON "
        "escape of half a surrogate pair) cannot be stored or shown ('\\udcff\\udcfe')"
    )

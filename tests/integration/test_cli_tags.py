"""`distillset tags ...` through the real command line: editing, import, export, printing."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from typer.testing import Result

from distillset.config import load_settings
from distillset.projects.lifecycle import get_project
from distillset.store import open_store
from distillset.tags.tree import find_tag
from helpers import add_record, assert_refused_in_one_line

Cli = Callable[..., Result]
TOPIC = "Physical Education and Sports"


def labels(tree: list[dict[str, Any]]) -> list[Any]:
    """A tree as nested [label, [children...]] pairs, ids and counts left out."""
    return [[node["label"], labels(node["children"])] for node in tree]


def tree_of(cli: Cli, project: str = TOPIC) -> list[Any]:
    result = cli("tags", "tree", project, "--json")
    assert result.exit_code == 0, result.output
    return labels(json.loads(result.stdout)["children"])


def add_question_with_answer(tag_path: str, text: str) -> None:
    store = open_store(load_settings())
    try:
        with store.session() as session:
            project = get_project(session, TOPIC)
            tag = find_tag(session, project, tag_path)
            add_record(session, project, tag, text, "42")
    finally:
        store.close()


@pytest.fixture
def project(cli: Cli) -> str:
    assert cli("project", "create", TOPIC).exit_code == 0
    return TOPIC


def test_add_rename_move_delete(cli: Cli, project: str) -> None:
    assert cli("tags", "add", project, "--path", "Ball games > Football").exit_code == 0
    assert cli("tags", "add", project, "--path", f"{TOPIC} > Ball games > Tennis").exit_code == 0
    assert cli("tags", "add", project, "--path", "2. Athletics").exit_code == 0
    assert tree_of(cli) == [
        ["Ball games", [["Football", []], ["Tennis", []]]],
        ["Athletics", []],
    ]
    add_question_with_answer("Ball games > Tennis", "How is a tie-break scored?")

    renamed = cli(
        "tags", "rename", project, "--path", "Ball games > Tennis", "--to", "Racket sports"
    )
    assert renamed.exit_code == 0, renamed.output
    moved = cli("tags", "move", project, "--path", "Ball games > Racket sports", "--under", "")
    assert moved.exit_code == 0, moved.output
    assert tree_of(cli) == [
        ["Ball games", [["Football", []]]],
        ["Athletics", []],
        ["Racket sports", []],
    ]
    shown = json.loads(cli("tags", "tree", project, "--json").stdout)
    assert shown["children"][2]["questions"] == 1  # the question followed its tag

    assert (
        cli("tags", "move", project, "--path", "Athletics", "--under", "Ball games").exit_code == 0
    )
    assert tree_of(cli)[0] == ["Ball games", [["Football", []], ["Athletics", []]]]

    refused = cli("tags", "delete", project, "--path", "Racket sports", input="n\n")
    assert refused.exit_code != 0
    assert "1 questions" in refused.output
    deleted = cli("tags", "delete", project, "--path", "Racket sports", "--yes")
    assert deleted.exit_code == 0, deleted.output
    assert "1 tags, 1 questions and 1 answers" in deleted.stdout
    stats = json.loads(cli("project", "show", project, "--json").stdout)
    assert (stats["tags"], stats["questions"], stats["answers"]) == (3, 0, 0)

    assert cli("tags", "delete", project, "--path", "Ball games").exit_code == 0
    assert tree_of(cli) == []


def test_a_typed_label_keeps_its_leading_number(cli: Cli, project: str, tmp_path: Path) -> None:
    for path in ("10 Tips for sprinting", "3 Body Problem", "1.2 Rules", "2) Swimming"):
        added = cli("tags", "add", project, "--path", path)
        assert added.exit_code == 0, added.output
    assert tree_of(cli) == [
        ["10 Tips for sprinting", []],
        ["3 Body Problem", []],
        ["Rules", []],
        ["Swimming", []],
    ]
    renamed = cli("tags", "rename", project, "--path", "10 Tips for sprinting", "--to", "12 Tips")
    assert renamed.exit_code == 0, renamed.output
    moved = cli("tags", "move", project, "--path", "3 Body Problem", "--under", "12 Tips")
    assert moved.exit_code == 0, moved.output
    assert cli("tags", "add", project, "--path", "12 Tips > 1. 5 Minute Warm-up").exit_code == 0
    before = tree_of(cli)
    assert before[0] == ["12 Tips", [["3 Body Problem", []], ["5 Minute Warm-up", []]]]

    # An exported tree imports back whole, in every format.
    for file_format in ("json", "yaml", "md"):
        exported = tmp_path / f"tree.{file_format}"
        cli("tags", "export", project, "--format", file_format, "-o", str(exported))
        copy = f"Copy {file_format}"
        cli("project", "create", copy, "--topic", TOPIC)
        assert cli("tags", "import", copy, str(exported)).exit_code == 0
        assert tree_of(cli, copy) == before, file_format


def test_a_table_of_contents_still_loses_its_section_numbers(
    cli: Cli, project: str, tmp_path: Path
) -> None:
    source = tmp_path / "contents.md"
    source.write_text("1 Basics\n1.1 Terms\n1.2 Rules\n2 Methods\n", encoding="utf-8")
    assert cli("tags", "import", project, str(source)).exit_code == 0
    assert tree_of(cli) == [["Basics", [["Terms", []], ["Rules", []]]], ["Methods", []]]


def test_tag_mistakes_exit_2(cli: Cli, project: str) -> None:
    cli("tags", "add", project, "--path", "A > B")
    cli("tags", "add", project, "--path", "A > C")
    cases = [
        (("tags", "add", project, "--path", "A > B"), "already exists"),
        (("tags", "add", project, "--path", "A >  > B"), "invalid tag path"),
        (("tags", "add", project, "--path", TOPIC), "names the topic itself"),
        (("tags", "add", "Ghost", "--path", "A"), "no project named"),
        (("tags", "rename", project, "--path", "A > X", "--to", "Y"), "no tag 'A > X'"),
        (("tags", "rename", project, "--path", "A > B", "--to", "c"), "already exists"),
        (("tags", "rename", project, "--path", "A > B", "--to", "(3)"), "empty once cleaned"),
        (("tags", "move", project, "--path", "A", "--under", "A > B"), "under itself"),
        (("tags", "delete", project, "--path", "Nope"), "no tag"),
        (("tags", "import", project, "missing.json"), "cannot read"),
        (("tags", "export", project, "--format", "xml"), "unknown format"),
        (("tags", "export", project, "-o", "no/such/dir/tree.json"), "cannot write"),
        (("tags", "import", project, "missing.json", "--under", "Nope"), "cannot read"),
    ]
    assert_refused_in_one_line(cli, cases)


def test_tree_prints_numbering_from_position(cli: Cli, project: str) -> None:
    for path in ("Ball games > Football", "Ball games > Tennis", "Athletics"):
        cli("tags", "add", project, "--path", path)
    assert cli("tags", "tree", project).stdout.splitlines() == [
        TOPIC,
        "1 Ball games",
        "  1.1 Football",
        "  1.2 Tennis",
        "2 Athletics",
    ]


OUTLINES = {
    # A lone `#` heading would be the document's topic, so the top tag here is a `##`.
    "toc.md": """## Sports science

### 1. Physiology
- 1.1 Energy systems
  - Aerobic
  - Anaerobic
- 1.2 Muscles

### 2. Biomechanics
1. Levers
2. [Projectiles](https://example.org/p)
""",
    "toc.json": json.dumps(
        {
            "Sports science": [
                {
                    "label": "Physiology",
                    "children": [
                        {"label": "Energy systems", "children": ["Aerobic", "Anaerobic"]},
                        "Muscles",
                    ],
                },
                {"Biomechanics": ["Levers", "Projectiles"]},
            ]
        }
    ),  # fmt: skip
    "toc.yaml": """Sports science:
  Physiology:
    Energy systems: [Aerobic, Anaerobic]
    Muscles:
  Biomechanics:
    - Levers
    - Projectiles
""",
}
EXPECTED = [
    [
        "Sports science",
        [
            [
                "Physiology",
                [["Energy systems", [["Aerobic", []], ["Anaerobic", []]]], ["Muscles", []]],
            ],
            ["Biomechanics", [["Levers", []], ["Projectiles", []]]],
        ],
    ]
]


@pytest.mark.parametrize("name", sorted(OUTLINES))
def test_import_each_format(cli: Cli, project: str, tmp_path: Path, name: str) -> None:
    source = tmp_path / name
    source.write_text(OUTLINES[name], encoding="utf-8")
    result = cli("tags", "import", project, str(source), "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == {"read": 9, "created": 9}
    assert tree_of(cli) == EXPECTED

    again = cli("tags", "import", project, str(source), "--json")
    assert json.loads(again.stdout) == {"read": 9, "created": 0}  # merged, not duplicated
    assert tree_of(cli) == EXPECTED


def test_import_under_a_tag(cli: Cli, project: str, tmp_path: Path) -> None:
    cli("tags", "add", project, "--path", "Theory")
    source = tmp_path / "part.md"
    source.write_text("- Rules\n  - Offside\n", encoding="utf-8")
    assert cli("tags", "import", project, str(source), "--under", "Theory").exit_code == 0
    assert tree_of(cli) == [["Theory", [["Rules", [["Offside", []]]]]]]


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("bad.json", '{"a": [', "invalid JSON at line 1"),
        ("bad.yaml", "a: [b, c\n", "invalid YAML"),
        ("empty-label.json", '[{"label": "ok"}, {"label": "  "}]', "empty once cleaned"),
        ("bool.json", '[{"label": "A", "children": [true]}]', "A: a label must be text"),
        ("nested.json", '[["a"]]', "a list directly inside a list"),
        ("empty.md", "\n\n", "holds no tags"),
        ("deep.json", "[" * 10_000 + "]" * 10_000, "nested too deeply"),
        ("deep.md", "".join(f"{'  ' * i}- L{i}\n" for i in range(25)), "deeper than 20 levels"),
        ("outline.docx", "x", "cannot tell the format"),
        ("latin1.md", None, "not UTF-8"),
    ],
)
def test_malformed_import_writes_nothing(
    cli: Cli, project: str, tmp_path: Path, name: str, content: str | None, message: str
) -> None:
    cli("tags", "add", project, "--path", "Existing")
    source = tmp_path / name
    if content is None:
        source.write_bytes("- Café\n".encode("latin-1"))
    else:
        source.write_text(content, encoding="utf-8")
    result = cli("tags", "import", project, str(source))
    assert result.exit_code == 2, result.output
    assert message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert tree_of(cli) == [["Existing", []]]


def test_import_failing_midway_rolls_back(cli: Cli, project: str, tmp_path: Path) -> None:
    """Depth is checked against where the tree lands: nothing of it may stay behind."""
    deep = "A"
    for level in range(1, 19):
        deep += f" > L{level}"
    cli("tags", "add", project, "--path", deep)  # 19 levels
    source = tmp_path / "two-levels.md"
    source.write_text("- X\n  - Y\n", encoding="utf-8")
    result = cli("tags", "import", project, str(source), "--under", deep)
    assert result.exit_code == 2
    assert "deeper than 20" in result.stderr
    stats = json.loads(cli("project", "show", project, "--json").stdout)
    assert stats["tags"] == 19


@pytest.mark.parametrize("file_format", ["json", "yaml", "md"])
def test_export_then_import_round_trips(
    cli: Cli, project: str, tmp_path: Path, file_format: str
) -> None:
    source = tmp_path / "toc.md"
    source.write_text(OUTLINES["toc.md"], encoding="utf-8")
    cli("tags", "import", project, str(source))
    cli("tags", "add", project, "--path", "Ethics > 1984 Olympics boycott")
    before = tree_of(cli)

    exported = tmp_path / f"tree.{file_format}"
    assert (
        cli("tags", "export", project, "--format", file_format, "-o", str(exported)).exit_code == 0
    )
    stdout_copy = cli("tags", "export", project, "--format", file_format).stdout
    assert stdout_copy == exported.read_text(encoding="utf-8")

    cli("project", "create", "Copy", "--topic", TOPIC)
    result = cli("tags", "import", "Copy", str(exported), "--json")
    assert result.exit_code == 0, result.output
    assert tree_of(cli, "Copy") == before


@pytest.mark.parametrize("file_format", ["json", "yaml", "md"])
def test_export_imports_into_a_project_with_another_topic(
    cli: Cli, project: str, tmp_path: Path, file_format: str
) -> None:
    source = tmp_path / "toc.md"
    source.write_text(OUTLINES["toc.md"], encoding="utf-8")
    cli("tags", "import", project, str(source))
    before = tree_of(cli)
    exported = tmp_path / f"tree.{file_format}"
    cli("tags", "export", project, "--format", file_format, "-o", str(exported))

    cli("project", "create", "Athletics")
    result = cli("tags", "import", "Athletics", str(exported))
    assert result.exit_code == 0, result.output
    assert tree_of(cli, "Athletics") == before  # the source's topic is not a new top level


def test_tag_changes_report_json_for_scripts(cli: Cli, project: str) -> None:
    def run_json(*args: str) -> dict[str, Any]:
        result = cli(*args, "--json")
        assert result.exit_code == 0, result.output
        data: dict[str, Any] = json.loads(result.stdout)
        return data

    added = run_json("tags", "add", project, "--path", "Ball games > Tennis")
    assert added["path"] == "Ball games > Tennis"
    renamed = run_json("tags", "rename", project, "--path", "Ball games > Tennis", "--to", "Padel")
    assert renamed == {"id": added["id"], "path": "Ball games > Padel"}
    moved = run_json("tags", "move", project, "--path", "Ball games > Padel", "--under", "")
    assert moved == {"id": added["id"], "path": "Padel"}
    add_question_with_answer("Padel", "How big is a padel court?")
    deleted = run_json("tags", "delete", project, "--path", "Padel", "--yes")
    assert deleted == {"tags": 1, "questions": 1, "answers": 1}
    assert tree_of(cli) == [["Ball games", []]]

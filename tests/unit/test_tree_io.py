"""Reading and writing tag-tree files, without a database."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from distillset.domain import InvalidInputError, clean_label
from distillset.tags import tree_io
from distillset.tags.tree import MAX_TAG_DEPTH, TreeNode


def shape(nodes: list[TreeNode]) -> list[Any]:
    return [[node.label, shape(node.children)] for node in nodes]


def test_json_shapes_mix() -> None:
    document = {
        "topic": "ignored",
        "children": [
            {"label": "A", "id": 3, "questions": 2, "children": [{"name": "A1"}, "A2"]},
            {"title": "B"},
            {"C": {"C1": None, "C2": ["x", 1984]}},
        ],
    }
    nodes = tree_io.parse_tree(json.dumps(document), "json")
    assert shape(nodes) == [
        ["A", [["A1", []], ["A2", []]]],
        ["B", []],
        ["C", [["C1", []], ["C2", [["x", []], ["1984", []]]]]],
    ]


def test_a_tag_called_name_in_a_mapping_is_a_tag() -> None:
    nodes = tree_io.parse_tree("name:\n  first: null\ntitle: [x]\n", "yaml")
    assert shape(nodes) == [["name", [["first", []]]], ["title", [["x", []]]]]


def test_labels_are_cleaned_of_numbering() -> None:
    nodes = tree_io.parse_tree('{"1. Intro": ["1.1 History", "(2) Rules"]}', "json")
    assert shape(nodes) == [["Intro", [["History", []], ["Rules", []]]]]


def test_markdown_headings_bullets_and_plain_lines() -> None:
    text = """---
# Book

Preface

## Chapter one
* Part A
    * Part A.1
* Part B
  - [ ] Task list item
### Deep heading
1) Numbered
```
- not a tag
```
<!-- comment -->
## Chapter two ##
"""
    assert shape(tree_io.parse_markdown(text)) == [
        [
            "Book",
            [
                ["Preface", []],
                [
                    "Chapter one",
                    [
                        ["Part A", [["Part A.1", []]]],
                        ["Part B", [["Task list item", []]]],
                        ["Deep heading", [["Numbered", []]]],
                    ],
                ],
                ["Chapter two", []],
            ],
        ]
    ]


def test_markdown_indented_toc_with_tabs() -> None:
    text = "1 Basics\n\t1.1 Terms\n\t\t1.1.1 Units\n2 Methods\n"
    assert shape(tree_io.parse_markdown(text)) == [
        ["Basics", [["Terms", [["Units", []]]]]],
        ["Methods", []],
    ]


def test_markdown_unindented_book_contents_nest_by_section_number() -> None:
    text = """Preface
1 Basics
1.1 Terms
1.1.1 Units
- a bullet under the section
1.2 History
2. Methods
2.1 Sampling
Appendix
"""
    assert shape(tree_io.parse_markdown(text)) == [
        ["Preface", []],
        [
            "Basics",
            [
                ["Terms", [["Units", [["a bullet under the section", []]]]]],
                ["History", []],
            ],
        ],
        ["Methods", [["Sampling", []]]],
        ["Appendix", []],
    ]


def test_a_bare_number_is_numbering_only_where_it_orders_the_outline() -> None:
    # A plain table of contents and headings: the section number goes, dotted or not.
    toc = "1 Basics\n1.2 Rules\n2 Methods\n## 3 Body Problem\n"
    assert shape(tree_io.parse_tree(toc, "md")) == [
        ["Basics", [["Rules", []]]],
        ["Methods", []],
        ["Body Problem", []],
    ]
    # Bullets, JSON and YAML give labels whole: only dotted or parenthesised numbering goes.
    bullets = "- 10 Tips for sprinting\n  - 1.2 Starts\n- 3 Body Problem\n"
    document = {"10 Tips for sprinting": ["1.2 Starts"], "3 Body Problem": None}
    expected = [["10 Tips for sprinting", [["Starts", []]]], ["3 Body Problem", []]]
    assert shape(tree_io.parse_tree(bullets, "md")) == expected
    assert shape(tree_io.parse_tree(json.dumps(document), "json")) == expected
    assert shape(tree_io.parse_tree(yaml.safe_dump(document), "yaml")) == expected


def test_depth_limit_is_exact() -> None:
    deepest_allowed: Any = "leaf"
    for level in range(MAX_TAG_DEPTH - 1):
        deepest_allowed = {f"L{level}": deepest_allowed}
    nodes = tree_io.nodes_from_data(deepest_allowed)
    assert tree_io.tree_depth(nodes) == MAX_TAG_DEPTH
    with pytest.raises(InvalidInputError, match="deeper than 20"):
        tree_io.nodes_from_data({"top": deepest_allowed})


def test_node_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tree_io, "MAX_NODES", 5)
    assert tree_io.count_nodes(tree_io.parse_tree("[1, 2, 3, 4, 5]", "json")) == 5
    with pytest.raises(InvalidInputError, match="more than 5 tags"):
        tree_io.parse_tree("[1, 2, 3, 4, 5, 6]", "json")
    with pytest.raises(InvalidInputError, match="more than 5 tags"):
        tree_io.parse_tree("- a\n- b\n- c\n- d\n- e\n- f\n", "md")


def test_size_limit(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(tree_io, "MAX_FILE_BYTES", 100)
    path = tmp_path / "big.md"
    path.write_text("- tag\n" * 17, encoding="utf-8")  # 102 bytes
    with pytest.raises(InvalidInputError, match="too large"):
        tree_io.read_tree_file(path)


def test_deep_yaml_is_refused_cleanly() -> None:
    with pytest.raises(InvalidInputError):
        tree_io.parse_tree("[" * 10_000 + "]" * 10_000, "yaml")


def test_format_from_suffix_or_flag(tmp_path: Path) -> None:
    assert tree_io.format_of(tmp_path / "a.YML") == "yaml"
    assert tree_io.format_of(tmp_path / "a.markdown") == "md"
    assert tree_io.format_of(tmp_path / "a.data", "json") == "json"
    with pytest.raises(InvalidInputError):
        tree_io.format_of(tmp_path / "a.data")


# Labels as stored (already cleaned, a hand-typed one may start with a number), which is what
# an export contains.
_labels = (
    st.text(
        alphabet=st.characters(
            categories=["L", "N", "Zs"], include_characters="-'&()", max_codepoint=0x2FFF
        ),
        min_size=1,
        max_size=20,
    )
    .map(lambda text: clean_label(text, keep_bare_number=True))
    .filter(bool)
)


def _trees(depth: int) -> st.SearchStrategy[list[TreeNode]]:
    child = st.just([]) if depth <= 1 else _trees(depth - 1)
    node = st.builds(lambda label, kids: TreeNode(label, children=kids), _labels, child)
    return st.lists(node, max_size=4, unique_by=lambda n: n.label.casefold())


def test_a_label_of_dashes_is_not_written_as_a_markdown_rule() -> None:
    nodes = [TreeNode("--", children=[TreeNode("-- --")]), TreeNode("Ball games")]
    text = tree_io.dump_tree("Topic", nodes, "md")
    assert shape(tree_io.parse_tree(text, "md")) == shape(nodes)


@settings(max_examples=60, deadline=None)
@given(nodes=_trees(4), file_format=st.sampled_from(tree_io.FORMATS))
def test_dump_then_parse_round_trips(nodes: list[TreeNode], file_format: str) -> None:
    text = tree_io.dump_tree("Topic", nodes, file_format)
    if file_format == "md":
        parsed = tree_io.parse_tree(text, "md")
        # The `# Topic` heading is the topic, as the JSON and YAML "topic" key is; with no
        # tags under it, the lone heading is a tag.
        assert shape(parsed) == (shape(nodes) if nodes else [["Topic", []]])
    elif nodes:
        assert shape(tree_io.parse_tree(text, file_format)) == shape(nodes)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("# Book\n## One\n### One.1\n## Two\n", [["One", [["One.1", []]]], ["Two", []]]),
        ("# Topic\n\n- A\n  - B\n- C\n", [["A", [["B", []]]], ["C", []]]),
        ("# One\n## A\n# Two\n", [["One", [["A", []]]], ["Two", []]]),
        ("# Lone heading\n", [["Lone heading", []]]),
        ("- Root\n  - Child\n", [["Root", [["Child", []]]]]),
        ("## Section\n### Sub\n", [["Section", [["Sub", []]]]]),
    ],
)
def test_a_single_top_heading_is_the_markdown_topic(text: str, expected: list[Any]) -> None:
    assert shape(tree_io.parse_tree(text, "md")) == expected


def test_a_markdown_topic_heading_does_not_count_as_a_level() -> None:
    deepest = "".join(f"{'  ' * level}- L{level}\n" for level in range(MAX_TAG_DEPTH))
    assert tree_io.tree_depth(tree_io.parse_tree("# Topic\n" + deepest, "md")) == MAX_TAG_DEPTH
    with pytest.raises(InvalidInputError, match="deeper than"):
        tree_io.parse_tree("# Topic\n" + deepest + f"{'  ' * MAX_TAG_DEPTH}- too deep\n", "md")
    with pytest.raises(InvalidInputError, match="deeper than"):
        tree_io.parse_tree(deepest + f"{'  ' * MAX_TAG_DEPTH}- too deep\n", "md")

"""Plain domain values: labels, paths, text keys."""

from __future__ import annotations

import pytest

from distillset.domain import (
    InvalidInputError,
    TagPath,
    TaskStatus,
    clean_label,
    normalize_text,
    text_hash,
)


@pytest.mark.parametrize(
    ("raw", "label"),
    [
        ("1. Ball games", "Ball games"),
        ("1.2 Ball games", "Ball games"),
        ("1.2. Ball games", "Ball games"),
        ("2) Swimming", "Swimming"),
        ("(3) Tennis", "Tennis"),
        ("[4] Golf", "Golf"),
        ("10、中文标签", "中文标签"),
        ("（2）体育", "体育"),
        ("1 Introduction", "Introduction"),
        ("- Bullet", "Bullet"),
        ("• Dot", "Dot"),
        ('"Quoted label."', "Quoted label"),
        ("**Bold**", "Bold"),
        ("Sports > Ball games", "Sports - Ball games"),
        ("  spaced \t out  ", "spaced out"),
        ("1984 Olympics", "1984 Olympics"),
        ("2024", "2024"),
        ("Chapter 1", "Chapter 1"),
    ],
)
def test_clean_label(raw: str, label: str) -> None:
    assert clean_label(raw) == label
    assert clean_label(label) == label  # cleaning is stable


@pytest.mark.parametrize(
    ("raw", "label"),
    [
        ("10 Tips for sprinting", "10 Tips for sprinting"),
        ("3 Body Problem", "3 Body Problem"),
        ("1. Ball games", "Ball games"),
        ("1) Ball games", "Ball games"),
        ("1.2 Ball games", "Ball games"),
        ("1.2. Ball games", "Ball games"),
        ("(3) Tennis", "Tennis"),
        ("- 10 Tips", "10 Tips"),
        ("2. 3 Body Problem", "3 Body Problem"),
    ],
)
def test_a_label_given_whole_keeps_a_bare_leading_number(raw: str, label: str) -> None:
    assert clean_label(raw, keep_bare_number=True) == label
    assert clean_label(label, keep_bare_number=True) == label


def test_a_bare_number_is_numbering_in_model_output() -> None:
    assert clean_label("10 Tips for sprinting") == "Tips for sprinting"
    assert clean_label("3 Body Problem") == "Body Problem"
    assert clean_label("12 运动训练") == "运动训练"
    assert clean_label('1 "Introduction"') == "Introduction"
    assert clean_label("2 「运动训练」") == "运动训练"
    assert clean_label("1 **Bold title**") == "Bold title"
    assert clean_label("6 3D printing") == "3D printing"
    assert clean_label("3 ¿Qué es?") == "¿Qué es?"


def test_a_bare_number_before_anything_but_a_word_is_not_numbering() -> None:
    assert clean_label("2 * 3 = 6") == "2 * 3 = 6"
    assert clean_label("3 + 4 drills") == "3 + 4 drills"
    assert clean_label("4 3 3 formation") == "4 3 3 formation"


def test_normalize_text_folds_case_width_space_and_end_punctuation() -> None:
    assert normalize_text("  Ball   GAMES ") == normalize_text("ball games.")
    assert normalize_text("ＡＢＣ？") == "abc"
    assert text_hash("What is VO2 max?") == text_hash("what is vo2   max")
    assert text_hash("What is VO2 max?") != text_hash("What is VO2 min?")


def test_tag_path_parse_and_print() -> None:
    path = TagPath.parse(" Sports >Ball games>  Football ")
    assert path.labels == ("Sports", "Ball games", "Football")
    assert str(path) == "Sports > Ball games > Football"
    assert path.leaf == "Football"
    assert path.parent == TagPath(("Sports", "Ball games"))
    assert TagPath(("Sports",)).parent is None


@pytest.mark.parametrize("bad", ["", "   ", "A >", "> A", "A >  > B"])
def test_tag_path_rejects_empty_parts(bad: str) -> None:
    with pytest.raises(InvalidInputError, match="A > B > C"):
        TagPath.parse(bad)


def test_finished_statuses() -> None:
    assert {s for s in TaskStatus if s.finished} == {
        TaskStatus.SUCCEEDED,
        TaskStatus.FAILED,
        TaskStatus.CANCELLED,
    }

"""Every readable copy of a key is masked: as written, JSON-escaped, broken over lines."""

from __future__ import annotations

import json
import re

import pytest

from distillset.llm.redact import MASK, redact

KEY = "sk-proj/Ab12+cd34-ef56_gh78"


@pytest.mark.parametrize(
    "text",
    [
        f"your header was Bearer {KEY}",
        json.dumps({"content": json.dumps({"header": f"Bearer {KEY}"})}),  # escaped twice
        "".join(f"\\u{ord(char):04X}" for char in KEY),
        KEY.replace("/", "\\/"),
        f"{KEY[:9]}\n{KEY[9:]}",
        json.dumps(f"{KEY[:9]}\r\n{KEY[9:]}"),
        repr(f"{KEY[:5]}\n{KEY[5:17]}\n  {KEY[17:]}"),
        " ".join(f"{KEY[:12]}\n{KEY[12:]}".split()),  # a snippet joins the lines with a space
    ],
)
def test_the_key_is_masked_in_every_form(text: str) -> None:
    assert KEY in _readable(text)  # the form really holds the key
    masked = redact(text, KEY)
    assert MASK in masked and KEY not in _readable(masked)
    assert KEY[12:] not in masked  # nor a long piece of it


def _readable(text: str) -> str:
    """JSON escapes decoded; backslashes, escaped and real breaks and spaces removed."""
    text = re.sub(r"\\+u([0-9a-fA-F]{4})", lambda m: chr(int(m.group(1), 16)), text)
    text = re.sub(r"\\+[nrt]", "", text).replace("\\", "")
    return "".join(text.split())


def test_other_text_is_left_alone() -> None:
    text = 'a reply with "sk-proj" and Ab12 in it, and a line\nbreak'
    assert redact(text, KEY) == text
    assert redact("the word abc stays", "abc") == f"the word {MASK} stays"
    assert redact("a b c stays", "abc") == "a b c stays"  # short keys only where whole

"""Which language a text is written in: py3langid (its model ships in the wheel, 4.5 MB,
loaded once in about a second, about 1 ms a text), over the text's prose only."""

from __future__ import annotations

import functools
import re
from typing import Any

# Below this many letters a guess is noise ("OK", "3.14"): no language is named.
MIN_LETTERS = 20
# Only a guess at least this sure names a language.
MIN_CONFIDENCE = 0.9
# Enough text to tell; long answers are cut here (the guess is linear in the length).
MAX_CHARS = 2_000

_CODE_BLOCK = re.compile(r"```.*?(```|$)", re.DOTALL)
_INLINE = re.compile(r"`[^`]*`|\$\$.*?\$\$|\$[^$]*\$|https?://\S+", re.DOTALL)
_LETTER = re.compile(r"[^\W\d_]", re.UNICODE)


@functools.cache
def _identifier() -> Any:
    from py3langid.langid import MODEL_FILE, LanguageIdentifier

    return LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)


def prose(text: str) -> str:
    """The text without code, formulas and links (which say nothing of its language)."""
    return _INLINE.sub(" ", _CODE_BLOCK.sub(" ", text))


def detect_language(text: str) -> str | None:
    """The ISO 639-1 code of the text's language (`en`, `zh`, ...), or None when the text
    is too short or too mixed to tell."""
    sample = prose(text)[:MAX_CHARS]
    if len(_LETTER.findall(sample)) < MIN_LETTERS:
        return None
    language, confidence = _identifier().classify(sample)
    return str(language) if confidence >= MIN_CONFIDENCE else None

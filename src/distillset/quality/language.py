"""Which language a text is written in, over its prose only.

Chinese, Japanese and Korean are told by their scripts (a statistical guess is unsure of short
Chinese texts); other languages by py3langid, whose model ships in its wheel (4.5 MB, loaded
once in about a second, about 1 ms a text; lingua-language-detector, measured beside it, took
26 s and 930 MB to load all its languages and 6 ms a text).
"""

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
_KANA = re.compile(r"[\u3040-\u30ff]")  # Japanese, even among Chinese characters
_HANGUL = re.compile(r"[\uac00-\ud7af\u1100-\u11ff]")
_HAN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
# A text whose letters are at least this share of one of those scripts is in its language.
SCRIPT_SHARE = 0.5


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
    letters = len(_LETTER.findall(sample))
    by_script = _by_script(sample, letters)
    if by_script is not None:
        return by_script
    if letters < MIN_LETTERS:
        return None
    language, confidence = _identifier().classify(sample)
    return str(language) if confidence >= MIN_CONFIDENCE else None


def _by_script(sample: str, letters: int) -> str | None:
    """The CJK language whose script most letters are in (ten letters are enough to tell)."""
    if letters < 10:
        return None
    if len(_KANA.findall(sample)) >= letters * 0.1:
        return "ja"
    if len(_HANGUL.findall(sample)) >= letters * SCRIPT_SHARE:
        return "ko"
    if len(_HAN.findall(sample)) >= letters * SCRIPT_SHARE:
        return "zh"
    return None

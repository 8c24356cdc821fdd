"""Plain value types shared by every layer: errors, enums, tag paths, progress."""

from __future__ import annotations

import enum
import hashlib
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass

PATH_SEPARATOR = " > "
# Why a label a person gives may not hold '>': it would read as two levels wherever its path
# is written (`A > B` in the CLI, a filter, an export). Model text has it replaced instead
# (clean_label): a model that answers with a path gave no label of its own.
SEPARATOR_IN_LABEL = (
    "'>' separates the levels of a tag path (A > B > C), so a label cannot contain it; "
    "add each level as its own tag, or write the label without '>'"
)

# The largest row id the databases take (a signed 64-bit integer): a bigger one names nothing.
MAX_ID = 2**63 - 1


class DistillsetError(Exception):
    """A failure the user can understand and act on; interfaces show its message as-is."""


class NotFoundError(DistillsetError):
    """A project, tag, question, endpoint or task that does not exist."""


class ConflictError(DistillsetError):
    """The request clashes with what is stored (duplicate name, task already running...)."""


class InvalidInputError(DistillsetError):
    """A parameter or file the user gave is not valid."""


class SettingRequired(InvalidInputError):
    """A refusal that a project setting fixes. The message says how at the CLI; ``reason``
    and ``setting`` let another interface point at its own way (the web app links to the
    settings field)."""

    def __init__(self, reason: str, *, setting: str, cli_fix: str) -> None:
        super().__init__(f"{reason}: {cli_fix}")
        self.reason = reason
        # A project field (question_model, answer_model, topic), or an endpoint's
        # (batch_discount-ALIAS).
        self.setting = setting


class ModelCallError(DistillsetError):
    """A model call that failed after its retries; carries the HTTP status when known."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


# What a job makes of each question, and what an export holds: single answers, multi-turn
# conversations, or both.
DATASET_TYPES = ("single", "multi", "both")


class Origin(enum.StrEnum):
    GENERATED = "generated"
    MANUAL = "manual"
    IMPORTED = "imported"
    DISTILLED = "distilled"


class TaskKind(enum.StrEnum):
    AUTO_DISTILL = "auto_distill"
    TAGS = "tags"
    QUESTIONS = "questions"
    ANSWERS = "answers"
    JUDGE = "judge"
    JUDGE_CONVERSATIONS = "judge_conversations"  # the judge scores whole conversations
    RATE = "rate"  # the judge rates each question's difficulty
    TRAIN = "train"
    EVAL = "eval"
    REFINE = "refine"
    AUTO_TAG = "auto_tag"
    SCORE_TOKENS = "score_tokens"


class TaskStatus(enum.StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"
    INTERRUPTED = "interrupted"
    PAUSED = "paused"  # stopped before a call its budget could not pay; resumable

    @property
    def finished(self) -> bool:
        return self in {TaskStatus.SUCCEEDED, TaskStatus.FAILED, TaskStatus.CANCELLED}


class StructuredOutput(enum.StrEnum):
    JSON_SCHEMA = "json_schema"
    JSON_OBJECT = "json_object"
    NONE = "none"


class Clear(enum.Enum):
    """The value that removes an optional setting (a limit, a price, a sampling default),
    where None means "leave it as it is". Written `none` on the command line."""

    CLEAR = "none"


CLEAR = Clear.CLEAR

# The generation languages whose prompt templates distillset ships; a project may use any
# other language code too (prompts.languages: English templates asking for that language).
LANGUAGES = ("en", "zh", "tr")

# Numbering in any label: dotted, parenthesised or list-marked numbers and bullets.
_MARKED_NUMBERING = (
    r"\d+(?:\.\d+)+\.?\s+"  # 1.2 / 1.2.
    r"|\d+[.):]\s+"  # 1. / 1) / 1:
    r"|\d+[、．]\s*"  # 1、 (Chinese)
    r"|[(\[（]\d+[)\]）]\s*"  # (3) / [4] / （3）
    r"|[-*•]\s+"
)
# A bare short number is numbering where it carries the outline: a model's list, a table of
# contents ("1 Introduction", not "1984 Olympics"), unless a sum or another number follows
# ("2 * 3 = 6", "4 3 3 formation"). Where labels are given whole (typed by hand, bullets,
# JSON / YAML) it is part of the label: "10 Tips for sprinting".
_BARE_NUMBER = r"|\d{1,2}\s+(?![+*/×÷=<>^%](?:\s|\d)|\d+(?:\s|$))"
_NUMBERING = re.compile(rf"^\s*(?:{_MARKED_NUMBERING}{_BARE_NUMBER})")
_MARKED_ONLY = re.compile(rf"^\s*(?:{_MARKED_NUMBERING})")
_SPACES = re.compile(r"\s+")
# JSON can escape a lone surrogate (`\ud800`); UTF-8, so the store and every file, cannot.
_LONE_SURROGATE = re.compile("[\ud800-\udfff]")
_SURROGATES = re.compile("[\ud800-\udfff]+")
# C0 control characters and DEL: PostgreSQL cannot store NUL, and the others move a terminal's
# cursor, retitle its window or ring its bell. Tab and line breaks are text in a long text.
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_LINE_BREAKS = re.compile("[\t\n\r]")


def storable_text(text: str) -> str:
    """Model text as stored: control characters other than tab and line breaks removed, lone
    surrogates (only JSON escapes make them) become U+FFFD."""
    text = _CONTROL.sub("", text)
    return text if text.isascii() else _LONE_SURROGATE.sub("\ufffd", text)


UNSTORABLE_TEXT = (
    "text that is not valid UTF-8 (invalid bytes, or a JSON escape of half a surrogate pair) "
    "cannot be stored or shown"
)
CONTROL_CHARACTER = "control characters (such as NUL or ESC) are not allowed"
LINE_BREAK = "tabs and line breaks are not allowed in a single line"


def unstorable_reason(text: str, *, single_line: bool = False) -> str | None:
    """Why text a person gave cannot be stored as it is, or None when it can: a lone
    surrogate, a control character, or (``single_line``: a name) a tab or line break."""
    if (found := _CONTROL.search(text)) is not None:
        return f"{CONTROL_CHARACTER} ({found.group()!r})"
    if single_line and (found := _LINE_BREAKS.search(text)) is not None:
        return f"{LINE_BREAK} ({found.group()!r})"
    if not text.isascii() and (found := _SURROGATES.search(text)) is not None:
        return f"{UNSTORABLE_TEXT} ({found.group()!r})"
    return None


def unstorable_text_message(exc: UnicodeEncodeError) -> str:
    """Why text a person gave was refused: invalid UTF-8 bytes (PEP 383) or a JSON escape of
    a lone surrogate cannot be stored or shown."""
    return f"{UNSTORABLE_TEXT} ({exc.object[exc.start : exc.end]!r})"


# The longest text a person may give, by what it is: the same on every interface and database
# (a project name is a String(200) column, which PostgreSQL enforces and SQLite does not).
MAX_NAME_LENGTH = 200
MAX_LABEL_LENGTH = 500
MAX_URL_LENGTH = 500
MAX_DESCRIPTION_LENGTH = 10_000
MAX_PROMPT_LENGTH = 100_000


def checked_text(what: str, text: str, max_length: int | None, *, single_line: bool = True) -> str:
    """Text a person gave, as it may be stored; InvalidInputError naming ``what`` when it is
    too long (``max_length``; None for an edited question or answer, which may be any
    length) or holds characters that cannot be stored (see unstorable_reason)."""
    if max_length is not None and len(text) > max_length:
        raise InvalidInputError(f"{what} too long ({len(text)} > {max_length} chars)")
    reason = unstorable_reason(text, single_line=single_line)
    if reason is not None:
        raise InvalidInputError(f"invalid {what}: {reason}")
    return text


def field_pairs(pairs: Iterable[str]) -> dict[str, str]:
    """`PART=NAME` texts (the repeatable --field option, a form's `field` values) as a
    mapping of part to name; InvalidInputError for a text without `=`."""
    fields: dict[str, str] = {}
    for pair in pairs:
        part, sep, name = pair.partition("=")
        if not sep:
            raise InvalidInputError(f"write a field as PART=NAME, not {pair!r}")
        fields[part.strip()] = name.strip()
    return fields


def strip_numbering(label: str, *, keep_bare_number: bool = False) -> str:
    """`1.2 Ball games` -> `Ball games`; numbering is derived from position, never stored.
    With ``keep_bare_number``, `3 Body Problem` stays whole (see _BARE_NUMBER)."""
    numbering = _MARKED_ONLY if keep_bare_number else _NUMBERING
    return numbering.sub("", label, count=1).strip()


def normalize_text(text: str) -> str:
    """The comparison key of a label or question: case, width and spacing folded."""
    folded = unicodedata.normalize("NFKC", text).casefold()
    folded = _SPACES.sub(" ", folded).strip()
    return folded.rstrip(" .。!！?？;；:：")


def text_hash(text: str) -> str:
    return hashlib.sha256(normalize_text(text).encode("utf-8", "surrogatepass")).hexdigest()


def one_line(text: str) -> str:
    """The text with runs of spaces, tabs and line breaks as single spaces, trimmed."""
    return _SPACES.sub(" ", text).strip()


def clean_label(label: str, *, keep_bare_number: bool = False) -> str:
    """A tag label as stored: numbering, quotes and trailing punctuation removed
    (``keep_bare_number`` for a label given whole, see _BARE_NUMBER). A model's '>' becomes
    '-'; a label a person gives with '>' is refused before this (SEPARATOR_IN_LABEL)."""
    text = strip_numbering(one_line(label), keep_bare_number=keep_bare_number)
    text = text.strip("\"'`“”‘’「」*_ ")
    text = text.replace(">", "-")
    return text.rstrip(" .。;；,，:：").strip()


@dataclass(frozen=True)
class TagPath:
    """A tag's position as labels from the top level down, written `A > B > C`."""

    labels: tuple[str, ...]

    @classmethod
    def parse(cls, text: str) -> TagPath:
        parts = tuple(part.strip() for part in text.split(">"))
        if not text.strip() or any(not part for part in parts):
            raise InvalidInputError(
                f"invalid tag path {text!r}: write it as 'A > B > C' ('>' separates the "
                "levels, so no label holds it, and no level may be empty)"
            )
        return cls(parts)

    def __str__(self) -> str:
        return PATH_SEPARATOR.join(self.labels)

    @property
    def parent(self) -> TagPath | None:
        return TagPath(self.labels[:-1]) if len(self.labels) > 1 else None

    @property
    def leaf(self) -> str:
        return self.labels[-1]


@dataclass
class StageCounts:
    """Progress of one stage: planned is known up front, done never exceeds it."""

    planned: int = 0
    done: int = 0
    failed: int = 0
    # Work dropped before it was sent because its target was deleted: neither done nor failed.
    skipped: int = 0

    def as_dict(self) -> dict[str, int]:
        return {
            "planned": self.planned,
            "done": self.done,
            "failed": self.failed,
            "skipped": self.skipped,
        }

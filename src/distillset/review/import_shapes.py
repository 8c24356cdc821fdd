"""The shapes of a dataset row, and reading a question, answer and reasoning out of each.

Alpaca (instruction / input / output), ShareGPT (conversations of from/value turns), OpenAI
messages (role/content turns, Axolotl's and Harmony's included), TRL prompt / completion and
custom fields (``question``, ``answer``, ``reasoning`` by default, or named with ``fields``).
A ShareGPT or messages row of several exchanges is a conversation: its turns (each reply's
reasoning apart) and its system prompt are kept, the first user turn being its question.
The shape is found from the first row's fields when only one fits. Reasoning comes from a
``reasoning_content``, ``thinking`` or ``reasoning`` field, else from ``<think>`` blocks in the
answer: the gateway's one reasoning splitter reads both. Each text passes the text rules of
``domain.checked_text``; a bad row is refused with where it is.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from distillset.domain import MAX_PROMPT_LENGTH, InvalidInputError, checked_text
from distillset.llm.reasoning import message_text, split_reasoning
from distillset.review.import_files import SourceRow, decoded_list

FIELD_PARTS = ("question", "answer", "reasoning")
REASONING_FIELDS = ("reasoning_content", "thinking", "reasoning")
# The longest imported question: what a prompt may hold. Answers are bounded by the file.
MAX_QUESTION_LENGTH = MAX_PROMPT_LENGTH

USER_ROLES = {"user": "user", "human": "user"}
ASSISTANT_ROLES = {"assistant": "assistant", "gpt": "assistant", "model": "assistant"}
SKIPPED_ROLES = {"system", "developer"}


@dataclass(frozen=True)
class ImportedTurn:
    role: str  # user | assistant
    content: str
    reasoning: str | None = None


@dataclass(frozen=True)
class ImportedRecord:
    """A row as it will be stored: a question, its answer (None: a question alone) and the
    answer's reasoning; or, for a conversation, its turns (the question first) and its
    system prompt, with no single answer."""

    where: str
    question: str
    answer: str | None
    reasoning: str | None
    turns: tuple[ImportedTurn, ...] = ()
    system_prompt: str | None = None


def _text(where: str, what: str, value: Any, *, required: bool = True) -> str | None:
    """A text of the row, checked; None for an absent or blank optional one."""
    if isinstance(value, list):
        value = message_text(value)  # content given as a list of text parts
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            raise InvalidInputError(f"{where}: the {what} is empty")
        return None
    if not isinstance(value, str):
        raise InvalidInputError(f"{where}: the {what} is not text ({type(value).__name__})")
    limit = MAX_QUESTION_LENGTH if what == "question" else None
    try:
        return checked_text(what, value, limit, single_line=False)
    except InvalidInputError as exc:
        raise InvalidInputError(f"{where}: {exc}") from None


def _reply(where: str, what: str, answer: Any, reasoning: Any) -> tuple[str, str | None]:
    """A reply checked, its reasoning split from it: (answer, reasoning)."""
    given = _text(where, what, answer)
    thought = _text(where, "reasoning", reasoning, required=False)
    split_thought, split_answer = split_reasoning({"content": given, "reasoning_content": thought})
    if not split_answer:
        raise InvalidInputError(f"{where}: the {what} is empty once its reasoning is taken out")
    return split_answer, split_thought


def _record(
    where: str, question: Any, answer: Any, reasoning: Any, *, answered: bool = True
) -> ImportedRecord:
    """The record of a row: texts checked, the reasoning split from the answer."""
    asked = _text(where, "question", question)
    assert asked is not None
    if not answered:
        return ImportedRecord(where, asked.strip(), None, None)
    split_answer, split_thought = _reply(where, "answer", answer, reasoning)
    return ImportedRecord(where, asked.strip(), split_answer, split_thought)


def _first_reasoning(values: Mapping[str, Any]) -> Any:
    return next((values[name] for name in REASONING_FIELDS if values.get(name)), None)


def _turns(row: SourceRow, name: str, role_key: str, content_key: str) -> list[dict[str, Any]]:
    """The turns of a conversation field as role ("user" / "assistant") and message."""
    value = decoded_list(row.values.get(name))
    if not isinstance(value, list):
        raise InvalidInputError(f"{row.where}: {name!r} is not a list of turns")
    turns = []
    for number, turn in enumerate(value, start=1):
        if not isinstance(turn, dict):
            raise InvalidInputError(f"{row.where}: turn {number} of {name!r} is not an object")
        role = turn.get(role_key)
        if role in SKIPPED_ROLES:
            continue
        known = (
            (USER_ROLES.get(role) or ASSISTANT_ROLES.get(role)) if isinstance(role, str) else None
        )
        if known is None:
            raise InvalidInputError(
                f"{row.where}: turn {number} of {name!r} has the unknown {role_key} {role!r}"
            )
        turns.append({**turn, "role": known, "content": turn.get(content_key)})
    return turns


def _system_prompt(row: SourceRow, name: str, role_key: str, content_key: str) -> str | None:
    """The row's system prompt: its `system` column, Harmony's `developer` column (its
    system turn holds the reasoning language), else its first system turn."""
    given = row.values.get("system")
    if not given and "developer" in row.values:
        given = row.values["developer"]
    elif not given:
        value = decoded_list(row.values.get(name))
        given = next(
            (
                turn.get(content_key)
                for turn in (value if isinstance(value, list) else [])
                if isinstance(turn, dict) and turn.get(role_key) in SKIPPED_ROLES
            ),
            None,
        )
    return _text(row.where, "system prompt", given, required=False)


def _conversation(
    row: SourceRow, turns: list[dict[str, Any]], system: str | None
) -> ImportedRecord:
    """A conversation of several exchanges: user and assistant alternate, from a question
    to a reply."""
    roles = [turn["role"] for turn in turns]
    if len(roles) % 2 or roles != ["user", "assistant"] * (len(roles) // 2):
        raise InvalidInputError(
            f"{row.where}: a conversation's turns must alternate user and assistant, from a "
            "question to a reply"
        )
    kept: list[ImportedTurn] = []
    for position, turn in enumerate(turns):
        if turn["role"] == "user":
            what = "question" if position == 0 else f"turn {position}"
            text = _text(row.where, what, turn["content"])
            assert text is not None
            kept.append(ImportedTurn("user", text.strip() if position == 0 else text))
        else:
            reply, thought = _reply(
                row.where, f"turn {position}", turn["content"], _first_reasoning(turn)
            )
            kept.append(ImportedTurn("assistant", reply, thought))
    return ImportedRecord(
        row.where, kept[0].content, None, None, turns=tuple(kept), system_prompt=system
    )


def _exchange(
    row: SourceRow, turns: list[dict[str, Any]], system: str | None = None
) -> ImportedRecord:
    """One question and its reply, or a conversation of several, from turns without the
    system's."""
    if sum(turn["role"] == "user" for turn in turns) > 1:
        return _conversation(row, turns, system)
    if [turn["role"] for turn in turns] != ["user", "assistant"]:
        raise InvalidInputError(f"{row.where}: a question followed by one reply is expected")
    question, reply = turns
    return _record(row.where, question["content"], reply["content"], _first_reasoning(reply))


def _alpaca(row: SourceRow, _fields: Mapping[str, str]) -> ImportedRecord:
    values = row.values
    instruction = _text(row.where, "instruction", values.get("instruction"))
    extra = _text(row.where, "input", values.get("input"), required=False)
    question = f"{instruction}\n\n{extra}" if extra else instruction
    return _record(row.where, question, values.get("output"), _first_reasoning(values))


def _sharegpt(row: SourceRow, _fields: Mapping[str, str]) -> ImportedRecord:
    turns = _turns(row, "conversations", "from", "value")
    return _exchange(row, turns, _system_prompt(row, "conversations", "from", "value"))


def _messages(row: SourceRow, _fields: Mapping[str, str]) -> ImportedRecord:
    turns = _turns(row, "messages", "role", "content")
    return _exchange(row, turns, _system_prompt(row, "messages", "role", "content"))


def _trl_part(row: SourceRow, name: str, role: str) -> list[dict[str, Any]]:
    value = row.values.get(name)
    if isinstance(value, str) and not value.lstrip().startswith("["):
        return [{"role": role, "content": value}]  # the standard (not conversational) form
    return _turns(row, name, "role", "content")


def _trl(row: SourceRow, _fields: Mapping[str, str]) -> ImportedRecord:
    turns = _trl_part(row, "prompt", "user") + _trl_part(row, "completion", "assistant")
    return _exchange(row, turns, _system_prompt(row, "prompt", "role", "content"))


def _custom(row: SourceRow, fields: Mapping[str, str]) -> ImportedRecord:
    values = row.values
    reasoning_name = fields.get("reasoning")
    reasoning = values.get(reasoning_name) if reasoning_name else _first_reasoning(values)
    return _record(
        row.where,
        values.get(fields["question"]),
        values.get(fields.get("answer", "")),
        reasoning,
        answered="answer" in fields,
    )


@dataclass(frozen=True)
class RowShape:
    name: str
    title: str
    required: tuple[str, ...]
    read: Callable[[SourceRow, Mapping[str, str]], ImportedRecord] = field(repr=False)

    def fits(self, keys: set[str]) -> bool:
        return all(name in keys for name in self.required)


SHAPES: dict[str, RowShape] = {
    shape.name: shape
    for shape in (
        RowShape("alpaca", "Alpaca (instruction, output)", ("instruction", "output"), _alpaca),
        RowShape("sharegpt", "ShareGPT (conversations)", ("conversations",), _sharegpt),
        RowShape("messages", "OpenAI messages (messages)", ("messages",), _messages),
        RowShape("trl", "TRL (prompt, completion)", ("prompt", "completion"), _trl),
        RowShape("custom", "question / answer fields (question)", ("question",), _custom),
    )
}


def checked_fields(fields: Mapping[str, str] | None) -> dict[str, str]:
    """Which field holds the question, the answer and the reasoning (custom shape)."""
    chosen = {"question": "question", "answer": "answer"}
    for part, name in (fields or {}).items():
        if part not in FIELD_PARTS:
            raise InvalidInputError(
                f"unknown field {part!r}: name the fields question, answer and reasoning "
                "(question=COLUMN)"
            )
        if not isinstance(name, str) or not name.strip():
            raise InvalidInputError(f"the {part} field needs a column name")
        chosen[part] = name.strip()
    if len(set(chosen.values())) != len(chosen):
        shown = ", ".join(f"{part}={name}" for part, name in chosen.items())
        raise InvalidInputError(f"the fields must name different columns ({shown})")
    return chosen


def _shown(keys: set[str]) -> str:
    names = sorted(keys)
    return ", ".join(names[:20]) + (", ..." if len(names) > 20 else "") if names else "none"


def choose_shape(keys: set[str], shape: str | None, fields: Mapping[str, str]) -> RowShape:
    """The shape named, the custom one when fields are named, else the one that fits the
    first row's fields; refused when none or several fit."""
    if shape is not None and shape not in SHAPES:
        raise InvalidInputError(f"unknown shape {shape!r}: choose one of {', '.join(SHAPES)}")
    if fields:
        if shape not in (None, "custom"):
            raise InvalidInputError("named fields are read in the custom shape, not " + shape)
        missing = [name for name in fields.values() if name not in keys]
        if missing:
            raise InvalidInputError(
                f"the file has no field {', '.join(map(repr, missing))} (its fields: "
                f"{_shown(keys)})"
            )
        return SHAPES["custom"]
    if shape is not None:
        chosen = SHAPES[shape]
        if not chosen.fits(keys):
            raise InvalidInputError(
                f"the rows are not in the {chosen.title} shape: they have the fields {_shown(keys)}"
            )
        return chosen
    fitting = [candidate for candidate in SHAPES.values() if candidate.fits(keys)]
    if len(fitting) == 1:
        return fitting[0]
    if not fitting:
        raise InvalidInputError(
            f"cannot tell the shape of the rows (their fields: {_shown(keys)}): expected "
            f"{', '.join(s.title for s in SHAPES.values())}; or name the fields: "
            "--field question=COLUMN --field answer=COLUMN"
        )
    raise InvalidInputError(
        f"the rows fit several shapes: {', '.join(s.title for s in fitting)}; choose one "
        f"with --shape ({' or '.join(s.name for s in fitting)}) or name the fields"
    )

"""Records to token sequences a student trains on: input ids, labels (−100 outside the
assistant's turn), and for KD the teacher's top-K soft labels at each answer token.

The student's chat template decides how the conversation is written; its ``{% generation %}``
markers say which tokens are the assistant's (TRL swaps in a marked template for the common
families that lack them). KD trains on the teacher's own token ids for the assistant's part,
so the student must share the teacher's tokenizer: ``check_same_tokenizer`` refuses KD
otherwise. Soft labels given as token text without ids are mapped to the student's ids
(token_text). A record whose soft labels cannot be used is trained on hard labels (counted).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from distillset.domain import InvalidInputError
from distillset.train.records import Record
from distillset.train.token_text import TokenTextMapper, check_teacher_tokenizer, has_text_only

IGNORE = -100
THINK_CLOSE = "</think>"
# Token texts the export writes for a token it has no text of, or for part of a character.
_NO_TEXT = ("token_id:", "bytes:")
# Positions of each record compared token by token with the student's vocabulary.
_CHECKED_POSITIONS = 64


@dataclass
class Example:
    input_ids: list[int]
    labels: list[int]
    # Per position (aligned with labels), [length, K]: the teacher's top ids and logprobs
    # (−inf: no alternative there; a row of −inf: no soft labels); None: none at all.
    top_ids: np.ndarray | None = None
    top_logprobs: np.ndarray | None = None

    @property
    def trained_tokens(self) -> int:
        return sum(label != IGNORE for label in self.labels)


@dataclass
class ExampleSet:
    examples: list[Example] = field(default_factory=list)
    # Records trained on hard labels only, by why (no soft labels, not aligned...).
    hard_only: Counter[str] = field(default_factory=Counter)
    truncated: int = 0


def _encode(tokenizer: Any, messages: list[dict[str, Any]], **kwargs: Any) -> dict[str, Any]:
    return dict(tokenizer.apply_chat_template(messages, tokenize=True, return_dict=True, **kwargs))


def prompt_ids(tokenizer: Any, messages: list[dict[str, Any]]) -> list[int]:
    """The tokens before the assistant's turn, with the template's generation prompt."""
    return list(_encode(tokenizer, messages[:-1], add_generation_prompt=True)["input_ids"])


def hard_example(tokenizer: Any, messages: list[dict[str, Any]]) -> Example:
    """The whole conversation; labels on the tokens the template marks as the assistant's."""
    encoded = _encode(tokenizer, messages, return_assistant_tokens_mask=True)
    ids = list(encoded["input_ids"])
    mask = list(encoded.get("assistant_masks") or [])
    if not any(mask):
        raise InvalidInputError(
            "the student's chat template does not mark the assistant's turn ({% generation %}): "
            "the loss could not be limited to the answer"
        )
    return Example(ids, [tok if keep else IGNORE for tok, keep in zip(ids, mask, strict=True)])


def _trailer(tokenizer: Any, messages: list[dict[str, Any]], prompt: list[int]) -> Example | None:
    """What the template writes after the assistant's text (its end-of-turn), labelled as
    the template marks it; None when the prompt is not a prefix of the conversation."""
    empty = [*messages[:-1], {"role": "assistant", "content": ""}]
    encoded = _encode(tokenizer, empty, return_assistant_tokens_mask=True)
    ids, mask = list(encoded["input_ids"]), list(encoded.get("assistant_masks") or [])
    if ids[: len(prompt)] != prompt or len(mask) != len(ids):
        return None
    rest = range(len(prompt), len(ids))
    return Example([ids[i] for i in rest], [ids[i] if mask[i] else IGNORE for i in rest])


def _answer_start(tokenizer: Any, record: Record) -> int | str:
    """Where the answer starts in the teacher's tokens, or why the record cannot use them."""
    labels = record.soft_labels or {}
    ids = labels.get("token_ids")
    if not ids or labels.get("top_ids") is None:
        return "no token ids"
    start = labels.get("answer_start")
    if start is not None:
        return int(start)
    if not record.reasoning:
        return 0
    # Ids without text (vLLM's token_id:N): the answer starts after the last end-of-thinking
    # token, when the tokenizer has one (the caller checks the rest spells the answer).
    close = tokenizer.convert_tokens_to_ids(THINK_CLOSE)
    if isinstance(close, int) and close != tokenizer.unk_token_id and close in ids:
        return len(ids) - ids[::-1].index(close)
    return "answer start unknown"


def soft_example(
    tokenizer: Any, record: Record, mapper: TokenTextMapper | None = None
) -> Example | str:
    """The record with the teacher's answer tokens as the assistant's part and their soft
    labels; a reason (str) when it must be trained on hard labels instead. KD distils the
    answer: the reasoning is not part of the sequence. Soft labels with token text but no
    ids are mapped to the student's ids by ``mapper`` (the caller checked the tokenizers are
    the same: check_same_tokenizer)."""
    if record.soft_labels is None:
        return "no soft labels"
    if mapper is not None and has_text_only(record.soft_labels):
        mapped = mapper.with_ids(record.soft_labels, has_reasoning=bool(record.reasoning))
        if isinstance(mapped, str):
            return mapped
        record = replace(record, soft_labels=mapped)
    start = _answer_start(tokenizer, record)
    if isinstance(start, str):
        return start
    labels = record.soft_labels
    assert labels is not None
    ids = [int(token) for token in labels["token_ids"][start:]]
    if not ids or tokenizer.decode(ids).strip() != record.answer.strip():
        return "tokens do not spell the answer"
    messages = record.messages(reasoning="drop")
    prompt = prompt_ids(tokenizer, messages)
    trailer = _trailer(tokenizer, messages, prompt)
    if trailer is None:
        return "chat template renders the prompt differently"
    top_ids, top_logprobs = labels["top_ids"][start:], labels["top_logprobs"][start:]
    k = top_ids.shape[1]
    before, after = len(prompt), len(trailer.input_ids)
    return Example(
        input_ids=prompt + ids + trailer.input_ids,
        labels=[IGNORE] * len(prompt) + ids + trailer.labels,
        top_ids=np.concatenate(
            [np.zeros((before, k), np.int32), top_ids, np.zeros((after, k), np.int32)]
        ),
        top_logprobs=np.concatenate(
            [
                np.full((before, k), -np.inf, np.float32),
                top_logprobs,
                np.full((after, k), -np.inf, np.float32),
            ]
        ),
    )


def check_same_tokenizer(tokenizer: Any, records: list[Record], student: str) -> None:
    """Refuse KD when the teacher's token ids are not the student's: an id outside the
    student's vocabulary, or a token the teacher spells one way and the student another;
    for soft labels given as text without ids, a teacher tokenizer that is not the student's
    (token_text.check_teacher_tokenizer)."""
    size = len(tokenizer)
    compared: set[str] = set()
    for record in records:
        labels = record.soft_labels
        if has_text_only(labels):
            assert labels is not None
            identity = labels.get("tokenizer") or {}
            key = repr(sorted(identity.items()))
            if key not in compared:
                compared.add(key)
                check_teacher_tokenizer(
                    tokenizer,
                    identity,
                    student,
                    lambda teacher, detail: _mismatch(teacher, student, detail),
                )
            continue
        if not labels or not labels.get("token_ids"):
            continue
        teacher = _teacher_name(labels)
        ids, texts = labels["token_ids"], labels.get("tokens") or []
        for position, token_id in enumerate(ids[:_CHECKED_POSITIONS]):
            if not 0 <= int(token_id) < size:
                raise _mismatch(teacher, student, f"token id {token_id} is outside its {size}")
            text = texts[position] if position < len(texts) else None
            if text is None or text.startswith(_NO_TEXT):
                continue
            mine = tokenizer.decode([int(token_id)])
            if mine != text:
                raise _mismatch(
                    teacher, student, f"token {token_id} is {text!r} for the teacher, {mine!r}"
                )


def _teacher_name(labels: dict[str, Any]) -> str:
    identity = labels.get("tokenizer") or {}
    for key in ("name", "server_model", "model", "endpoint_model"):
        if identity.get(key):
            return str(identity[key])
    return "unnamed"


def _mismatch(teacher: str, student: str, detail: str) -> InvalidInputError:
    return InvalidInputError(
        f"the teacher's tokenizer ({teacher}) is not the student's ({student}): {detail}; "
        "KD trains on the teacher's token ids and needs the same vocabulary (--method sft works)"
    )


def truncate(example: Example, max_length: int) -> tuple[Example, bool]:
    if len(example.input_ids) <= max_length:
        return example, False
    cut = slice(0, max_length)
    return (
        Example(
            example.input_ids[cut],
            example.labels[cut],
            example.top_ids[cut] if example.top_ids is not None else None,
            example.top_logprobs[cut] if example.top_logprobs is not None else None,
        ),
        True,
    )


def check_prompt_lengths(
    tokenizer: Any, records: list[Record], max_length: int, *, reasoning: str
) -> None:
    """Refuse a max length that leaves a record no answer token to train on."""
    longest, record_id, too_long = 0, 0, 0
    for record in records:
        length = len(prompt_ids(tokenizer, record.messages(reasoning=reasoning)))
        if length >= max_length:
            too_long += 1
        if length > longest:
            longest, record_id = length, record.id
    if too_long:
        raise InvalidInputError(
            f"--max-length {max_length} is shorter than the prompts of {too_long} records "
            f"(the longest, record {record_id}, has {longest} tokens): raise --max-length"
        )


def build_examples(
    tokenizer: Any, records: list[Record], *, method: str, reasoning: str, max_length: int
) -> ExampleSet:
    """Every record as a training sequence (KD: with soft labels where usable); ``reasoning``
    is the SFT mode (Record.messages), KD distils the answers."""
    result = ExampleSet()
    mapper: TokenTextMapper | None = None
    if method == "kd" and any(has_text_only(record.soft_labels) for record in records):
        mapper = TokenTextMapper(tokenizer)
    for record in records:
        example: Example | str = "sft"
        if method == "kd":
            example = soft_example(tokenizer, record, mapper)
        if isinstance(example, str):
            if method == "kd":
                result.hard_only[example] += 1
            # KD distils answers; SFT keeps the reasoning as asked.
            mode = reasoning if method == "sft" else "drop"
            example = hard_example(tokenizer, record.messages(reasoning=mode))
        example, cut = truncate(example, max_length)
        result.truncated += cut
        if example.trained_tokens:
            result.examples.append(example)
    return result

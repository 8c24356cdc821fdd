"""Records to KD sequences: the teacher's answer tokens as the assistant's part, their soft
labels at the same positions, the template's end-of-turn after them; what cannot be used
falls back to hard labels with the reason."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from distillset.train import examples, trainer
from distillset.train.records import Record, compact_soft_labels

REASONING, ANSWER = "First the legs, then the back.", "Drive with the legs."


def _soft_record(tokenizer: Any, *, answer_start: int | None, ids_only: bool) -> Record:
    thinking = tokenizer.encode(REASONING + "\n", add_special_tokens=False)
    close = tokenizer.convert_tokens_to_ids("</think>")
    answer = tokenizer.encode("\n\n" + ANSWER, add_special_tokens=False)
    ids = [*thinking, close, *answer]
    texts = [f"token_id:{i}" if ids_only else tokenizer.decode([i]) for i in ids]
    return Record(
        id=7, tag_path="Rowing", question="How to start the drive?", answer=ANSWER,
        reasoning=REASONING, system=None,
        soft_labels=compact_soft_labels({
            "tokenizer": {"name": "tiny"}, "k": 2, "answer_start": answer_start,
            "token_ids": ids, "tokens": texts,
            "top_ids": [[i, (i + 1) % len(tokenizer)] for i in ids],
            "top_logprobs": [[-0.1, -2.5] for _ in ids],
        }),
    )  # fmt: skip


def test_ids_without_text_start_the_answer_after_the_end_of_thinking(tiny_student: Path) -> None:
    tokenizer = trainer.load_tokenizer(str(tiny_student))
    record = _soft_record(tokenizer, answer_start=None, ids_only=True)
    example = examples.soft_example(tokenizer, record)
    assert isinstance(example, examples.Example), example
    ids = record.soft_labels["token_ids"]  # type: ignore[index]
    answer_ids = ids[ids.index(tokenizer.convert_tokens_to_ids("</think>")) + 1 :]
    trained = [label for label in example.labels if label != examples.IGNORE]
    assert trained == [*answer_ids, tokenizer.convert_tokens_to_ids("<|im_end|>")]
    # Soft labels sit on the answer tokens only, aligned with their labels.
    assert example.top_logprobs is not None and example.top_ids is not None
    soft = [i for i, row in enumerate(example.top_logprobs) if np.isfinite(row).any()]
    assert [example.labels[i] for i in soft] == answer_ids
    first = [answer_ids[0], (answer_ids[0] + 1) % len(tokenizer)]
    assert example.top_ids[soft[0]].tolist() == first
    examples.check_same_tokenizer(tokenizer, [record], "tiny")  # the same vocabulary


def test_unusable_soft_labels_fall_back_to_hard_labels_with_the_reason(tiny_student: Path) -> None:
    tokenizer = trainer.load_tokenizer(str(tiny_student))
    edited = _soft_record(tokenizer, answer_start=None, ids_only=False)
    edited.answer = "An answer edited since."
    plain = Record(8, "Rowing", "Why?", "Because.", None, None)
    result = examples.build_examples(
        tokenizer, [edited, plain], method="kd", reasoning="inline", max_length=256
    )
    assert dict(result.hard_only) == {"tokens do not spell the answer": 1, "no soft labels": 1}
    assert len(result.examples) == 2 and all(e.top_ids is None for e in result.examples)

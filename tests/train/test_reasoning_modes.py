"""SFT's reasoning modes on tiny students whose chat templates treat reasoning differently:
inline in the answer, in the reasoning_content field (refused when the template ignores it),
or dropped; a template that drops inline reasoning gets a warning."""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path
from typing import Any

import pytest

from distillset.config import Settings
from distillset.domain import InvalidInputError
from distillset.kinds import run_task
from distillset.store import Project, Store
from distillset.testing.tiny_student import CHAT_TEMPLATE
from distillset.train import TrainOptions, create_train_task, examples, trainer
from distillset.train.records import Record

FIELD_BLOCK_START = "{% if message.get('reasoning_content') %}"
ANSWER = "{{ message['content'] + '<|im_end|>' }}"
# What DeepSeek-R1-Distill's template does with an assistant turn: the text up to the last
# </think> is cut off.
STRIP_THINKING = "{{ message['content'].split('</think>')[-1].lstrip() + '<|im_end|>' }}"


def _without_field(template: str) -> str:
    start = template.index(FIELD_BLOCK_START)
    end = template.index("{% endif %}", start) + len("{% endif %}")
    return template[:start] + template[end:]


# Templates: the tiny student's own (reads reasoning_content), one that ignores the field
# (writes the content as given), one that ignores it and strips inline thinking too.
IGNORES_FIELD = _without_field(CHAT_TEMPLATE)
DROPS_REASONING = IGNORES_FIELD.replace(ANSWER, STRIP_THINKING)
RECORD = Record(1, "Rowing", "Why row?", "Because it is fun.", "Think first.", "Be brief.")
WITH_THINKING = "<think>\nThink first.\n</think>\n\nBecause it is fun.<|im_end|>"


def _student(tiny_student: Path, tmp_path: Path, template: str) -> Path:
    student = tmp_path / "student-with-template"
    shutil.copytree(tiny_student, student)
    (student / "chat_template.jinja").write_text(template)
    return student


def _options(student: Path, output: Path, **changes: Any) -> TrainOptions:
    values: dict[str, Any] = dict(
        student=str(student), output=str(output), seed=1, max_steps=1, batch_size=4,
        logging_steps=1, save_steps=50, max_length=256, eval_fraction=0.0,
    )  # fmt: skip
    return TrainOptions(**(values | changes))


def _trained_text(student: Path, mode: str) -> str:
    tokenizer = trainer.load_tokenizer(str(student))
    options = _options(student, Path("unused"), lora_r=0, reasoning=mode)
    row = trainer.sft_trainer(options, tokenizer, [RECORD], []).train_dataset[0]
    trained = [label for label in row["labels"] if label != examples.IGNORE]
    # The hard labels (KD's fallback) mark the same tokens for the same mode.
    hard = examples.hard_example(tokenizer, RECORD.messages(reasoning=mode))
    assert [label for label in hard.labels if label != examples.IGNORE] == trained
    return str(tokenizer.decode(trained))


@pytest.mark.parametrize(
    ("template", "mode", "expected"),
    [
        (CHAT_TEMPLATE, "field", WITH_THINKING),
        (CHAT_TEMPLATE, "inline", WITH_THINKING),
        (CHAT_TEMPLATE, "drop", "Because it is fun.<|im_end|>"),
        (IGNORES_FIELD, "inline", WITH_THINKING),
        (DROPS_REASONING, "inline", "Because it is fun.<|im_end|>"),
    ],
)
def test_each_mode_trains_on_what_the_template_writes(
    tiny_student: Path, tmp_path: Path, template: str, mode: str, expected: str
) -> None:
    student = _student(tiny_student, tmp_path, template)
    assert _trained_text(student, mode) == expected


def test_the_field_mode_puts_the_reasoning_in_reasoning_content() -> None:
    assistant = RECORD.messages(reasoning="field")[-1]
    assert assistant == {
        "role": "assistant",
        "content": "Because it is fun.",
        "reasoning_content": "Think first.",
    }
    inline = RECORD.messages(reasoning="inline")[-1]
    assert inline["content"] == "<think>\nThink first.\n</think>\n\nBecause it is fun."
    assert "reasoning_content" not in inline
    assert RECORD.messages(reasoning="drop")[-1] == {
        "role": "assistant",
        "content": "Because it is fun.",
    }


@pytest.mark.parametrize(
    ("template", "says"),
    [
        (IGNORES_FIELD, "it writes reasoning only inside the answer: use --reasoning inline"),
        (DROPS_REASONING, "leaves a final assistant turn's reasoning out either way"),
    ],
)
def test_field_is_refused_when_the_template_ignores_it(
    store: Store,
    records_project: Project,
    tiny_student: Path,
    tmp_path: Path,
    template: str,
    says: str,
) -> None:
    student = _student(tiny_student, tmp_path, template)
    output = tmp_path / "out"
    with store.session() as session, pytest.raises(InvalidInputError) as error:
        options = _options(student, output, reasoning="field")
        create_train_task(session, session.merge(records_project), options)
    message = str(error.value)
    assert "--reasoning field" in message and "ignores the assistant's reasoning_content" in message
    assert says in message and "\n" not in message
    assert not output.exists()


def test_inline_reasoning_the_template_drops_is_warned_about(
    store: Store, settings: Settings, records_project: Project, tiny_student: Path, tmp_path: Path
) -> None:
    student = _student(tiny_student, tmp_path, DROPS_REASONING)
    with store.session() as session:
        options = _options(student, tmp_path / "out", reasoning="inline")
        task_id = create_train_task(session, session.merge(records_project), options).id
    summary = asyncio.run(run_task(store, settings, task_id))
    assert summary["status"] == "succeeded", summary
    with store.session() as session:
        from distillset.runs import recent_events

        messages = [event.message for event in recent_events(session, task_id, limit=50)]
    warnings = [message for message in messages if message.startswith("warning:")]
    assert len(warnings) == 1 and "drops reasoning written inline" in warnings[0]
    assert "--reasoning drop" in warnings[0]


def test_no_warning_when_the_template_writes_inline_reasoning(tiny_student: Path) -> None:
    tokenizer = trainer.load_tokenizer(str(tiny_student))
    assert trainer.writes_reasoning(tokenizer, "inline")
    assert trainer.writes_reasoning(tokenizer, "field")
    assert not trainer.writes_reasoning(tokenizer, "drop")

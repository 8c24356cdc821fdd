"""`distillset train --method sft` on a tiny local student: the loss falls, only the
assistant's tokens are trained, a stopped run resumes from its checkpoint, bad input is
refused before anything is written."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from distillset.config import Settings
from distillset.domain import InvalidInputError
from distillset.kinds import run_task
from distillset.store import Project, Store
from distillset.train import TrainOptions, create_train_task


def _options(student: Path, output: Path, **changes: Any) -> TrainOptions:
    values: dict[str, Any] = dict(
        student=str(student),
        output=str(output),
        seed=1,
        max_steps=12,
        learning_rate=5e-3,
        batch_size=4,
        logging_steps=3,
        save_steps=6,
        max_length=256,
        eval_fraction=0.2,
    )
    return TrainOptions(**(values | changes))


def _train(store: Store, settings: Settings, project: Project, options: TrainOptions) -> dict:
    with store.session() as session:
        task_id = create_train_task(session, session.merge(project), options).id
    return asyncio.run(run_task(store, settings, task_id))


def test_sft_loss_falls_and_writes_a_model_with_its_card(
    store: Store, settings: Settings, records_project: Project, tiny_student: Path, tmp_path: Path
) -> None:
    output = tmp_path / "student"
    summary = _train(store, settings, records_project, _options(tiny_student, output, lora_r=0))
    assert summary["status"] == "succeeded", summary
    metrics = summary["counters"]["training"]
    assert summary["counters"]["steps"]["done"] == 12
    assert metrics["eval_loss"] is not None and metrics["tokens_per_second"] > 0
    card = (output / "README.md").read_text()
    assert "supervised fine-tuning" in card and "Rowing" in card
    assert (output / "model.safetensors").exists() and (output / "tokenizer.json").exists()
    losses = [float(part.split(": ")[1]) for part in card.split("by step: ")[1].split(", ")]
    assert losses[-1] < losses[0] * 0.8, losses


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"alpha": 1.5}, "--alpha is between 0 and 1"),
        ({"temperature": 0.0}, "--temperature must be above 0"),
        ({"max_length": 8}, "--max-length 8 is shorter than the prompts of"),
        ({"student": "/nonexistent/student"}, "cannot load the student"),
        ({"record_filter_tag": True}, "no record matched the filters"),
    ],
)
def test_bad_input_is_refused_in_one_line_with_nothing_written(
    store: Store,
    records_project: Project,
    tiny_student: Path,
    tmp_path: Path,
    changes: dict[str, Any],
    message: str,
) -> None:
    from distillset.review import RecordFilter

    output = tmp_path / "out"
    if changes.pop("record_filter_tag", False):
        changes["record_filter"] = RecordFilter(confirmed=True).as_dict()
    with store.session() as session, pytest.raises(InvalidInputError) as error:
        options = _options(tiny_student, output)
        options = TrainOptions.from_params(options.as_params() | changes)
        create_train_task(session, session.merge(records_project), options)
    assert message in str(error.value) and "\n" not in str(error.value)
    assert not output.exists()
    with store.session() as session:
        from distillset.runs import list_tasks

        assert list_tasks(session, records_project.id) == []


def test_only_the_assistants_turn_is_trained(records_project: Project, tiny_student: Path) -> None:
    from distillset.train import examples, trainer
    from distillset.train.records import Record

    tokenizer = trainer.load_tokenizer(str(tiny_student))
    record = Record(1, "Rowing", "Why row?", "Because it is fun.", "Think first.", "Be brief.")
    options = _options(tiny_student, Path("unused"), lora_r=0)
    sft = trainer.sft_trainer(options, tokenizer, [record], [])
    row = sft.train_dataset[0]
    trained = [label for label in row["labels"] if label != examples.IGNORE]
    expected = "<think>\nThink first.\n</think>\n\nBecause it is fun.<|im_end|>"
    assert tokenizer.decode(trained) == expected
    # The hard labels KD falls back to mark the same tokens.
    example = examples.hard_example(tokenizer, record.messages(reasoning="inline"))
    labels = [label for label in example.labels if label != examples.IGNORE]
    assert labels == trained


def test_a_stopped_run_resumes_from_its_checkpoint(
    store: Store, settings: Settings, records_project: Project, tiny_student: Path, tmp_path: Path
) -> None:
    output = tmp_path / "student"
    with store.session() as session:
        options = _options(tiny_student, output, max_steps=80, logging_steps=10, save_steps=500)
        task_id = create_train_task(session, session.merge(records_project), options).id

    async def stop_after_steps() -> dict:
        cancel = asyncio.Event()

        def watch(counters: dict) -> None:
            if counters["steps"]["done"] >= 1:
                cancel.set()

        return await run_task(store, settings, task_id, cancel_event=cancel, on_progress=watch)

    stopped = asyncio.run(stop_after_steps())
    assert stopped["status"] == "cancelled"
    saved = sorted(path.name for path in (output / "checkpoints").glob("checkpoint-*"))
    assert len(saved) == 1
    first = int(saved[0].split("-")[1])
    assert 1 <= first < 80

    resumed = asyncio.run(run_task(store, settings, task_id))
    assert resumed["status"] == "succeeded"
    assert resumed["counters"]["steps"]["done"] == 80
    with store.session() as session:
        from distillset.runs import recent_events

        messages = [event.message for event in recent_events(session, task_id, limit=50)]
    assert f"resuming from {saved[0]}" in messages
    assert any(message.startswith("step 80/80, loss") for message in messages)


def test_a_template_that_cannot_mask_the_answer_is_refused(
    store: Store, records_project: Project, tiny_student: Path, tmp_path: Path
) -> None:
    import shutil

    student = tmp_path / "unmarked"
    shutil.copytree(tiny_student, student)
    template = (student / "chat_template.jinja").read_text()
    plain = template.replace("{% generation %}", "").replace("{% endgeneration %}", "")
    (student / "chat_template.jinja").write_text(plain)
    output = tmp_path / "out"
    with store.session() as session, pytest.raises(InvalidInputError) as error:
        create_train_task(session, session.merge(records_project), _options(student, output))
    assert "does not mark the assistant's turn" in str(error.value)
    assert not output.exists()

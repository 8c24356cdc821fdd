"""`distillset train` as a task: checked and planned when created (nothing written on bad
input), then run, cancelled and resumed (from its last checkpoint) like every task."""

from __future__ import annotations

import asyncio
import math
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from distillset.domain import InvalidInputError, TaskKind, TaskStatus
from distillset.export.pipeline import NOTHING_MATCHED
from distillset.runs.kinds import Stage, TaskKindSpec
from distillset.runs.progress import StageProgress, initial_counters
from distillset.runs.runner import SupervisedRun
from distillset.store import Project, Task
from distillset.train.options import TrainOptions
from distillset.train.records import RecordSplits, read_records

STEPS = "steps"
TRAIN_STAGES = (Stage(STEPS, "Steps"),)
METRICS = "training"  # the counters' key for losses and throughput
# How often the run reads the training thread's progress.
POLL_SECONDS = 0.5


def _read(session: Session, project: Project, options: TrainOptions) -> RecordSplits:
    return read_records(
        session,
        project,
        options.record_filter,
        balanced=options.balanced,
        eval_fraction=options.eval_fraction,
        seed=options.seed,
        soft_labels=options.method == "kd",
    )


def _planned_steps(options: TrainOptions, records: int) -> int:
    if options.max_steps > 0:
        return options.max_steps
    per_epoch = math.ceil(records / (options.batch_size * options.gradient_accumulation))
    return max(1, math.ceil(per_epoch * options.epochs))


def check_training(session: Session, project: Project, options: TrainOptions) -> RecordSplits:
    """Every refusal a training run could meet at its start, before anything is written."""
    options.check()
    output = Path(options.output)
    if output.exists() and (not output.is_dir() or any(output.iterdir())):
        raise InvalidInputError(f"{output} exists and is not empty: choose another --output")
    from distillset.train import examples, trainer  # torch and transformers, on use

    trainer.check_student(options.student)
    tokenizer = trainer.load_tokenizer(options.student)
    trainer.training_template(tokenizer)  # the loss can be limited to the assistant's turn
    splits = _read(session, project, options)
    if not splits.train:
        raise InvalidInputError(f"{NOTHING_MATCHED}: nothing to train on")
    reasoning = options.reasoning if options.method == "sft" else "drop"
    if reasoning == "field":
        trainer.check_reasoning_field(tokenizer, options.student)
    records = splits.train + splits.held_out
    examples.check_prompt_lengths(tokenizer, records, options.max_length, reasoning=reasoning)
    if options.method == "kd":
        examples.check_same_tokenizer(tokenizer, records, options.student)
    return splits


def create_train_task(session: Session, project: Project, options: TrainOptions) -> Task:
    """A queued training task, once every check passed. Run it with `distillset.kinds`."""
    splits = check_training(session, project, options)
    options = TrainOptions.from_params(
        {**options.as_params(), "output": str(Path(options.output).resolve())}
    )
    task = Task(
        project_id=project.id,
        kind=TaskKind.TRAIN.value,
        params={**options.as_params(), "project": project.name},
        status=TaskStatus.QUEUED.value,
        counters=initial_counters({STEPS: _planned_steps(options, len(splits.train))}),
    )
    session.add(task)
    session.flush()
    return task


class TrainRun(SupervisedRun):
    """One run of a training task: the records read again, the trainer in a worker thread."""

    options: TrainOptions | None = None
    project_name = ""
    monitor: Any = None

    def new_progress(self) -> StageProgress:
        return StageProgress([STEPS])

    def prepare(self) -> None:
        with self.store.session() as session:
            task = self.claim(session, TaskKind.TRAIN)
            self.options = TrainOptions.from_params(task.params)
            self.project_name = str(task.params.get("project") or "")
            self.progress.load(task.counters or {})
            self.progress.stage(STEPS).failed = 0
            task.counters = self.counters()

    def counters(self) -> dict[str, Any]:
        data = self.progress.as_dict()
        if self.monitor is not None:
            data[METRICS] = self.monitor.as_dict()
        return data

    async def work(self) -> None:
        options = self.options
        assert options is not None, "prepare() first"
        from distillset.train.trainer import Monitor

        with self.store.session() as session:
            project = session.get(Project, self._task_project(session))
            assert project is not None
            splits = _read(session, project, options)
        self.monitor = monitor = Monitor()
        loop = asyncio.get_running_loop()
        job = loop.run_in_executor(None, _train, options, splits, monitor)
        try:
            while not job.done():
                self._report(monitor)
                await asyncio.wait([job], timeout=POLL_SECONDS)
        except asyncio.CancelledError:
            monitor.stop.set()  # the thread saves a checkpoint and returns
            await asyncio.shield(job)
            self._report(monitor)
            raise
        figures = job.result()
        self._report(monitor)
        from distillset.train.card import model_card, write_model_card

        write_model_card(
            Path(options.output),
            model_card(self.project_name, options, figures | monitor_figures(monitor)),
        )
        self.event(f"model written to {options.output}")

    def _task_project(self, session: Session) -> int:
        task = session.get(Task, self.task_id)
        assert task is not None
        return task.project_id

    def _report(self, monitor: Any) -> None:
        while monitor.notes:
            self.event(monitor.notes.pop(0))
        counts = self.progress.stage(STEPS)
        if monitor.max_steps:
            counts.planned = monitor.max_steps
        if monitor.step > counts.done:
            counts.done = min(monitor.step, counts.planned)
            if (
                monitor.loss is not None
                and monitor.losses
                and monitor.losses[-1][0] == monitor.step
            ):
                self.event(_step_line(monitor))


def _step_line(monitor: Any) -> str:
    parts = [f"step {monitor.step}/{monitor.max_steps}", f"loss {monitor.loss:.4f}"]
    if monitor.eval_loss is not None:
        parts.append(f"eval loss {monitor.eval_loss:.4f}")
    if monitor.tokens_per_second:
        parts.append(f"{monitor.tokens_per_second:,.0f} tokens/s")
    return ", ".join(parts)


def monitor_figures(monitor: Any) -> dict[str, Any]:
    return {
        "steps": monitor.step,
        "loss": monitor.loss,
        "eval_loss": monitor.eval_loss,
        "losses": monitor.losses,
    }


def _train(options: TrainOptions, splits: RecordSplits, monitor: Any) -> dict[str, Any]:
    """The training itself (in a worker thread): examples, trainer, checkpoints, weights."""
    from distillset.train import examples, trainer

    tokenizer = trainer.load_tokenizer(options.student)
    figures: dict[str, Any] = {
        "train_records": len(splits.train),
        "eval_records": len(splits.held_out),
    }
    if options.method == "sft":
        if options.reasoning == "inline" and not trainer.writes_reasoning(tokenizer, "inline"):
            instead = (
                "--reasoning field gives it in the reasoning_content field the template writes"
                if trainer.writes_reasoning(tokenizer, "field")
                else "--reasoning drop says so explicitly"
            )
            monitor.notes.append(
                "warning: the student's chat template drops reasoning written inline in a final "
                f"assistant turn; the records' reasoning is not trained on ({instead})"
            )
        run = trainer.sft_trainer(options, tokenizer, splits.train, splits.held_out)
    else:
        # The sequences are rendered with the template that marks the assistant's turn (a
        # copy of the tokenizer: the one saved with the model keeps the student's own).
        marked = trainer.load_tokenizer(options.student)
        marked.chat_template = trainer.training_template(marked) or marked.chat_template
        train, held_out = (
            examples.build_examples(
                marked, records, method="kd", reasoning="drop", max_length=options.max_length
            )
            for records in (splits.train, splits.held_out)
        )
        hard = sum(train.hard_only.values())
        figures |= {"soft_records": len(splits.train) - hard, "hard_only": hard}
        if hard:
            why = ", ".join(f"{n} {reason}" for reason, n in train.hard_only.most_common())
            monitor.notes.append(
                f"{hard} of {len(splits.train)} records trained on hard labels only ({why})"
            )
        if any(record.reasoning for record in splits.train):
            monitor.notes.append("KD distils the answers: the records' reasoning is not trained on")
        run = trainer.kd_trainer(options, tokenizer, train.examples, held_out.examples)
    finished = trainer.train_and_save(run, options, tokenizer, monitor)
    return figures | {"finished": finished}


TRAIN_KIND = TaskKindSpec(TaskKind.TRAIN.value, TRAIN_STAGES, TrainRun)

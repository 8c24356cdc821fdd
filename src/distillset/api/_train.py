"""`Project`'s training methods: train a student on the records, evaluate students."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from distillset import resolve
from distillset.api._common import ProgressCallback, ProjectBase, run_blocking
from distillset.evaluate import create_eval_task
from distillset.kinds import run_task
from distillset.train import TrainOptions, create_train_task


class TrainMethods(ProjectBase):
    async def train_async(
        self,
        student: str,
        output: str | Path,
        *,
        balanced: int | None = None,
        on_progress: ProgressCallback | None = None,
        options: dict[str, Any] | None = None,
        **filters: Any,
    ) -> dict[str, Any]:
        """``train`` as a coroutine, for a caller that has a running loop of its own."""
        with self._session() as (session, project):
            train_options = TrainOptions(
                student=student,
                output=str(output),
                record_filter=resolve.record_filter(session, project, filters),
                balanced=balanced,
                **(options or {}),
            )
            task_id = create_train_task(session, project, train_options).id
        return await run_task(self.store, self.settings, task_id, on_progress=on_progress)

    def train(
        self,
        student: str,
        output: str | Path,
        *,
        balanced: int | None = None,
        options: dict[str, Any] | None = None,
        **filters: Any,
    ) -> dict[str, Any]:
        """Fine-tune ``student`` (a directory or a Hugging Face id) on the records into
        ``output``, as `distillset train`; a task (its ``counters["training"]`` hold the
        losses and tokens/s). ``options`` are TrainOptions fields: method ("sft" or "kd"),
        alpha, temperature, tail, lora_r (0: full), max_steps, epochs, learning_rate,
        max_length, batch_size, gradient_accumulation, reasoning, eval_fraction, seed,
        logging_steps, save_steps. Record filters as in ``records``."""
        return run_blocking(
            self.train_async(student, output, balanced=balanced, options=options, **filters)
        )

    async def evaluate_async(
        self,
        students: list[str] | None = None,
        *,
        student_paths: list[str | Path] | None = None,
        judge: str | None = None,
        eval_fraction: float = 0.05,
        seed: int = 42,
        max_new_tokens: int = 512,
        balanced: int | None = None,
        no_cache: bool = False,
        max_cost: float | None = None,
        on_progress: ProgressCallback | None = None,
        **filters: Any,
    ) -> dict[str, Any]:
        """``evaluate`` as a coroutine, for a caller that has a running loop of its own."""
        with self._session() as (session, project):
            task_id = create_eval_task(
                session,
                project,
                students=list(students or []),
                student_paths=[str(path) for path in student_paths or []],
                judge=judge,
                record_filter=resolve.record_filter(session, project, filters),
                balanced=balanced,
                eval_fraction=eval_fraction,
                seed=seed,
                max_new_tokens=max_new_tokens,
                no_cache=no_cache,
                max_cost=max_cost,
            ).id
        return await run_task(self.store, self.settings, task_id, on_progress=on_progress)

    def evaluate(
        self,
        students: list[str] | None = None,
        *,
        student_paths: list[str | Path] | None = None,
        judge: str | None = None,
        eval_fraction: float = 0.05,
        seed: int = 42,
        max_new_tokens: int = 512,
        balanced: int | None = None,
        no_cache: bool = False,
        max_cost: float | None = None,
        **filters: Any,
    ) -> dict[str, Any]:
        """Students (endpoint aliases, local directories) against the teacher on the
        held-out records, as `distillset eval`; a task whose ``counters["report"]`` is the
        report (per student: overall and per tag)."""
        return run_blocking(
            self.evaluate_async(
                students,
                student_paths=student_paths,
                judge=judge,
                eval_fraction=eval_fraction,
                seed=seed,
                max_new_tokens=max_new_tokens,
                balanced=balanced,
                no_cache=no_cache,
                max_cost=max_cost,
                **filters,
            )
        )

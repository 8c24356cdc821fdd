"""The Python API: a small `Project` facade over the same services the CLI and web app use.

    from distillset import Project
    project = Project.create("Physical Education and Sports")
    project.use_models(question="ds", answer="ds")
    project.auto(levels=2, tags=10, questions=10)
    project.questions()[:3]
    project.judge()                                    # scores 0-5 by the answer model
    project.records(min_score=4, limit=3)["records"]
    project.export("train.jsonl", format="messages", min_score=4)

Records are selected with keyword filters, as on the command line: tag, confirmed,
has_reasoning, scored, min_score, max_score, model (the answer's), search, label.

Long operations run as tasks (resumable, visible in `distillset tasks list`). The blocking
methods also work inside a running event loop (a notebook) by running in a helper thread;
the ``*_async`` variants can be awaited directly.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine, Iterable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

from distillset import dataset
from distillset.config import Settings, load_settings
from distillset.dataset import RecordFilter
from distillset.distill import jobs
from distillset.distill.jobs import PlannedJob
from distillset.distill.plan import Plan
from distillset.export import ExportOptions, export_dataset
from distillset.export.formats import DEFAULT_THINK_CLOSE, DEFAULT_THINK_OPEN
from distillset.kinds import run_task, task_as_dict
from distillset.quality import create_judge_task
from distillset.services import projects
from distillset.services.tags import load_tree
from distillset.store import Store, open_store
from distillset.tasks import list_tasks

T = TypeVar("T")
ProgressCallback = Callable[[dict[str, Any]], None]


def _run_blocking(coroutine: Coroutine[Any, Any, T]) -> T:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coroutine)
    # Called from a running loop (Jupyter): run on a fresh loop in a helper thread.
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="distillset") as pool:
        return pool.submit(asyncio.run, coroutine).result()


class Project:
    """One project, opened by name; every method opens short sessions of its own."""

    def __init__(
        self, name: str, *, settings: Settings | None = None, store: Store | None = None
    ) -> None:
        self.settings = settings or load_settings()
        self._own_store = store is None
        self.store = store or open_store(self.settings)
        try:
            with self.store.session() as session:
                self.name = projects.get_project(session, name).name
        except BaseException:
            self.close()
            raise

    @classmethod
    def create(
        cls,
        name: str,
        *,
        topic: str | None = None,
        language: str = "en",
        description: str = "",
        settings: Settings | None = None,
    ) -> Project:
        settings = settings or load_settings()
        store = open_store(settings)
        try:
            with store.session() as session:
                projects.create_project(
                    session, name, topic=topic, language=language, description=description
                )
            project = cls(name, settings=settings, store=store)
        except BaseException:
            store.close()
            raise
        project._own_store = True
        return project

    def close(self) -> None:
        if self._own_store:
            self.store.close()

    def __enter__(self) -> Project:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Project({self.name!r})"

    # Settings

    def info(self) -> dict[str, Any]:
        with self.store.session() as session:
            project = projects.get_project(session, self.name)
            return projects.project_as_dict(project) | projects.project_stats(session, project.id)

    def configure(self, **changes: Any) -> dict[str, Any]:
        """Change settings: question_model, answer_model, max_concurrency, language, ..."""
        with self.store.session() as session:
            project = projects.update_project(
                session, projects.get_project(session, self.name), **changes
            )
            self.name = project.name
            return projects.project_as_dict(project)

    def use_models(self, question: str, answer: str | None = None) -> None:
        """Pick endpoints by alias; the answer model defaults to the question model."""
        self.configure(question_model=question, answer_model=answer or question)

    # Reading

    def tree(self) -> list[dict[str, Any]]:
        with self.store.session() as session:
            project = projects.get_project(session, self.name)
            return [node.as_dict() for node in load_tree(session, project.id)]

    def questions(
        self, *, tag: str | None = None, limit: int | None = None
    ) -> list[dict[str, Any]]:
        with self.store.session() as session:
            return jobs.list_questions(session, self.name, tag=tag, limit=limit)

    def tasks(self, limit: int = 50) -> list[dict[str, Any]]:
        with self.store.session() as session:
            project = projects.get_project(session, self.name)
            return [
                task_as_dict(task, self.settings, self.name)
                for task in list_tasks(session, self.settings, project.id, limit)
            ]

    def plan(
        self, *, levels: int = 2, tags: int = 10, questions: int = 10, topic: str | None = None
    ) -> Plan:
        """What `auto` with these parameters would create now, and its estimated cost."""
        with self.store.session() as session:
            return jobs.preview_auto_job(
                session, self.settings, self.name, levels=levels, tags=tags,
                questions=questions, topic=topic,
            )  # fmt: skip

    # Generating (each runs as a task and returns its summary)

    async def _run(self, job: PlannedJob, on_progress: ProgressCallback | None) -> dict[str, Any]:
        return await run_task(self.store, self.settings, job.task_id, on_progress=on_progress)

    async def auto_async(
        self,
        *,
        levels: int = 2,
        tags: int = 10,
        questions: int = 10,
        topic: str | None = None,
        on_progress: ProgressCallback | None = None,
        confirm_large: bool = False,
    ) -> dict[str, Any]:
        with self.store.session() as session:
            job = jobs.create_auto_job(
                session, self.settings, self.name, levels=levels, tags=tags,
                questions=questions, topic=topic, confirm_large=confirm_large,
            )  # fmt: skip
        return await self._run(job, on_progress)

    def auto(self, **params: Any) -> dict[str, Any]:
        """Automatic distillation (levels, tags, questions, topic, on_progress; a plan above
        the bound on calls or cost needs confirm_large=True)."""
        return _run_blocking(self.auto_async(**params))

    async def generate_tags_async(
        self, count: int, *, parent: str | None = None, on_progress: ProgressCallback | None = None
    ) -> dict[str, Any]:
        with self.store.session() as session:
            job = jobs.create_tags_job(
                session, self.settings, self.name, parent=parent, count=count
            )
        return await self._run(job, on_progress)

    def generate_tags(self, count: int, *, parent: str | None = None) -> dict[str, Any]:
        """Top the parent's (default: the topic's) children up to ``count``."""
        return _run_blocking(self.generate_tags_async(count, parent=parent))

    async def generate_questions_async(
        self, tag: str, count: int, *, on_progress: ProgressCallback | None = None
    ) -> dict[str, Any]:
        with self.store.session() as session:
            job = jobs.create_questions_job(session, self.settings, self.name, tag=tag, count=count)
        return await self._run(job, on_progress)

    def generate_questions(self, tag: str, count: int) -> dict[str, Any]:
        """Top the tag's questions up to ``count``."""
        return _run_blocking(self.generate_questions_async(tag, count))

    async def generate_answers_async(
        self,
        *,
        questions: list[int] | None = None,
        tag: str | None = None,
        on_progress: ProgressCallback | None = None,
        confirm_large: bool = False,
    ) -> dict[str, Any]:
        with self.store.session() as session:
            job = jobs.create_answers_job(
                session, self.settings, self.name, question_ids=questions, tag=tag,
                confirm_large=confirm_large,
            )  # fmt: skip
        return await self._run(job, on_progress)

    def generate_answers(
        self, *, questions: list[int] | None = None, tag: str | None = None
    ) -> dict[str, Any]:
        """Answer the given questions, or every unanswered one (of a subtree)."""
        return _run_blocking(self.generate_answers_async(questions=questions, tag=tag))

    def resume(self, task_id: int) -> dict[str, Any]:
        """Continue a stopped task from what is stored."""
        return _run_blocking(run_task(self.store, self.settings, task_id))

    # Reviewing, scoring and exporting the dataset

    def records(
        self,
        *,
        limit: int = 50,
        cursor: int | None = None,
        newest_first: bool = False,
        count: bool = False,
        **filters: Any,
    ) -> dict[str, Any]:
        """One page of records (as `dataset list --json`): ``records`` and ``next_cursor``
        (pass it as ``cursor`` for the next page; None at the end), ``total`` with ``count``."""
        record_filter = RecordFilter.from_dict(filters)
        with self.store.session() as session:
            project = projects.get_project(session, self.name)
            page = dataset.list_records(
                session,
                project,
                record_filter,
                cursor=cursor,
                limit=limit,
                newest_first=newest_first,
            )
            data = page.as_dict()
            if count:
                data["total"] = dataset.count_records(session, project, record_filter)
        return data

    def _change_records(
        self,
        change: Callable[..., int],
        ids: Iterable[int] | None,
        everything: bool,
        filters: dict[str, Any],
        *args: Any,
        **options: Any,
    ) -> int:
        """A bulk change of the records chosen by ids, filters or ``everything``, as the
        dataset commands choose them; returns how many matched."""
        chosen, record_filter = dataset.chosen_records(
            ids, RecordFilter.from_dict(filters), everything
        )
        with self.store.session() as session:
            project = projects.get_project(session, self.name)
            return change(
                session, project, *args, ids=chosen, record_filter=record_filter, **options
            )

    def confirm(
        self, ids: Iterable[int] | None = None, *, everything: bool = False, **filters: Any
    ) -> int:
        """Confirm records by id or by filter (``everything=True``: all of them); returns how
        many matched."""
        return self._change_records(dataset.set_confirmed, ids, everything, filters, True)

    def unconfirm(
        self, ids: Iterable[int] | None = None, *, everything: bool = False, **filters: Any
    ) -> int:
        """Take back the confirmation of records, selected as in ``confirm``."""
        return self._change_records(dataset.set_confirmed, ids, everything, filters, False)

    def score(
        self,
        value: float | None,
        ids: Iterable[int] | None = None,
        *,
        reason: str | None = None,
        everything: bool = False,
        **filters: Any,
    ) -> int:
        """Score records by hand (0-5 in steps of 0.5; None clears the score), selected as in
        ``confirm``; returns how many matched."""
        return self._change_records(
            dataset.set_score, ids, everything, filters, value, reason=reason
        )

    async def judge_async(
        self,
        judge_model: str | None = None,
        *,
        rescore: bool = False,
        no_cache: bool = False,
        on_progress: ProgressCallback | None = None,
        **filters: Any,
    ) -> dict[str, Any]:
        record_filter = RecordFilter.from_dict(filters)
        with self.store.session() as session:
            task = create_judge_task(
                session,
                projects.get_project(session, self.name),
                model=judge_model,
                record_filter=record_filter,
                rescore=rescore,
                no_cache=no_cache,
            )
            task_id = task.id
        return await run_task(self.store, self.settings, task_id, on_progress=on_progress)

    def judge(
        self,
        judge_model: str | None = None,
        *,
        rescore: bool = False,
        no_cache: bool = False,
        **filters: Any,
    ) -> dict[str, Any]:
        """Score unscored records 0-5 with the ``judge_model`` endpoint (default: the answer
        model), or every matching record with ``rescore`` (score filters allowed then); a
        task. ``model=`` is the record filter, as in ``records``: the answers' model."""
        return _run_blocking(
            self.judge_async(judge_model, rescore=rescore, no_cache=no_cache, **filters)
        )

    def export(
        self,
        output: str | Path | None = None,
        *,
        format: str = "alpaca",
        file_format: str | None = None,
        reasoning: str | None = None,
        think_open: str = DEFAULT_THINK_OPEN,
        think_close: str = DEFAULT_THINK_CLOSE,
        system: str | None = None,
        fields: dict[str, str] | None = None,
        balanced: int | None = None,
        split: str | None = None,
        seed: int = 42,
        llamafactory: str | Path | None = None,
        dataset_name: str | None = None,
        push_to_hub: str | None = None,
        private: bool = False,
        batch_size: int = 2_000,
        **filters: Any,
    ) -> dict[str, Any]:
        """Export the records (all, or those the filters select) as `distillset export` does;
        returns what was written (as its --json output)."""
        options = ExportOptions(
            format=format,
            output=Path(output) if output is not None else None,
            file_format=file_format,
            reasoning=reasoning,
            think_open=think_open,
            think_close=think_close,
            system=system,
            fields=dict(fields or {}),
            record_filter=RecordFilter.from_dict(filters),
            balanced=balanced,
            split=split,
            seed=seed,
            batch_size=batch_size,
            llamafactory_dir=Path(llamafactory) if llamafactory is not None else None,
            dataset_name=dataset_name,
            push_to_hub=push_to_hub,
            private=private,
        )
        with self.store.session() as session:
            result = export_dataset(session, projects.get_project(session, self.name), options)
        return result.as_dict()

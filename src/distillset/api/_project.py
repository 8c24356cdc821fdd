"""`Project`: one project, opened by name, with every operation the CLI has on it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from distillset import auto as auto_distill
from distillset import projects, resolve
from distillset.api._common import ProgressCallback, opened, run_blocking
from distillset.api._conversations import ConversationMethods
from distillset.api._quality import QualityMethods
from distillset.api._questions import QuestionMethods
from distillset.api._review import ReviewMethods
from distillset.api._tasks import TaskMethods
from distillset.api._train import TrainMethods
from distillset.api._tree import TreeMethods
from distillset.auto import Plan, PlannedJob
from distillset.config import Settings, load_settings
from distillset.export import DEFAULT_THINK_CLOSE, DEFAULT_THINK_OPEN, ExportOptions, export_dataset
from distillset.kinds import run_task
from distillset.prompts import get_prompt, prompt_kind, reset_prompt, set_prompt
from distillset.store import Store, open_store


class Project(
    TreeMethods,
    QuestionMethods,
    ReviewMethods,
    ConversationMethods,
    QualityMethods,
    TaskMethods,
    TrainMethods,
):
    """One project, opened by name; every method opens short sessions of its own.

    Long operations (``auto``, ``generate_*``, ``judge``, ``resume``) run as tasks and return
    the task's summary; each has an ``*_async`` form for a caller with a running loop.
    """

    def __init__(
        self, name: str, *, settings: Settings | None = None, store: Store | None = None
    ) -> None:
        self.settings = settings or load_settings()
        self._own_store = store is None
        self.store = store or open_store(self.settings)
        try:
            with self.store.session() as session:
                self.name = resolve.project_named(session, name).name
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
        """Create a project (its name is the default topic) and open it."""
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
        """Close the store this object opened (not one it was given)."""
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
        """The project's settings and sizes (tags, questions, answers), as `project show`."""
        with self._session() as (session, project):
            return projects.project_as_dict(project) | projects.project_stats(session, project.id)

    def configure(self, **changes: Any) -> dict[str, Any]:
        """Change settings: question_model, answer_model, max_concurrency, language, name,
        topic, requests_per_minute, ... (``CLEAR`` from `distillset.domain` removes one)."""
        with self._session() as (session, project):
            project = projects.update_project(session, project, **changes)
            self.name = project.name
            return projects.project_as_dict(project)

    def use_models(self, question: str, answer: str | None = None) -> None:
        """Pick endpoints by alias; the answer model defaults to the question model."""
        self.configure(question_model=question, answer_model=answer or question)

    def delete(self) -> dict[str, Any]:
        """Delete the project with all its tags, questions, answers and tasks (no question
        asked); returns what went. The object is closed afterwards."""
        with self._session() as (session, project):
            deleted = {"deleted": self.name} | projects.project_stats(session, project.id)
            projects.delete_project(session, project)
        self.close()
        return deleted

    # Prompts (kinds: see `distillset.prompts.KINDS`)

    def prompt(self, kind: str) -> dict[str, Any]:
        """The template the project uses for ``kind`` (its override, else the language's
        default), whether it is ``overridden``, and its ``required``/``optional`` fields."""
        spec = prompt_kind(kind)
        with self._session() as (session, project):
            prompt = get_prompt(session, project, kind)
        return {
            "kind": kind,
            "overridden": prompt.overridden,
            "required": list(spec.required),
            "optional": list(spec.optional),
            "template": prompt.template,
        }

    def set_prompt(self, kind: str, template: str) -> None:
        """Override a template; it must keep every required placeholder."""
        with self._session() as (session, project):
            set_prompt(session, project, kind, template)

    def reset_prompt(self, kind: str) -> bool:
        """Go back to the language's default template; False when it already was."""
        with self._session() as (session, project):
            return reset_prompt(session, project, kind)

    # Reading

    def questions(
        self, *, tag: str | None = None, limit: int | None = None, after: int | None = None
    ) -> list[dict[str, Any]]:
        """Questions in id order (of a subtree with ``tag``), with their tag path and whether
        they are answered; ``after`` an id gives the next page."""
        with self._session() as (session, project):
            tag_id = resolve.tag_id(session, project, tag)
            return auto_distill.list_questions(
                session, project.id, tag_id=tag_id, limit=limit, after=after
            )

    def plan(
        self,
        *,
        levels: int = 2,
        tags: int = 10,
        questions: int = 10,
        topic: str | None = None,
        dataset_type: str = "single",
        samples: int = 1,
        temperature: float | None = None,
        batch_answers: bool = False,
    ) -> Plan:
        """What `auto` with these parameters would create now, and its estimated cost (the
        answers at the batch discount with ``batch_answers``)."""
        with self._session() as (session, project):
            return auto_distill.preview_auto_job(
                session, self.settings, project.id, levels=levels, tags=tags,
                questions=questions, topic=topic, dataset_type=dataset_type,
                samples=samples, temperature=temperature, batch_answers=batch_answers,
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
        no_cache: bool = False,
        max_cost: float | None = None,
        confirm_large: bool = False,
        dataset_type: str = "single",
        batch_answers: bool = False,
        samples: int = 1,
        temperature: float | None = None,
        semantic_dedup: float | None = None,
        embeddings: str | None = None,
        on_progress: ProgressCallback | None = None,
    ) -> dict[str, Any]:
        """``auto`` as a coroutine, for a caller that has a running loop of its own."""
        with self._session() as (session, project):
            job = auto_distill.create_auto_job(
                session, self.settings, project.id, levels=levels, tags=tags,
                questions=questions, topic=topic, no_cache=no_cache, max_cost=max_cost,
                confirm_large=confirm_large, dataset_type=dataset_type,
                batch_answers=batch_answers, samples=samples, temperature=temperature,
                semantic_dedup=semantic_dedup, embeddings=embeddings,
            )  # fmt: skip
        return await self._run(job, on_progress)

    def auto(self, **params: Any) -> dict[str, Any]:
        """Automatic distillation (levels, tags, questions, topic, dataset_type: single,
        multi or both, samples, temperature, semantic_dedup with embeddings (an endpoint
        alias), no_cache, max_cost, batch_answers, on_progress; a plan above the bound on
        calls or cost needs confirm_large=True)."""
        return run_blocking(self.auto_async(**params))

    async def generate_tags_async(
        self,
        count: int | None = None,
        *,
        add: int | None = None,
        parent: str | None = None,
        no_cache: bool = False,
        max_cost: float | None = None,
        on_progress: ProgressCallback | None = None,
    ) -> dict[str, Any]:
        """``generate_tags`` as a coroutine."""
        with self._session() as (session, project):
            job = auto_distill.create_tags_job(
                session, self.settings, project.id,
                parent_id=resolve.parent_id(session, project, parent), count=count, add=add,
                no_cache=no_cache, max_cost=max_cost,
            )  # fmt: skip
        return await self._run(job, on_progress)

    def generate_tags(
        self,
        count: int | None = None,
        *,
        add: int | None = None,
        parent: str | None = None,
        no_cache: bool = False,
        max_cost: float | None = None,
    ) -> dict[str, Any]:
        """Top the parent's (default: the topic's) children up to ``count``, or create
        ``add`` more, with the question model."""
        return run_blocking(
            self.generate_tags_async(
                count, add=add, parent=parent, no_cache=no_cache, max_cost=max_cost
            )
        )

    async def generate_questions_async(
        self,
        tag: str,
        count: int | None = None,
        *,
        add: int | None = None,
        no_cache: bool = False,
        max_cost: float | None = None,
        on_progress: ProgressCallback | None = None,
    ) -> dict[str, Any]:
        """``generate_questions`` as a coroutine."""
        with self._session() as (session, project):
            job = auto_distill.create_questions_job(
                session, self.settings, project.id,
                tag_id=resolve.tag_at(session, project, tag).id, count=count, add=add,
                no_cache=no_cache, max_cost=max_cost,
            )  # fmt: skip
        return await self._run(job, on_progress)

    def generate_questions(
        self,
        tag: str,
        count: int | None = None,
        *,
        add: int | None = None,
        no_cache: bool = False,
        max_cost: float | None = None,
    ) -> dict[str, Any]:
        """Top the tag's questions up to ``count``, or create ``add`` more."""
        return run_blocking(
            self.generate_questions_async(tag, count, add=add, no_cache=no_cache, max_cost=max_cost)
        )

    async def generate_answers_async(
        self,
        *,
        questions: list[int] | None = None,
        tag: str | None = None,
        no_cache: bool = False,
        max_cost: float | None = None,
        confirm_large: bool = False,
        resample: bool = False,
        dataset_type: str = "single",
        batch: bool = False,
        samples: int = 1,
        temperature: float | None = None,
        on_progress: ProgressCallback | None = None,
    ) -> dict[str, Any]:
        """``generate_answers`` as a coroutine."""
        with self._session() as (session, project):
            job = auto_distill.create_answers_job(
                session, self.settings, project.id, question_ids=questions,
                tag_id=resolve.tag_id(session, project, tag),
                no_cache=no_cache, max_cost=max_cost, confirm_large=confirm_large,
                resample=resample, dataset_type=dataset_type, batch=batch,
                samples=samples, temperature=temperature,
            )  # fmt: skip
        return await self._run(job, on_progress)

    def generate_answers(
        self,
        *,
        questions: list[int] | None = None,
        tag: str | None = None,
        no_cache: bool = False,
        max_cost: float | None = None,
        confirm_large: bool = False,
        resample: bool = False,
        dataset_type: str = "single",
        batch: bool = False,
        samples: int = 1,
        temperature: float | None = None,
    ) -> dict[str, Any]:
        """Answer the given questions, or every unanswered one (of a subtree); a plan above
        the bound on calls or cost needs confirm_large=True. ``resample`` replaces the
        answers of the given questions with new samples; ``dataset_type`` "multi" makes (or
        finishes) their conversations instead, "both" does both; ``batch`` sends them
        through the answer model's batch interface; ``samples`` gives each question that
        many records (best-of-N), at ``temperature`` if given."""
        return run_blocking(
            self.generate_answers_async(
                questions=questions,
                tag=tag,
                no_cache=no_cache,
                max_cost=max_cost,
                confirm_large=confirm_large,
                resample=resample,
                dataset_type=dataset_type,
                batch=batch,
                samples=samples,
                temperature=temperature,
            )
        )

    # Exporting

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
        balanced_by: str = "tag",
        all_samples: bool = False,
        margin: float = 1.0,
        split: str | None = None,
        seed: int = 42,
        llamafactory: str | Path | None = None,
        dataset_name: str | None = None,
        push_to_hub: str | None = None,
        private: bool = False,
        batch_size: int = 2_000,
        soft_labels: bool = False,
        dataset_type: str | None = None,
        reasoning_turns: str = "every",
        **filters: Any,
    ) -> dict[str, Any]:
        """Export the records (all, or those the filters select) as `distillset export` does;
        returns what was written (as its --json output). ``soft_labels`` adds each record's
        soft labels (docs/soft-labels.md); ``dataset_type`` (single, multi, both) and
        ``reasoning_turns`` (every, last) choose what conversations go in and how."""
        with self._session() as (session, project):
            options = ExportOptions(
                format=format,
                output=Path(output) if output is not None else None,
                file_format=file_format,
                reasoning=reasoning,
                think_open=think_open,
                think_close=think_close,
                system=system,
                fields=dict(fields or {}),
                record_filter=resolve.record_filter(session, project, filters),
                balanced=balanced,
                balanced_by=balanced_by,
                all_samples=all_samples,
                margin=margin,
                split=split,
                seed=seed,
                batch_size=batch_size,
                llamafactory_dir=Path(llamafactory) if llamafactory is not None else None,
                dataset_name=dataset_name,
                push_to_hub=push_to_hub,
                private=private,
                soft_labels=soft_labels,
                dataset_type=dataset_type,
                reasoning_turns=reasoning_turns,
            )
            result = export_dataset(session, project, options)
        return result.as_dict()


def list_projects(
    *, settings: Settings | None = None, store: Store | None = None
) -> list[dict[str, Any]]:
    """Every project's settings and sizes, as `project list --json`."""
    with opened(settings, store) as (settings, store), store.session() as session:
        return [
            projects.project_as_dict(project) | projects.project_stats(session, project.id)
            for project in projects.list_projects(session)
        ]

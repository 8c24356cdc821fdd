"""`Project`'s review methods: list, edit, confirm, score, label, delete, judge, duplicates,
import a dataset file."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

from distillset import resolve, review
from distillset.answers import (
    DEFAULT_SCORE_K,
    create_refine_task,
    create_score_task,
    probe_scoring,
)
from distillset.api._common import ProgressCallback, ProjectBase, run_blocking
from distillset.kinds import run_task
from distillset.review import create_judge_task, find_duplicates, label_duplicates


class ReviewMethods(ProjectBase):
    """Records are selected with keyword filters, as on the command line: tag (an `A > B`
    path) or tag_id for a subtree, confirmed, has_reasoning, scored, min_score, max_score,
    model (the answer's), search, label."""

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
        with self._session() as (session, project):
            record_filter = resolve.record_filter(session, project, filters)
            page = review.list_records(
                session,
                project,
                record_filter,
                cursor=cursor,
                limit=limit,
                newest_first=newest_first,
            )
            data = page.as_dict()
            if count:
                data["total"] = review.count_records(session, project, record_filter)
        return data

    def record(self, record_id: int) -> dict[str, Any]:
        """One record in full (as `dataset show --json`)."""
        with self._session() as (session, project):
            return review.get_record(session, project, record_id).as_dict()

    def uncertain_tokens(self, record_id: int, lowest: int = 10) -> list[dict[str, Any]]:
        """The ``lowest`` tokens of a record the teacher gave the least probability, with
        the alternatives it weighed (as `dataset tokens --json`); from its soft labels."""
        from distillset.review import lowest_confidence

        with self._session() as (session, project):
            tokens = lowest_confidence(session, project, record_id, lowest)
        return [token.as_dict() for token in tokens]

    def edit_record(
        self,
        record_id: int,
        *,
        question: str | None = None,
        answer: str | None = None,
        reasoning: str | None = None,
        clear_reasoning: bool = False,
    ) -> dict[str, Any]:
        """Change a record's question, answer or reasoning (None keeps a text; an empty
        reasoning or ``clear_reasoning`` removes it); returns the record."""
        with self._session() as (session, project):
            record = review.edit_record(
                session, project, record_id, question=question, answer=answer,
                reasoning=reasoning, clear_reasoning=clear_reasoning,
            )  # fmt: skip
            return record.as_dict()

    def note(self, record_id: int, note: str | None) -> None:
        """Attach a note to a record (None or '' removes it)."""
        with self._session() as (session, project):
            review.set_note(session, project, record_id, note)

    def label(
        self, ids: Iterable[int], *, add: Iterable[str] = (), remove: Iterable[str] = ()
    ) -> int:
        """Add and remove custom labels on records; returns how many records changed."""
        with self._session() as (session, project):
            return review.change_labels(session, project, ids, add=add, remove=remove)

    def _change_records(
        self,
        change: Callable[..., Any],
        ids: Iterable[int] | None,
        everything: bool,
        filters: dict[str, Any],
        *args: Any,
        **options: Any,
    ) -> Any:
        """A bulk change of the records chosen by ids, filters or ``everything``, as the
        dataset commands choose them; returns what the change returns."""
        with self._session() as (session, project):
            chosen, record_filter = review.chosen_records(
                ids, resolve.record_filter(session, project, filters), everything
            )
            return change(
                session, project, *args, ids=chosen, record_filter=record_filter, **options
            )

    def confirm(
        self, ids: Iterable[int] | None = None, *, everything: bool = False, **filters: Any
    ) -> int:
        """Confirm records by id or by filter (``everything=True``: all of them); returns how
        many matched."""
        return int(self._change_records(review.set_confirmed, ids, everything, filters, True))

    def unconfirm(
        self, ids: Iterable[int] | None = None, *, everything: bool = False, **filters: Any
    ) -> int:
        """Take back the confirmation of records, selected as in ``confirm``."""
        return int(self._change_records(review.set_confirmed, ids, everything, filters, False))

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
        return int(
            self._change_records(review.set_score, ids, everything, filters, value, reason=reason)
        )

    def delete_records(
        self, ids: Iterable[int] | None = None, *, everything: bool = False, **filters: Any
    ) -> dict[str, int]:
        """Delete records, selected as in ``confirm``; their questions stay and become
        unanswered again. Returns ``records`` and ``questions_unanswered``."""
        result = self._change_records(review.delete_records, ids, everything, filters)
        return {"records": result.records, "questions_unanswered": result.questions_unanswered}

    def import_dataset(
        self,
        path: str | Path,
        *,
        tag: str | None = None,
        shape: str | None = None,
        fields: Mapping[str, str] | None = None,
        file_format: str | None = None,
        auto_tag: bool = False,
        auto_tag_model: str | None = None,
    ) -> dict[str, Any]:
        """Import a dataset file (.json, .jsonl, .csv, .parquet or a datasets directory) in
        the Alpaca, ShareGPT, messages, TRL or custom shape (``fields``: question=...,
        answer=..., reasoning=...) under ``tag`` (added when missing; default: a top-level
        'Imported'). The whole file is checked first; a bad row raises InvalidInputError and
        nothing is written. Returns what was read, created and skipped as duplicates. With
        ``auto_tag`` the ``auto_tag_model`` (default: the question model) places each new
        question on the best-matching leaf of the tree, a task whose summary is under
        ``auto_tag``."""
        with self._session() as (session, project):
            dataset = review.read_dataset(path, file_format=file_format, shape=shape, fields=fields)
            if auto_tag:
                review.check_auto_tag(session, project, auto_tag_model, tag)
            tag_id = resolve.tag_at_or_added(session, project, tag).id if tag else None
            result = review.import_records(session, project, dataset, tag_id)
            data = result.as_dict()
            task = None
            if auto_tag:
                task = review.create_auto_tag_task(
                    session,
                    project,
                    from_tag_id=result.tag_id,
                    question_ids=result.question_ids,
                    model=auto_tag_model,
                )
            task_id = task.id if task is not None else None
        if task_id is not None:
            data["auto_tag"] = run_blocking(run_task(self.store, self.settings, task_id))
        return data

    def duplicates(
        self,
        *,
        label: str | None = None,
        tag: str | None = None,
        tag_id: int | None = None,
        confirmed: bool | None = None,
    ) -> dict[str, Any]:
        """Records whose question or answer repeats an earlier one in the same tag: ``groups``
        (the first id of each is the one to keep); with ``label``, that label is put on every
        duplicate and ``labelled`` says on how many."""
        conditions = {"tag": tag, "tag_id": tag_id, "confirmed": confirmed}
        with self._session() as (session, project):
            record_filter = resolve.record_filter(session, project, conditions)
            groups = find_duplicates(session, project, record_filter)
            labelled = label_duplicates(session, project, groups, label) if label else 0
        return {"groups": [group.as_dict() for group in groups], "labelled": labelled}

    async def judge_async(
        self,
        judge_model: str | None = None,
        *,
        rescore: bool = False,
        no_cache: bool = False,
        max_cost: float | None = None,
        batch: bool = False,
        on_progress: ProgressCallback | None = None,
        **filters: Any,
    ) -> dict[str, Any]:
        """``judge`` as a coroutine, for a caller that has a running loop of its own."""
        with self._session() as (session, project):
            task = create_judge_task(
                session,
                project,
                model=judge_model,
                record_filter=resolve.record_filter(session, project, filters),
                rescore=rescore,
                no_cache=no_cache,
                max_cost=max_cost,
                batch=batch,
            )
            task_id = task.id
        return await run_task(self.store, self.settings, task_id, on_progress=on_progress)

    def judge(
        self,
        judge_model: str | None = None,
        *,
        rescore: bool = False,
        no_cache: bool = False,
        max_cost: float | None = None,
        batch: bool = False,
        **filters: Any,
    ) -> dict[str, Any]:
        """Score unscored records 0-5 with the ``judge_model`` endpoint (default: the answer
        model), or every matching record with ``rescore`` (score filters allowed then); a
        task. ``model=`` is the record filter, as in ``records``: the answers' model;
        ``batch`` asks the verdicts through the judge model's batch interface."""
        return run_blocking(
            self.judge_async(
                judge_model,
                rescore=rescore,
                no_cache=no_cache,
                max_cost=max_cost,
                batch=batch,
                **filters,
            )
        )

    async def select_async(
        self,
        by: str,
        *,
        tag: str | None = None,
        judge_model: str | None = None,
        no_cache: bool = False,
        max_cost: float | None = None,
        on_progress: ProgressCallback | None = None,
    ) -> dict[str, Any]:
        """``select`` as a coroutine."""
        with self._session() as (session, project):
            started = review.start_selection(
                session,
                project,
                review.select_by(by),
                tag_id=resolve.tag_id(session, project, tag),
                model=judge_model,
                no_cache=no_cache,
                max_cost=max_cost,
            )
            if isinstance(started, review.SelectionResult):
                return started.as_dict()
            task_id = started.id
        return await run_task(self.store, self.settings, task_id, on_progress=on_progress)

    def select(
        self,
        by: str,
        *,
        tag: str | None = None,
        judge_model: str | None = None,
        no_cache: bool = False,
        max_cost: float | None = None,
    ) -> dict[str, Any]:
        """Choose one sample of each question that has several (export takes it): ``by``
        "judge" scores the unscored samples with ``judge_model`` (a task; its summary is
        returned) and chooses the best, "consistency" votes on the final answer and
        returns how many were chosen and the mean agreement."""
        return run_blocking(
            self.select_async(
                by, tag=tag, judge_model=judge_model, no_cache=no_cache, max_cost=max_cost
            )
        )

    def rate_difficulty(
        self,
        judge_model: str | None = None,
        *,
        tag: str | None = None,
        rerate: bool = False,
        no_cache: bool = False,
        max_cost: float | None = None,
    ) -> dict[str, Any]:
        """The judge rates each unrated question's difficulty 1-10 (every question with
        ``rerate``), as a resumable task; returns its summary."""

        async def rate() -> dict[str, Any]:
            with self._session() as (session, project):
                task_id = review.create_rate_task(
                    session,
                    project,
                    model=judge_model,
                    tag_id=resolve.tag_id(session, project, tag),
                    rerate=rerate,
                    no_cache=no_cache,
                    max_cost=max_cost,
                ).id
            return await run_task(self.store, self.settings, task_id)

        return run_blocking(rate())

    async def refine_async(
        self,
        advice: str,
        *,
        ids: Iterable[int] | None = None,
        refine_model: str | None = None,
        everything: bool = False,
        no_cache: bool = False,
        max_cost: float | None = None,
        on_progress: ProgressCallback | None = None,
        **filters: Any,
    ) -> dict[str, Any]:
        """``refine`` as a coroutine, for a caller that has a running loop of its own."""
        with self._session() as (session, project):
            record_filter = resolve.record_filter(session, project, filters)
            chosen = review.chosen_filter(ids, record_filter, everything)
            task = create_refine_task(
                session,
                project,
                advice=advice,
                record_filter=chosen,
                model=refine_model,
                everything=everything,
                no_cache=no_cache,
                max_cost=max_cost,
            )
            task_id = task.id
        return await run_task(self.store, self.settings, task_id, on_progress=on_progress)

    def refine(
        self,
        advice: str,
        *,
        ids: Iterable[int] | None = None,
        refine_model: str | None = None,
        everything: bool = False,
        no_cache: bool = False,
        max_cost: float | None = None,
        **filters: Any,
    ) -> dict[str, Any]:
        """Rewrite records' answers following ``advice`` with the ``refine_model`` endpoint
        (default: the answer model): the records of ``ids``, of keyword filters, or all of
        them with ``everything``; a task (returned as a dict). Each replaced text is kept in
        the record's ``history``; ``model=`` is the record filter, the answers' model."""
        return run_blocking(
            self.refine_async(
                advice,
                ids=ids,
                refine_model=refine_model,
                everything=everything,
                no_cache=no_cache,
                max_cost=max_cost,
                **filters,
            )
        )

    def history(self, record_id: int) -> list[dict[str, Any]]:
        """A record's earlier texts, oldest first (as `dataset history --json`)."""
        with self._session() as (session, project):
            return [v.as_dict() for v in review.record_history(session, project, record_id)]

    def restore(self, record_id: int, version: int) -> dict[str, Any]:
        """Bring back an earlier version of a record (the current text becomes the newest
        version); returns the record."""
        with self._session() as (session, project):
            return review.restore_version(session, project, record_id, version).as_dict()

    async def score_tokens_async(
        self,
        endpoint: str,
        *,
        k: int = DEFAULT_SCORE_K,
        ids: Iterable[int] | None = None,
        everything: bool = False,
        on_progress: ProgressCallback | None = None,
        **filters: Any,
    ) -> dict[str, Any]:
        """``score_tokens`` as a coroutine, for a caller that has a running loop of its own."""
        from distillset.projects import endpoint_config, get_endpoint

        with self._session() as (session, project):
            record_filter = resolve.record_filter(session, project, filters)
            chosen = review.chosen_filter(ids, record_filter, everything)
            config = endpoint_config(get_endpoint(session, endpoint), self.settings)
        await probe_scoring(self.store, config, k)
        with self._session() as (session, project):
            task = create_score_task(
                session,
                project,
                endpoint=endpoint,
                record_filter=chosen,
                k=k,
            )
            task_id = task.id
        return await run_task(self.store, self.settings, task_id, on_progress=on_progress)

    def score_tokens(
        self,
        endpoint: str,
        *,
        k: int = DEFAULT_SCORE_K,
        ids: Iterable[int] | None = None,
        everything: bool = False,
        **filters: Any,
    ) -> dict[str, Any]:
        """Add soft labels (top ``k`` per token) to the answers of ``ids``, of keyword
        filters, or of every record with ``everything``, scored by the ``endpoint`` teacher
        (a server that scores given text: vLLM's prompt_logprobs); records that have soft
        labels are skipped. A task; InvalidInputError when the server cannot score."""
        return run_blocking(
            self.score_tokens_async(endpoint, k=k, ids=ids, everything=everything, **filters)
        )

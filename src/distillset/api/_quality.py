"""`Project`'s quality methods: semantic duplicates, flags, decontamination, the report."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

from distillset import quality, resolve
from distillset.api._common import ProjectBase
from distillset.review import RecordFilter


class QualityMethods(ProjectBase):
    """As `dataset duplicates --semantic`, `dataset flags`, `dataset list --flag`,
    `dataset decontaminate` and `report` on the command line."""

    def semantic_duplicates(
        self,
        *,
        threshold: float | None = None,
        embeddings: str | None = None,
        tag: str | None = None,
        label: str | None = None,
        delete: bool = False,
    ) -> dict[str, Any]:
        """Questions that ask the same thing in other words: ``groups`` (the first question of
        each is kept). ``embeddings`` names an endpoint serving /embeddings (default: the
        offline model); ``label`` labels the duplicates' records, ``delete`` deletes the
        duplicate questions with their records."""
        limit = quality.checked_threshold(
            quality.DEFAULT_THRESHOLD if threshold is None else threshold
        )
        quality.check_action(label, delete)
        with self._session() as (session, project):
            embedder = quality.open_embedder(session, self.settings, embeddings)
            groups = quality.find_semantic_duplicates(
                session,
                project,
                embedder,
                threshold=limit,
                tag_id=resolve.tag_id(session, project, tag),
            )
            cleanup = quality.semantic_cleanup(groups)
            outcome = quality.apply_cleanup(session, project, cleanup, label=label, delete=delete)
        return {
            "model": embedder.name,
            "threshold": limit,
            "groups": [group.as_dict() for group in groups],
            **outcome,
        }

    def flags(self, *, examples: int = 3, tag: str | None = None) -> dict[str, Any]:
        """Records per automatic flag (refusal, wrong_language, leaked_reasoning, truncated,
        length_outlier, restates_question), with examples, and the answers' languages."""
        with self._session() as (session, project):
            summary = quality.summarize_flags(
                session,
                project,
                RecordFilter(tag_id=resolve.tag_id(session, project, tag)),
                examples=examples,
            )
        return summary.as_dict()

    def flagged_records(
        self, flag: str, *, limit: int = 50, cursor: int | None = None, **filters: Any
    ) -> dict[str, Any]:
        """One page of the records carrying ``flag`` (as `dataset list --flag --json`)."""
        record_filter = RecordFilter.from_dict(filters)
        with self._session() as (session, project):
            page = quality.list_flagged(
                session, project, flag, record_filter, cursor=cursor, limit=limit
            )
        return page.as_dict()

    def decontaminate(
        self,
        against: Iterable[str | Path],
        *,
        ngram: int = quality.DEFAULT_NGRAM,
        field: str | None = None,
        label: str | None = None,
        remove: bool = False,
    ) -> dict[str, Any]:
        """Questions sharing an n-gram with the benchmark files' questions; ``label`` labels
        their records, ``remove`` deletes the questions with their records."""
        quality.check_action(label, remove)
        benchmark = [q for path in against for q in quality.read_benchmark(Path(path), field)]
        index = quality.BenchmarkIndex(benchmark, ngram)
        with self._session() as (session, project):
            found = quality.find_contaminated(session, project, index)
            cleanup = quality.contamination_cleanup(found)
            outcome = quality.apply_cleanup(session, project, cleanup, label=label, delete=remove)
        return {"contaminated": [item.as_dict() for item in found], **outcome}

    def usage(self) -> dict[str, Any]:
        """Calls, tokens, failures and cost in total, per model, per day and per task, and
        the latency of successful calls (as `usage --json`; a cost is None without prices)."""
        with self._session() as (session, project):
            return quality.usage_report(session, project.id)

    def quality_report(
        self,
        *,
        semantic: bool | None = None,
        embeddings: str | None = None,
        threshold: float | None = None,
        few: int = 3,
        examples: int = 3,
        html: str | Path | None = None,
    ) -> dict[str, Any]:
        """The quality report (as `report --json`); ``html`` also writes it as an HTML file."""
        with self._session() as (session, project):
            embedder, problem = quality.report_embedder(
                session,
                self.settings,
                semantic,
                embeddings,
                quality.question_count(session, project),
            )
            report = quality.build_report(
                session,
                project,
                embedder=embedder,
                threshold=quality.DEFAULT_THRESHOLD if threshold is None else threshold,
                few=few,
                examples=examples,
                embedder_problem=problem,
            )
        if html is not None:
            Path(html).write_text(quality.render_html(report), encoding="utf-8")
        return report

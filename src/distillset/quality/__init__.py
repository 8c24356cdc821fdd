"""Dataset quality: semantic duplicates and diversity, automatic flags, decontamination and
the quality report.

What needs numpy or the embedding model (semantic duplicates, diversity, the report) is loaded
on first use, so that listing records with a flag filter starts fast.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from distillset.quality.cleanup import (
    Cleanup,
    apply_cleanup,
    check_action,
    contamination_cleanup,
    lexical_cleanup,
    semantic_cleanup,
)
from distillset.quality.coverage import question_count
from distillset.quality.decontaminate import (
    DEFAULT_NGRAM,
    MAX_NGRAM,
    MIN_NGRAM,
    BenchmarkIndex,
    Contamination,
    find_contaminated,
    read_benchmark,
)
from distillset.quality.flag_scan import (
    FlagSummary,
    checked_kind,
    count_flagged,
    flagged_records,
    list_flagged,
    summarize_flags,
)
from distillset.quality.flags import FLAG_KINDS, Flag
from distillset.quality.report_html import bar_chart, hbar_chart, render_html, render_sections
from distillset.quality.usage import usage_report

if TYPE_CHECKING:
    from distillset.quality.embedders import (
        Embedder,
        EndpointEmbedder,
        LocalEmbedder,
        local_model_problem,
        open_embedder,
        report_embedder,
    )
    from distillset.quality.report import build_report
    from distillset.quality.semantic import (
        DEFAULT_THRESHOLD,
        SemanticGroup,
        checked_threshold,
        find_semantic_duplicates,
    )

__all__ = [
    "BenchmarkIndex",
    "Cleanup",
    "Contamination",
    "DEFAULT_NGRAM",
    "DEFAULT_THRESHOLD",
    "Embedder",
    "EndpointEmbedder",
    "FLAG_KINDS",
    "Flag",
    "FlagSummary",
    "LocalEmbedder",
    "MAX_NGRAM",
    "MIN_NGRAM",
    "SemanticGroup",
    "apply_cleanup",
    "bar_chart",
    "build_report",
    "check_action",
    "checked_kind",
    "checked_threshold",
    "contamination_cleanup",
    "count_flagged",
    "find_contaminated",
    "find_semantic_duplicates",
    "flagged_records",
    "hbar_chart",
    "lexical_cleanup",
    "list_flagged",
    "local_model_problem",
    "open_embedder",
    "question_count",
    "read_benchmark",
    "render_html",
    "render_sections",
    "report_embedder",
    "semantic_cleanup",
    "summarize_flags",
    "usage_report",
]

_LAZY = {
    "Embedder": "embedders",
    "EndpointEmbedder": "embedders",
    "LocalEmbedder": "embedders",
    "local_model_problem": "embedders",
    "open_embedder": "embedders",
    "report_embedder": "embedders",
    "build_report": "report",
    "DEFAULT_THRESHOLD": "semantic",
    "SemanticGroup": "semantic",
    "checked_threshold": "semantic",
    "find_semantic_duplicates": "semantic",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from importlib import import_module

    return getattr(import_module(f"distillset.quality.{module}"), name)

"""Exporting a dataset to the formats fine-tuning tools read (DESIGN.md §6)."""

from distillset.export.formats import FORMATS, ReasoningMode
from distillset.export.formats.base import DEFAULT_THINK_CLOSE, DEFAULT_THINK_OPEN
from distillset.export.formats.custom import CUSTOM_FIELDS
from distillset.export.options import ExportOptions, slug
from distillset.export.pipeline import ExportResult, export_dataset, plan_stream, stream_export
from distillset.export.questions import (
    QUESTION_FILE_FORMATS,
    QuestionsExport,
    export_questions,
    stream_questions,
)
from distillset.export.writers import FileFormat

__all__ = [
    "CUSTOM_FIELDS",
    "DEFAULT_THINK_CLOSE",
    "DEFAULT_THINK_OPEN",
    "ExportOptions",
    "ExportResult",
    "FORMATS",
    "FileFormat",
    "QUESTION_FILE_FORMATS",
    "QuestionsExport",
    "ReasoningMode",
    "export_dataset",
    "export_questions",
    "plan_stream",
    "slug",
    "stream_export",
    "stream_questions",
]

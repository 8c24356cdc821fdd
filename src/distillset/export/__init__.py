"""Exporting a dataset to the formats fine-tuning tools read (DESIGN.md §6)."""

from distillset.export.formats import FORMATS, ReasoningMode
from distillset.export.options import ExportOptions
from distillset.export.pipeline import ExportResult, export_dataset, stream_export
from distillset.export.writers import FileFormat

__all__ = [
    "FORMATS",
    "ExportOptions",
    "ExportResult",
    "FileFormat",
    "ReasoningMode",
    "export_dataset",
    "stream_export",
]

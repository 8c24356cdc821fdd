"""Dataset review: the canonical record, filters, listing and editing records."""

from distillset.dataset.filters import RecordFilter
from distillset.dataset.questions import QuestionRow, list_questions, question_row
from distillset.dataset.records import DatasetRecord, iter_records
from distillset.dataset.review import (
    DeleteResult,
    RecordPage,
    change_labels,
    checked_score,
    chosen_records,
    count_records,
    delete_records,
    edit_record,
    get_record,
    list_records,
    set_confirmed,
    set_note,
    set_score,
)

__all__ = [
    "DatasetRecord",
    "DeleteResult",
    "QuestionRow",
    "RecordFilter",
    "RecordPage",
    "change_labels",
    "checked_score",
    "chosen_records",
    "count_records",
    "delete_records",
    "edit_record",
    "get_record",
    "iter_records",
    "list_questions",
    "list_records",
    "question_row",
    "set_confirmed",
    "set_note",
    "set_score",
]

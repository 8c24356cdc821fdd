"""Review: the canonical record, filters, listing and editing records, judge scoring and
duplicate reports."""

from distillset.review.duplicates import DuplicateGroup, find_duplicates, label_duplicates
from distillset.review.editing import (
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
from distillset.review.filters import RecordFilter
from distillset.review.judge import JUDGE_KIND, create_judge_task, run_judge_task
from distillset.review.records import DatasetRecord, fetch_page, iter_records
from distillset.review.verdict import Verdict, clamp_score, parse_verdict

__all__ = [
    "DatasetRecord",
    "DeleteResult",
    "DuplicateGroup",
    "JUDGE_KIND",
    "RecordFilter",
    "RecordPage",
    "Verdict",
    "change_labels",
    "checked_score",
    "chosen_records",
    "clamp_score",
    "count_records",
    "create_judge_task",
    "delete_records",
    "edit_record",
    "fetch_page",
    "find_duplicates",
    "get_record",
    "iter_records",
    "label_duplicates",
    "list_records",
    "parse_verdict",
    "run_judge_task",
    "set_confirmed",
    "set_note",
    "set_score",
]

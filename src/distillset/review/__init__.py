"""Review: the canonical record, filters, listing and editing records, judge scoring,
duplicate reports, and importing dataset files."""

from distillset.review.auto_tag import AUTO_TAG_KIND, check_auto_tag, create_auto_tag_task
from distillset.review.conversation_judge import (
    CONVERSATION_JUDGE_KIND,
    create_conversation_judge_task,
)
from distillset.review.conversations import (
    ConversationRecord,
    count_conversations,
    delete_conversations,
    edit_turn,
    get_conversation,
    iter_conversations,
    list_conversations,
    set_conversation_note,
    set_conversation_score,
    set_conversations_confirmed,
)
from distillset.review.difficulty import (
    RATE_KIND,
    Rating,
    create_rate_task,
    difficulty_counts,
    parse_rating,
)
from distillset.review.duplicates import DuplicateGroup, find_duplicates, label_duplicates
from distillset.review.editing import (
    DeleteResult,
    RecordPage,
    change_labels,
    checked_score,
    chosen_filter,
    chosen_records,
    count_records,
    delete_records,
    edit_record,
    get_record,
    list_records,
    set_confirmed,
    set_note,
    set_question_text,
    set_score,
)
from distillset.review.filters import RecordFilter
from distillset.review.history import Version, record_history, restore_version
from distillset.review.import_files import (
    IMPORT_FORMATS,
    MAX_IMPORT_BYTES,
    MAX_IMPORT_ROWS,
    file_format_of,
)
from distillset.review.import_shapes import FIELD_PARTS, SHAPES
from distillset.review.imports import (
    DEFAULT_IMPORT_TAG,
    ImportedDataset,
    ImportResult,
    import_dataset,
    import_records,
    read_dataset,
)
from distillset.review.judge import JUDGE_KIND, create_judge_task, run_judge_task
from distillset.review.records import DatasetRecord, fetch_page, iter_records
from distillset.review.select_task import start_selection
from distillset.review.selection import (
    SelectBy,
    SelectionResult,
    final_answer,
    select_by,
    select_samples,
)
from distillset.review.soft_labels import TokenConfidence, lowest_confidence, token_confidences
from distillset.review.verdict import Verdict, clamp_score, parse_verdict

__all__ = [
    "AUTO_TAG_KIND",
    "CONVERSATION_JUDGE_KIND",
    "ConversationRecord",
    "DEFAULT_IMPORT_TAG",
    "DatasetRecord",
    "DeleteResult",
    "DuplicateGroup",
    "FIELD_PARTS",
    "IMPORT_FORMATS",
    "ImportResult",
    "ImportedDataset",
    "JUDGE_KIND",
    "MAX_IMPORT_BYTES",
    "MAX_IMPORT_ROWS",
    "RATE_KIND",
    "Rating",
    "RecordFilter",
    "RecordPage",
    "SHAPES",
    "SelectBy",
    "SelectionResult",
    "TokenConfidence",
    "Verdict",
    "Version",
    "change_labels",
    "check_auto_tag",
    "checked_score",
    "chosen_filter",
    "chosen_records",
    "clamp_score",
    "count_conversations",
    "count_records",
    "create_auto_tag_task",
    "create_conversation_judge_task",
    "create_judge_task",
    "create_rate_task",
    "delete_conversations",
    "delete_records",
    "difficulty_counts",
    "edit_record",
    "edit_turn",
    "fetch_page",
    "file_format_of",
    "final_answer",
    "find_duplicates",
    "get_conversation",
    "get_record",
    "import_dataset",
    "import_records",
    "iter_conversations",
    "iter_records",
    "label_duplicates",
    "list_conversations",
    "list_records",
    "lowest_confidence",
    "parse_rating",
    "parse_verdict",
    "read_dataset",
    "record_history",
    "restore_version",
    "run_judge_task",
    "select_by",
    "select_samples",
    "set_confirmed",
    "set_conversation_note",
    "set_conversation_score",
    "set_conversations_confirmed",
    "set_note",
    "set_question_text",
    "set_score",
    "start_selection",
    "token_confidences",
]

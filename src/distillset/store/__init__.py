"""The store: models, the database, sessions, shared queries."""

from distillset.store.db import Store, open_store
from distillset.store.models import (
    Answer,
    Base,
    LlmCall,
    ModelEndpoint,
    Project,
    PromptOverride,
    Question,
    RecordVersion,
    SoftLabel,
    Tag,
    Task,
    TaskEvent,
    utc_iso,
    utcnow,
)
from distillset.store.queries import TagPaths

__all__ = [
    "Answer",
    "Base",
    "LlmCall",
    "ModelEndpoint",
    "Project",
    "PromptOverride",
    "Question",
    "RecordVersion",
    "SoftLabel",
    "Store",
    "Tag",
    "TagPaths",
    "Task",
    "TaskEvent",
    "open_store",
    "utc_iso",
    "utcnow",
]

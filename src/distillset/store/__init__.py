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
    SlotLease,
    SoftLabel,
    Tag,
    Task,
    TaskEvent,
    TaskWorker,
    WorkItem,
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
    "SlotLease",
    "SoftLabel",
    "Store",
    "Tag",
    "TagPaths",
    "Task",
    "TaskEvent",
    "TaskWorker",
    "WorkItem",
    "open_store",
    "utc_iso",
    "utcnow",
]

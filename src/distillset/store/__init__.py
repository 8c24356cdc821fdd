"""The store: models, the database, sessions."""

from distillset.store.db import Store, open_store
from distillset.store.models import (
    Answer,
    Base,
    LlmCall,
    ModelEndpoint,
    Project,
    PromptOverride,
    Question,
    Tag,
    Task,
    TaskEvent,
)

__all__ = [
    "Answer",
    "Base",
    "LlmCall",
    "ModelEndpoint",
    "Project",
    "PromptOverride",
    "Question",
    "Store",
    "Tag",
    "Task",
    "TaskEvent",
    "open_store",
]

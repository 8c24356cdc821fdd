"""Projects and their model endpoints, with the keys those endpoints use."""

from typing import Any

from distillset.projects.conversation_setting import (
    MultiTurnSetting,
    multi_turn_setting,
    update_multi_turn_setting,
)
from distillset.projects.endpoints import (
    ENDPOINT_REMOVABLE,
    PRESETS,
    add_endpoint,
    draft_endpoint_config,
    endpoint_as_dict,
    endpoint_config,
    get_endpoint,
    key_reference_changes,
    key_warning,
    list_endpoints,
    project_key_warnings,
    remove_endpoint,
    update_endpoint,
)
from distillset.projects.key_sources import RemoteKeys
from distillset.projects.keys import list_key_names, remove_key, set_key
from distillset.projects.lifecycle import (
    PROJECT_REMOVABLE,
    create_project,
    delete_project,
    list_projects,
    project_as_dict,
    project_stats,
    update_project,
)

__all__ = [
    "ENDPOINT_REMOVABLE",
    "MultiTurnSetting",
    "PRESETS",
    "PROJECT_REMOVABLE",
    "RemoteKeys",
    "add_endpoint",
    "cancel_remote_batches",
    "cancel_remote_batches_now",
    "create_project",
    "delete_project",
    "draft_endpoint_config",
    "endpoint_as_dict",
    "endpoint_config",
    "get_endpoint",
    "key_reference_changes",
    "key_warning",
    "list_endpoints",
    "list_key_names",
    "list_projects",
    "multi_turn_setting",
    "project_as_dict",
    "project_key_warnings",
    "project_stats",
    "remove_endpoint",
    "remove_key",
    "set_key",
    "update_endpoint",
    "update_multi_turn_setting",
    "update_project",
]


def __getattr__(name: str) -> Any:
    # Cancelling batches needs the HTTP client; listing and editing projects must not load it.
    if name in ("cancel_remote_batches", "cancel_remote_batches_now"):
        from distillset.projects import batches

        return getattr(batches, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

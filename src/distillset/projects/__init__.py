"""Projects and their model endpoints, with the keys those endpoints use."""

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
    "PRESETS",
    "PROJECT_REMOVABLE",
    "RemoteKeys",
    "add_endpoint",
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
    "project_as_dict",
    "project_key_warnings",
    "project_stats",
    "remove_endpoint",
    "remove_key",
    "set_key",
    "update_endpoint",
    "update_project",
]

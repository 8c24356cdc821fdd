"""The Python API: the operations of the CLI, as thin calls over the same core.

    from distillset import Project
    from distillset.api import add_endpoint
    add_endpoint("ds", preset="deepseek", model="deepseek-chat", api_key_name="deepseek")
    project = Project.create("Physical Education and Sports")
    project.use_models(question="ds", answer="ds")
    project.import_tree("contents.md")                 # or project.add_tag("Ball games > Football")
    project.auto(levels=2, tags=10, questions=10)
    project.judge()                                    # scores 0-5 by the answer model
    project.records(min_score=4, limit=3)["records"]
    project.export("train.jsonl", format="messages", min_score=4)

`Project` holds what concerns one project (its settings, prompts, tree, questions, answers,
records and tasks); endpoints, keys, the list of projects and tasks by id are functions, since
they are shared by every project. Tags are named by their path ``"A > B > C"`` and records by
id, as on the command line. Bad input raises the `DistillsetError` subclass the CLI reports
(`InvalidInputError`, `NotFoundError`, `ConflictError`, `ModelCallError`).

Long operations run as tasks (resumable, visible in `list_tasks`). The blocking methods also
work inside a running event loop (a notebook) by running in a helper thread; the ``*_async``
variants can be awaited directly. See docs/python-api.md for a walk-through.
"""

from distillset.api._common import ProgressCallback
from distillset.api._endpoints import (
    add_endpoint,
    available_models,
    list_endpoints,
    list_keys,
    remove_endpoint,
    remove_key,
    set_endpoint,
    set_key,
    show_endpoint,
    test_endpoint,
)
from distillset.api._project import Project, list_projects
from distillset.api._tasks import (
    cancel_task,
    list_tasks,
    resume_task,
    resume_task_async,
    run_worker,
    show_task,
)

__all__ = [
    "ProgressCallback",
    "Project",
    "add_endpoint",
    "available_models",
    "cancel_task",
    "list_endpoints",
    "list_keys",
    "list_projects",
    "list_tasks",
    "remove_endpoint",
    "remove_key",
    "resume_task",
    "resume_task_async",
    "run_worker",
    "set_endpoint",
    "set_key",
    "show_endpoint",
    "show_task",
    "test_endpoint",
]

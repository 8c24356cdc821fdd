"""`distillset demo`: a complete automatic distillation offline, with a simulated teacher.

The package's fake OpenAI-compatible server runs in this process on a free loopback port and
is registered as the project's model, so the demo needs no network, no key and no money.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import typer

from distillset import auto as auto_distill
from distillset import projects, resolve
from distillset.cli.app import app
from distillset.cli.common import JsonOption, print_json, say, state_of
from distillset.cli.distill import plan_text
from distillset.cli.task_progress import progress_lines, run_task_here, stage_names
from distillset.config import Settings
from distillset.domain import ConflictError, DistillsetError, NotFoundError
from distillset.store import Store

DEMO_PROJECT = "demo"
DEMO_TOPIC = "Physical Education and Sports"
DEMO_ENDPOINT = "demo-teacher"
LOOPBACK = {"127.0.0.1", "localhost", "::1"}

REAL_ENDPOINT_HELP = """\
To distil from a real teacher instead:
  distillset keys set deepseek                  # paste the key (kept in a 0600 file)
  distillset model add teacher --preset deepseek --model deepseek-reasoner --key-name deepseek
  distillset project create "Physical Education and Sports"
  distillset project set "Physical Education and Sports" \\
      --question-model teacher --answer-model teacher
  distillset auto "Physical Education and Sports" --levels 2 --tags 10 --questions 10
Any OpenAI-compatible server works: `--base-url URL` (or OPENAI_BASE_URL) with OPENAI_API_KEY."""


def _prepare(store: Store, url: str) -> None:
    """Create (or, on a re-run, repoint) the demo project and its simulated endpoint."""
    with store.session() as session:
        try:
            endpoint = projects.get_endpoint(session, DEMO_ENDPOINT)
        except NotFoundError:
            endpoint = projects.add_endpoint(
                session, DEMO_ENDPOINT, model="fake-teacher", base_url=url, structured_output="none"
            )
        else:
            if urlparse(endpoint.base_url).hostname not in LOOPBACK:
                raise ConflictError(
                    f"the endpoint {DEMO_ENDPOINT!r} exists and is not the demo's: "
                    "remove or rename it, or use another DISTILLSET_HOME for the demo"
                )
            projects.update_endpoint(session, endpoint, base_url=url)
        try:
            project = resolve.project_named(session, DEMO_PROJECT)
        except NotFoundError:
            project = projects.create_project(
                session,
                DEMO_PROJECT,
                topic=DEMO_TOPIC,
                description="Offline demo: the teacher is simulated by distillset's fake model",
            )
        models = {project.question_model_id, project.answer_model_id} - {None}
        if models - {endpoint.id}:
            raise ConflictError(
                f"the project {DEMO_PROJECT!r} uses other models; "
                "run the demo with another DISTILLSET_HOME"
            )
        projects.update_project(
            session,
            project,
            question_model=DEMO_ENDPOINT,
            answer_model=DEMO_ENDPOINT,
            max_concurrency=16,
        )


def _export(store: Store, output: Path) -> dict[str, Any]:
    from distillset.export import ExportOptions, export_dataset

    output.mkdir(parents=True, exist_ok=True)
    target = output / "demo.jsonl"
    with store.session() as session:
        project = resolve.project_named(session, DEMO_PROJECT)
        result = export_dataset(session, project, ExportOptions(format="messages", output=target))
    return result.as_dict() | {"path": str(target)}


def _sample(path: Path) -> dict[str, Any] | None:
    with path.open(encoding="utf-8") as handle:
        line = handle.readline()
    return json.loads(line) if line.strip() else None


def run_demo(
    store: Store,
    settings: Settings,
    output: Path,
    *,
    levels: int = 2,
    tags: int = 3,
    questions: int = 2,
    show_progress: bool = True,
    say_line: Callable[[str], None] = say,
) -> dict[str, Any]:
    from distillset.testing import FakeModelServer  # aiohttp's server: only when used

    with FakeModelServer() as server:
        _prepare(store, server.url)
        with store.session() as session:
            job = auto_distill.create_auto_job(
                session,
                settings,
                resolve.project_id(session, DEMO_PROJECT),
                levels=levels,
                tags=tags,
                questions=questions,
            )
        say_line(f"simulated teacher listening on {server.url}")
        say_line(plan_text(job))
        summary = run_task_here(store, settings, job.task_id, show_progress=show_progress)
    if summary["status"] != "succeeded":
        raise DistillsetError(
            f"the demo task ended {summary['status']}: {summary.get('last_error')}"
        )
    exported = _export(store, output)
    return {"task": summary, "export": exported, "sample": _sample(Path(exported["path"]))}


@app.command("demo")
def demo(
    ctx: typer.Context,
    output: Path = typer.Option(Path("demo-output"), "--output", "-o", help="Export folder."),
    levels: int = typer.Option(2, "--levels", help="Levels of tags (1-6)."),
    tags: int = typer.Option(3, "--tags", help="Tags per level (1-100)."),
    questions: int = typer.Option(2, "--questions", help="Questions per leaf (1-100)."),
    as_json: bool = JsonOption,
) -> None:
    """Try distillset offline: auto-distill with a simulated teacher, export JSONL."""
    state = state_of(ctx)
    result = run_demo(
        state.store,
        state.settings,
        output,
        levels=levels,
        tags=tags,
        questions=questions,
        show_progress=not as_json,
        say_line=(lambda _line: None) if as_json else say,
    )
    if as_json:
        print_json(result)
        return
    stages, calls = progress_lines(result["task"]["counters"], stage_names(result["task"]))
    say(f"task {result['task']['id']} {result['task']['status']}: {stages}")
    say(f"  {calls}")
    say(f"exported {result['export']['records']} records to {result['export']['path']}")
    sample = result["sample"]
    if sample is not None:
        say("a sample record (OpenAI messages format):")
        for message in sample.get("messages", []):
            text = " ".join(str(message.get("content", "")).split())
            say(f"  {message.get('role')}: {text[:200]}{'...' if len(text) > 200 else ''}")
    say("")
    say("Note: the teacher was SIMULATED by distillset's built-in fake model (offline, free);")
    say("the data shows the workflow, not real knowledge.")
    say(REAL_ENDPOINT_HELP)

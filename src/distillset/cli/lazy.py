"""Command groups whose commands are imported on first use, so that `distillset --help` or
`distillset project list` does not load the web app, the gateway or the export formats.

A command module registers its commands on a Typer app when imported (see `cli/__init__.py`);
the table below says which module registers which command, and the one-line summary that a
listing shows without importing it (a test checks each summary against the command's help).
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import import_module
from typing import Any, ClassVar

from typer.core import TyperCommand, TyperGroup


@dataclass(frozen=True)
class Lazy:
    module: str  # imported, it registers the command on its group
    summary: str  # first paragraph of the command's help, shown in listings


def _cli(name: str) -> str:
    return f"distillset.cli.{name}"


# Group path (() is the root) -> command name -> where it lives. The root lists its commands
# in this order, the order of the work.
LAZY_COMMANDS: dict[tuple[str, ...], dict[str, Lazy]] = {
    (): {
        "demo": Lazy(
            _cli("demo"),
            "Try distillset offline: auto-distill with a simulated teacher, export JSONL.",
        ),
        "project": Lazy(_cli("projects"), "Projects: create, list, show, change, delete."),
        "model": Lazy(_cli("models"), "Model endpoints: any OpenAI-compatible server."),
        "keys": Lazy(_cli("models"), "API keys (kept in a 0600 file)."),
        "tags": Lazy(_cli("tags"), "The domain tree of a project."),
        "questions": Lazy(_cli("distill"), "Questions of a project."),
        "answers": Lazy(_cli("distill"), "Answers from the teacher."),
        "auto": Lazy(
            _cli("distill"),
            "Automatic distillation: tags, questions and answers in one resumable task. A plan\n"
            "above the bound on calls or cost is confirmed first (--yes: do not ask).",
        ),
        "tasks": Lazy(_cli("tasks"), "Background tasks and their progress."),
        "worker": Lazy(
            _cli("worker"),
            "Run queued tasks (of every project, or of --project ones); several workers may run\n"
            "side by side, and on PostgreSQL they share one job.",
        ),
        "dataset": Lazy(_cli("dataset"), "Review the dataset: list, edit, confirm, score, import."),
        "conversations": Lazy(
            _cli("conversations"),
            "Multi-turn conversations: list, show, confirm, score, note, edit a turn, delete, "
            "judge.",
        ),
        "judge": Lazy(
            _cli("judge"),
            "Score unscored records 0-5 with a judge model (run again to resume or retry).",
        ),
        "report": Lazy(
            _cli("report"),
            "Quality report: counts, coverage, lengths, scores, duplicates, diversity, flags,\n"
            "languages, models and cost.",
        ),
        "export": Lazy(
            _cli("export"), "Export the dataset in the format a fine-tuning tool reads."
        ),
        "usage": Lazy(
            _cli("usage"),
            "Usage and cost: calls, tokens, failures and cost per model, day and task; latency.",
        ),
        "train": Lazy(
            _cli("train"),
            "Fine-tune a student on the records (SFT, or KD on the soft labels); resumable.",
        ),
        "eval": Lazy(
            _cli("evaluate"),
            "Measure students against the teacher on the held-out records, with a judge model.",
        ),
        "prompts": Lazy(
            _cli("prompts"),
            "Prompt templates of a project (kinds: tags, questions, answer, judge, conversation, "
            "follow_up, judge_conversation, difficulty, refine, place).",
        ),
        "serve": Lazy(
            _cli("serve"), "Serve the web app (pages, REST API under /api/v1, OpenAPI at /docs)."
        ),
    },
    ("tags",): {
        "generate": Lazy(
            _cli("distill"),
            "Top a tag's children (or the topic's) up to --count, or create --add more, with the\n"
            "question model.",
        ),
    },
    ("questions",): {
        "edit": Lazy(_cli("questions"), "Change a question's text; its answers stay with it."),
        "delete": Lazy(
            _cli("questions"),
            "Delete questions with their answers, by id or by filter (asks first unless --yes).",
        ),
        "move": Lazy(
            _cli("questions"),
            "Move questions (with their answers) under another tag, by id or by filter.",
        ),
        "export": Lazy(
            _cli("questions"),
            "Export questions alone (id, tag path, question), for a teacher run elsewhere.",
        ),
    },
    ("answers",): {
        "score-tokens": Lazy(
            _cli("score_tokens"),
            "Add soft labels to existing answers: an open-weight teacher scores each answer's\n"
            "tokens (vLLM's prompt_logprobs); a resumable task.",
        ),
    },
    ("dataset",): {
        "import": Lazy(
            _cli("dataset_import"),
            "Import a dataset file (Alpaca, ShareGPT, OpenAI messages, TRL or custom fields).",
        ),
        "refine": Lazy(
            _cli("dataset_refine"),
            "Rewrite records' answers (and reasoning) with the teacher, following one advice.",
        ),
        "history": Lazy(
            _cli("dataset_refine"),
            "The earlier texts of a record, oldest first, with what replaced each.",
        ),
        "restore": Lazy(
            _cli("dataset_refine"),
            "Bring back an earlier text of a record; the current one is kept as a new version.",
        ),
        "duplicates": Lazy(
            _cli("dataset_quality"),
            "Report records whose question or answer repeats an earlier one in the same tag (or, "
            "with\n--semantic, questions that ask the same thing in other words anywhere in the "
            "project).",
        ),
        "flags": Lazy(
            _cli("dataset_quality"),
            "Automatic flags without a model: refusals, wrong language, leaked reasoning, "
            "truncated\nanswers, length outliers in their tag, answers that restate the question.",
        ),
        "decontaminate": Lazy(
            _cli("dataset_quality"),
            "Flag questions that share an n-gram (13 words by default) with benchmark questions.",
        ),
        "select": Lazy(
            _cli("dataset_samples"),
            "Choose one sample of each question that has several: export takes the chosen one.",
        ),
        "rate": Lazy(
            _cli("dataset_samples"),
            "Have the judge rate questions (a resumable task; run again to rate what is left).",
        ),
    },
    ("model",): {
        "test": Lazy(
            _cli("model_probe"),
            "Send one tiny request: latency, structured output support, reasoning, model name.",
        ),
        "available": Lazy(
            _cli("model_probe"),
            "List the models the endpoint's server offers (its /models).",
        ),
    },
}


def load_all() -> None:
    """Import every command module (for tools that walk the whole command tree)."""
    for commands in LAZY_COMMANDS.values():
        for lazy in commands.values():
            import_module(lazy.module)


# `Any` for click's types: Typer vendors its own click (`typer._click`), a private module.
class LazyGroup(TyperGroup):
    """A group that lists the commands of `LAZY_COMMANDS` under its path and imports a
    command's module only when that command runs (or its own help is asked for)."""

    is_root: ClassVar[bool] = False
    _listing = False

    @property
    def path(self) -> tuple[str, ...]:
        return () if self.is_root or self.name is None else (self.name,)

    def _lazy(self) -> dict[str, Lazy]:
        return LAZY_COMMANDS.get(self.path, {})

    def list_commands(self, ctx: Any) -> list[str]:
        loaded = super().list_commands(ctx)
        return loaded + [name for name in self._lazy() if name not in loaded]

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        command = super().get_command(ctx, cmd_name)
        lazy = self._lazy().get(cmd_name)
        if command is not None or lazy is None:
            return command
        if self._listing:
            # A help listing shows only the name and the summary.
            return TyperCommand(cmd_name, help=lazy.summary)
        command = self._load(cmd_name, lazy)
        if command is not None:
            self.commands[cmd_name] = command
        return command

    def _load(self, cmd_name: str, lazy: Lazy) -> Any:
        import typer

        from distillset.cli.app import app

        import_module(lazy.module)
        # Typer builds click commands from its apps, now with the module's registrations.
        command: Any = typer.main.get_command(app)
        for name in (*self.path, cmd_name):
            command = getattr(command, "commands", {}).get(name)
        return command

    def format_help(self, ctx: Any, formatter: Any) -> None:
        self._listing = True
        try:
            super().format_help(ctx, formatter)
        finally:
            self._listing = False

    def resolve_command(self, ctx: Any, args: list[str]) -> tuple[str | None, Any, list[str]]:
        # An unknown name: Typer suggests close names from `self.commands`, so every command
        # stands there (unloaded) while it looks.
        unloaded = [name for name in self._lazy() if name not in self.commands]
        if not args or args[0] in self._lazy():
            return super().resolve_command(ctx, args)
        for name in unloaded:
            self.commands[name] = TyperCommand(name)
        try:
            return super().resolve_command(ctx, args)
        finally:
            for name in unloaded:
                self.commands.pop(name, None)

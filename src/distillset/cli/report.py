"""`distillset report`: the quality report in the terminal, as JSON, or as an HTML file."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from distillset import quality, resolve
from distillset.cli.app import app
from distillset.cli.common import (
    JsonOption,
    ProjectArgument,
    print_fields,
    print_json,
    print_table,
    say,
    state_of,
)
from distillset.cli.dataset import preview
from distillset.domain import InvalidInputError


@app.command("report")
def report_command(
    ctx: typer.Context,
    name: str = ProjectArgument,
    html: Path | None = typer.Option(
        None, "--html", help="Also write the report as one self-contained HTML file (charts)."
    ),
    semantic: bool | None = typer.Option(
        None,
        "--semantic/--no-semantic",
        help="Semantic duplicates and diversity with an embedding model (default: when "
        "--embeddings is given, or the offline model is installed and the project has at most "
        "10,000 questions).",
    ),
    embeddings: str | None = typer.Option(
        None, "--embeddings", help="Endpoint alias serving OpenAI-compatible /embeddings."
    ),
    threshold: float = typer.Option(
        quality.DEFAULT_THRESHOLD,
        "--threshold",
        help="Cosine similarity from which two questions are one (0-1].",
    ),
    few: int = typer.Option(3, "--few", help="A leaf with fewer records than this has 'few'."),
    examples: int = typer.Option(3, "--examples", help="Examples shown per finding."),
    as_json: bool = JsonOption,
) -> None:
    """Quality report: counts, coverage, lengths, scores, duplicates, diversity, flags,
    languages, models and cost."""
    state = state_of(ctx)
    with state.store.session() as session:
        project = resolve.project_named(session, name)
        embedder, problem = quality.report_embedder(
            session, state.settings, semantic, embeddings, quality.question_count(session, project)
        )
        data = quality.build_report(
            session,
            project,
            embedder=embedder,
            threshold=threshold,
            few=few,
            examples=examples,
            embedder_problem=problem,
        )
    if html is not None:
        try:
            html.write_text(quality.render_html(data), encoding="utf-8")
        except OSError as exc:
            raise InvalidInputError(f"cannot write {html}: {exc.strerror or exc}") from None
    if as_json:
        print_json(data)
        return
    show_report(data)
    if html is not None:
        say(f"HTML report written to {html}")


def show_report(data: dict[str, Any]) -> None:
    """The report for a person: a few tables, most telling first."""
    project = data["project"]
    say(f"Quality report: {project['name']} ({project['language']})")
    print_fields(data["stages"])
    cover = data["coverage"]
    say("")
    say(
        f"Coverage: {cover['leaves']} leaf tags, {cover['without_records']} without records, "
        f"{cover['with_few_records']} with fewer than {cover['few']}"
    )
    fewest = sorted(cover["per_leaf"], key=lambda leaf: leaf["records"])[:10]
    print_table(
        ["leaves with the fewest records", "questions", "records"],
        [[leaf["tag_path"], leaf["questions"], leaf["records"]] for leaf in fewest],
    )
    lengths = data["lengths"]
    print_table(
        ["part (approx. tokens)", "records", "mean", "median", "p90", "max"],
        [
            [part, d["count"], d["mean"], d["median"], d["p90"], d["max"]]
            for part, d in lengths.items()
        ],
    )
    scores = data["scores"]
    say(
        "Scores: "
        + ", ".join(
            f"{s:g}: {c}" for s, c in zip(scores["steps"], scores["counts"], strict=True) if c
        )
        + f" (unscored {scores['unscored']})"
    )
    difficulty = dict(data.get("difficulty") or {})
    unrated = difficulty.pop("unrated", 0)
    say(
        "Difficulty: "
        + ", ".join(f"{level}: {count}" for level, count in difficulty.items() if count)
        + f" (unrated {unrated})"
    )
    flags = data["flags"]
    say(f"Flags: {flags['flagged']} of {flags['records']} records")
    print_table(["flag", "records"], list(flags["by_kind"].items()))
    say("Answer languages: " + ", ".join(f"{k} {v}" for k, v in data["languages"].items()))
    _show_duplicates(data["duplicates"])
    _show_diversity(data["diversity"])
    cost = data["cost"]
    print_table(
        ["model", "records", "input tokens", "output tokens"],
        [[m["model"], m["records"], m["input_tokens"], m["output_tokens"]] for m in cost["models"]],
    )
    print_table(
        ["purpose", "calls", "cached input tokens", "cost"],
        [
            [purpose, c["calls"], c.get("cached_input_tokens", 0), c["cost"]]
            for purpose, c in cost["calls"].items()
        ],
    )
    if cost["total_cost"] is None:
        say("Cost: unknown (no prices set on the endpoints)")
    else:
        say(f"Cost: {cost['total_cost']:g} in all, {cost['cost_per_record'] or 0:g} per record")


def _show_duplicates(duplicates: dict[str, Any]) -> None:
    lexical, semantic = duplicates["lexical"], duplicates["semantic"]
    say(f"Lexical duplicates: {lexical['groups']} groups, {lexical['duplicate_records']} records")
    if not semantic["computed"]:
        say(f"Semantic duplicates: not computed ({semantic['reason']})")
        return
    say(
        f"Semantic duplicates ({semantic['model']}, >= {semantic['threshold']:g}): "
        f"{semantic['groups']} groups, {semantic['duplicate_questions']} duplicate questions"
    )
    print_table(
        ["question", "similarity", "tag", "text"],
        [
            [q["id"], q["similarity"], q["tag_path"], preview(q["text"])]
            for group in semantic["examples"]
            for q in group["questions"]
        ],
    )


def _show_diversity(spread: dict[str, Any]) -> None:
    if not spread["computed"]:
        say(f"Diversity: not computed ({spread['reason']})")
        return
    say(
        f"Diversity: mean distance {spread['mean_distance']}, Vendi score {spread['vendi']} "
        f"of {spread['questions']} questions"
    )
    print_table(
        ["most alike tags", "questions", "mean similarity"],
        [[t["tag_path"], t["questions"], t["similarity"]] for t in spread["alike_tags"]],
    )

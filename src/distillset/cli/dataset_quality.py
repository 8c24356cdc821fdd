"""`distillset dataset duplicates|flags|decontaminate`: find what to drop, then label or delete."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from distillset import quality, resolve
from distillset.cli.common import (
    JsonOption,
    ProjectArgument,
    YesOption,
    confirm_unless,
    print_json,
    print_table,
    say,
    state_of,
)
from distillset.cli.dataset import dataset_app, preview
from distillset.cli.record_filters import ConfirmedFilter, TagFilter
from distillset.domain import InvalidInputError
from distillset.review import RecordFilter, find_duplicates

LabelAction = typer.Option(
    None, "--label", help="Put this label on every duplicate (all but the oldest record)."
)
DeleteAction = typer.Option(
    False,
    "--delete",
    help="Delete the duplicates: a repeated question with its answers, a repeated answer alone "
    "(its question is answered again). The oldest of each group stays. Asks first (--yes).",
)
EmbeddingsOption = typer.Option(
    None,
    "--embeddings",
    help="A registered endpoint alias whose model serves OpenAI-compatible /embeddings "
    "(default: the offline all-MiniLM-L6-v2 model of the quality extra).",
)


def _apply(
    ctx: typer.Context,
    name: str,
    cleanup: quality.Cleanup,
    label: str | None,
    delete: bool,
    yes: bool,
) -> dict[str, Any]:
    """Label, or delete after asking (unless --yes)."""
    if delete and (cleanup.questions or cleanup.records):
        confirm_unless(
            yes,
            f"Delete {len(cleanup.questions)} questions (with their answers) and "
            f"{len(cleanup.records)} more records?",
        )
    with state_of(ctx).store.session() as session:
        project = resolve.project_named(session, name)
        return quality.apply_cleanup(session, project, cleanup, label=label, delete=delete)


def _say_outcome(outcome: dict[str, Any], label: str | None) -> None:
    if "labelled" in outcome:
        say(f"labelled {outcome['labelled']} records {label!r}")
    elif outcome:
        say(
            f"deleted {outcome['questions_deleted']} questions and "
            f"{outcome['records_deleted']} records"
        )


@dataset_app.command("duplicates")
def dataset_duplicates(
    ctx: typer.Context,
    name: str = ProjectArgument,
    tag: str | None = TagFilter,
    confirmed: bool | None = ConfirmedFilter,
    across_tags: bool = typer.Option(
        False, "--across-tags", help="Compare records of different tags too (lexical)."
    ),
    semantic: bool = typer.Option(
        False,
        "--semantic",
        help="Compare questions by meaning across the whole project (or --tag), with an "
        "embedding model.",
    ),
    threshold: float | None = typer.Option(
        None,
        "--threshold",
        help="Cosine similarity from which two questions are one (0-1], 0.885 by default; near "
        "misses (different numbers, a negation, a detail swapped) are kept apart.",
    ),
    embeddings: str | None = EmbeddingsOption,
    label: str | None = LabelAction,
    delete: bool = DeleteAction,
    yes: bool = YesOption,
    as_json: bool = JsonOption,
) -> None:
    """Report records whose question or answer repeats an earlier one in the same tag (or, with
    --semantic, questions that ask the same thing in other words anywhere in the project)."""
    quality.check_action(label, delete)
    if semantic:
        _semantic(ctx, name, tag, confirmed, threshold, embeddings, label, delete, yes, as_json)
        return
    if threshold is not None or embeddings is not None:
        raise InvalidInputError("--threshold and --embeddings apply to --semantic")
    with state_of(ctx).store.session() as session:
        project = resolve.project_named(session, name)
        flt = RecordFilter(tag_id=resolve.tag_id(session, project, tag), confirmed=confirmed)
        groups = find_duplicates(session, project, flt, across_tags=across_tags)
        cleanup = quality.lexical_cleanup(session, groups)
    outcome = _apply(ctx, name, cleanup, label, delete, yes)
    if as_json:
        print_json({"groups": [group.as_dict() for group in groups], **_legacy(outcome)})
        return
    print_table(
        ["part", "tag", "keep", "duplicates", "exact", "text"],
        [
            [
                group.part,
                group.tag_path,
                group.record_ids[0],
                ",".join(map(str, group.record_ids[1:])),
                "yes" if group.exact else "near",
                preview(group.text),
            ]
            for group in groups
        ],
    )
    _say_outcome(outcome, label)


def _legacy(outcome: dict[str, Any]) -> dict[str, Any]:
    # Scripts read "labelled" (0 when nothing was labelled), as before deletion existed.
    return {"labelled": 0, **outcome}


def _semantic(
    ctx: typer.Context,
    name: str,
    tag: str | None,
    confirmed: bool | None,
    threshold: float | None,
    embeddings: str | None,
    label: str | None,
    delete: bool,
    yes: bool,
    as_json: bool,
) -> None:
    if confirmed is not None:
        raise InvalidInputError(
            "--confirmed does not apply to --semantic: it compares questions, answered or not"
        )
    limit = quality.checked_threshold(quality.DEFAULT_THRESHOLD if threshold is None else threshold)
    state = state_of(ctx)
    with state.store.session() as session:
        project = resolve.project_named(session, name)
        embedder = quality.open_embedder(session, state.settings, embeddings)
        groups = quality.find_semantic_duplicates(
            session,
            project,
            embedder,
            threshold=limit,
            tag_id=resolve.tag_id(session, project, tag),
        )
    cleanup = quality.semantic_cleanup(groups)
    outcome = _apply(ctx, name, cleanup, label, delete, yes)
    if as_json:
        data = {"model": embedder.name, "threshold": limit}
        print_json({**data, "groups": [group.as_dict() for group in groups], **_legacy(outcome)})
        return
    print_table(
        ["keep", "duplicate", "similarity", "tag", "question"],
        [
            [group.question_ids[0], qid, f"{sim:.3f}", path, preview(text)]
            for group in groups
            for qid, sim, path, text in zip(
                group.question_ids[1:],
                group.similarities[1:],
                group.tag_paths[1:],
                group.texts[1:],
                strict=True,
            )
        ],
    )
    duplicates = len(cleanup.questions)
    say(f"{len(groups)} groups, {duplicates} duplicate questions (threshold {limit:g})")
    _say_outcome(outcome, label)


@dataset_app.command("flags")
def dataset_flags(
    ctx: typer.Context,
    name: str = ProjectArgument,
    tag: str | None = TagFilter,
    flag: str | None = typer.Option(
        None, "--flag", help=f"Label only records with this flag ({', '.join(quality.FLAG_KINDS)})."
    ),
    label: str | None = typer.Option(None, "--label", help="Put this label on flagged records."),
    examples: int = typer.Option(3, "--examples", help="Examples shown per flag."),
    as_json: bool = JsonOption,
) -> None:
    """Automatic flags without a model: refusals, wrong language, leaked reasoning, truncated
    answers, length outliers in their tag, answers that restate the question."""
    if flag is not None:
        quality.checked_kind(flag)
    if examples < 0:
        raise InvalidInputError("--examples must be 0 or more")
    flagged: set[int] = set()
    summary = quality.FlagSummary()
    with state_of(ctx).store.session() as session:
        project = resolve.project_named(session, name)
        for record, flags, language in quality.flagged_records(
            session, project, RecordFilter(tag_id=resolve.tag_id(session, project, tag))
        ):
            summary.add(record, flags, language, examples)
            if any(flag is None or found.kind == flag for found in flags):
                flagged.add(record.id)
        labelled = None
        if label:
            cleanup = quality.Cleanup(to_label=flagged)
            labelled = quality.apply_cleanup(session, project, cleanup, label=label)["labelled"]
    data = summary.as_dict()
    if labelled is not None:
        data["labelled"] = labelled
    if as_json:
        print_json(data)
        return
    print_table(["flag", "records", "example"], _flag_rows(data))
    say(f"{data['flagged']} of {data['records']} records flagged")
    if labelled is not None:
        say(f"labelled {labelled} records {label!r}")


def _flag_rows(data: dict[str, Any]) -> list[list[Any]]:
    rows = []
    for kind, count in data["by_kind"].items():
        shown = data["examples"].get(kind) or [{}]
        example = shown[0]
        text = f"#{example['record']} {example['detail']}" if example else ""
        rows.append([kind, count, preview(text, 70)])
    return rows


@dataset_app.command("decontaminate")
def dataset_decontaminate(
    ctx: typer.Context,
    name: str = ProjectArgument,
    against: list[Path] = typer.Option(
        ..., "--against", help="Benchmark questions: a .jsonl, .csv or .parquet file (repeatable)."
    ),
    ngram: int = typer.Option(
        quality.DEFAULT_NGRAM,
        "--ngram",
        help=f"Words in a shared run that flags a question ({quality.MIN_NGRAM}-"
        f"{quality.MAX_NGRAM}).",
    ),
    column: str | None = typer.Option(
        None, "--field", help="The question field of the files (default: the usual names)."
    ),
    label: str | None = typer.Option(None, "--label", help="Put this label on their records."),
    remove: bool = typer.Option(
        False, "--remove", help="Delete the flagged questions with their records (asks first)."
    ),
    yes: bool = YesOption,
    as_json: bool = JsonOption,
) -> None:
    """Flag questions that share an n-gram (13 words by default) with benchmark questions."""
    quality.check_action(label, remove)
    benchmark: list[Any] = []
    for path in against:
        benchmark += quality.read_benchmark(path, column)
    index = quality.BenchmarkIndex(benchmark, ngram)
    with state_of(ctx).store.session() as session:
        found = quality.find_contaminated(session, resolve.project_named(session, name), index)
    outcome = _apply(ctx, name, quality.contamination_cleanup(found), label, remove, yes)
    if as_json:
        print_json(
            {"ngram": ngram, "benchmark_questions": len(benchmark)}
            | {"contaminated": [item.as_dict() for item in found], **outcome}
        )
        return
    print_table(
        ["question", "tag", "text", "benchmark", "overlap"],
        [
            [
                item.question_id,
                item.tag_path,
                preview(item.question),
                item.source,
                preview(item.overlap),
            ]
            for item in found
        ],
    )
    say(f"{len(found)} of the project's questions overlap {len(benchmark)} benchmark questions")
    _say_outcome(outcome, label)

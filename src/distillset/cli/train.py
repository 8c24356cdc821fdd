"""`distillset train NAME --student MODEL --output DIR [options] [filters]`: fine-tune a
student on the records (SFT or KD), as a resumable task."""

from __future__ import annotations

from pathlib import Path

import typer

from distillset import resolve
from distillset.cli.app import app
from distillset.cli.common import JsonOption, ProjectArgument, state_of
from distillset.cli.record_filters import OUTGOING_FILTERS, FilterOptions, filter_options
from distillset.cli.task_progress import report_outcome, run_task_here
from distillset.train import TrainOptions, create_train_task


@app.command("train")
@filter_options(*OUTGOING_FILTERS)
def train_command(
    ctx: typer.Context,
    name: str = ProjectArgument,
    student: str = typer.Option(
        ..., "--student", help="The student: a local directory or a Hugging Face model id."
    ),
    output: Path = typer.Option(
        ..., "--output", "-o", help="Directory for the trained model (new or empty)."
    ),
    method: str = typer.Option(
        "sft", "--method", help="sft (the answers) or kd (the teacher's soft labels too)."
    ),
    alpha: float = typer.Option(
        0.5, "--alpha", help="KD: the weight of the soft-label loss (1 - alpha: the answers)."
    ),
    temperature: float = typer.Option(2.0, "--temperature", help="KD: the temperature T."),
    kd_tail: str = typer.Option(
        "bucket",
        "--kd-tail",
        help="KD: the teacher's mass outside its top K as one bucket, or renormalize.",
    ),
    lora_r: int = typer.Option(16, "--lora-r", help="LoRA rank (merged into the weights)."),
    full: bool = typer.Option(False, "--full", help="Full fine-tuning instead of LoRA."),
    max_steps: int = typer.Option(-1, "--max-steps", help="Stop after this many steps."),
    epochs: float = typer.Option(1.0, "--epochs", help="Passes over the records."),
    lr: float = typer.Option(2e-4, "--lr", help="Learning rate."),
    max_length: int = typer.Option(2048, "--max-length", help="Tokens per sequence at most."),
    batch_size: int = typer.Option(4, "--batch-size", help="Sequences per device and step."),
    gradient_accumulation: int = typer.Option(
        1, "--gradient-accumulation", help="Batches per optimizer step."
    ),
    reasoning: str = typer.Option(
        "inline",
        "--reasoning",
        help="SFT: the teacher's reasoning inline in the answer between <think> delimiters "
        "(the student's chat template may rewrite it; warned when it drops it), in the "
        "assistant's reasoning_content field (refused when the template ignores it), or "
        "drop. KD always distils the answers.",
    ),
    eval_split: float = typer.Option(
        0.05, "--eval-split", help="Fraction of each tag held out for the eval loss (0: none)."
    ),
    seed: int = typer.Option(42, "--seed", help="Seed of the held-out split and the trainer."),
    logging_steps: int = typer.Option(10, "--logging-steps", help="Steps between losses."),
    save_steps: int = typer.Option(100, "--save-steps", help="Steps between checkpoints."),
    filters: FilterOptions = FilterOptions(),
    balanced: int | None = typer.Option(None, "--balanced", help="At most K records per leaf tag."),
    no_progress: bool = typer.Option(False, "--no-progress", help="No progress output."),
    as_json: bool = JsonOption,
) -> None:
    """Fine-tune a student on the records (SFT, or KD on the soft labels); resumable.

    The records are the export's (same filters, same held-out split). Stop with Ctrl-C and
    continue with `distillset tasks resume ID`, from the last checkpoint.
    """
    state = state_of(ctx)
    with state.store.session() as session:
        project = resolve.project_named(session, name)
        options = TrainOptions(
            student=student,
            output=str(output),
            method=method,
            alpha=alpha,
            temperature=temperature,
            tail=kd_tail,
            lora_r=0 if full else lora_r,
            max_steps=max_steps,
            epochs=epochs,
            learning_rate=lr,
            max_length=max_length,
            batch_size=batch_size,
            gradient_accumulation=gradient_accumulation,
            reasoning=reasoning,
            eval_fraction=eval_split,
            seed=seed,
            logging_steps=logging_steps,
            save_steps=save_steps,
            record_filter=filters.record_filter(session, project),
            balanced=balanced,
        )
        task_id = create_train_task(session, project, options).id
    summary = run_task_here(
        state.store, state.settings, task_id, show_progress=not no_progress and not as_json
    )
    report_outcome(summary, as_json)

"""The model card written beside a trained student's weights (README.md)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from distillset.train.options import TrainOptions


def model_card(project: str, options: TrainOptions, figures: dict[str, Any]) -> str:
    """Markdown with a Hugging Face metadata header: what was trained, on what, how."""
    kd = options.method == "kd"
    filters = options.record_filter.as_dict()
    if options.balanced:
        filters["balanced"] = options.balanced
    rows: list[tuple[str, Any]] = [
        ("dataset", f"distillset project {project!r}"),
        ("filters", ", ".join(f"{k}={v}" for k, v in sorted(filters.items())) or "none"),
        ("records (train / held out)", f"{figures['train_records']} / {figures['eval_records']}"),
        ("method", "knowledge distillation (KD)" if kd else "supervised fine-tuning (SFT)"),
    ]
    if kd:
        rows += [
            ("alpha", options.alpha),
            ("temperature", options.temperature),
            ("mass outside the top K", options.tail),
            ("records with usable soft labels", figures.get("soft_records")),
            ("records on hard labels only", figures.get("hard_only")),
        ]
    rows += [
        ("reasoning", "dropped (KD distils answers)" if kd else options.reasoning),
        ("adapter", f"LoRA r={options.lora_r} (merged)" if options.lora_r else "full fine-tuning"),
        ("steps", figures.get("steps")),
        ("epochs", options.epochs if options.max_steps < 0 else "-"),
        ("learning rate", options.learning_rate),
        ("max length", options.max_length),
        ("batch size", f"{options.batch_size} x {options.gradient_accumulation}"),
        ("final train loss", _number(figures.get("loss"))),
        ("eval loss", _number(figures.get("eval_loss"))),
    ]
    table = "\n".join(f"| {name} | {value} |" for name, value in rows)
    losses = figures.get("losses") or []
    curve = ", ".join(f"{step}: {loss:.4f}" for step, loss in losses[-20:]) or "-"
    return (
        "---\n"
        f"base_model: {options.student}\n"
        "library_name: transformers\n"
        "tags: [distillset, " + ("knowledge-distillation" if kd else "sft") + "]\n"
        "---\n\n"
        f"# {Path(options.output).name}\n\n"
        f"`{options.student}` fine-tuned by distillset on the records of the project "
        f"{project!r}.\n\n| | |\n| --- | --- |\n{table}\n\n"
        f"Training loss by step: {curve}\n"
    )


def _number(value: Any) -> str:
    return "-" if value is None else f"{float(value):.4f}"


def write_model_card(path: Path, text: str) -> None:
    (path / "README.md").write_text(text, encoding="utf-8")

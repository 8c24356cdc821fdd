"""The training loop: TRL's SFTTrainer for SFT, a Trainer subclass with the KD loss for KD.

Runs in a worker thread (the task's event loop keeps its heartbeat); a ``Monitor`` carries
the progress out (steps, loss, eval loss, tokens/s) and the stop request in. Checkpoints go to
``OUTPUT/checkpoints`` every ``save_steps`` and when stopped, so a resumed task continues
from the last one. The finished model (LoRA merged in) and its tokenizer go to ``OUTPUT``.
Imports torch, transformers, trl and peft: loaded only when a run starts.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from transformers import (
    AutoModelForCausalLM,
    AutoTokenizer,
    Trainer,
    TrainerCallback,
    TrainingArguments,
)
from transformers.trainer_utils import get_last_checkpoint

from distillset.domain import InvalidInputError
from distillset.train.examples import IGNORE, Example
from distillset.train.kd_loss import kd_loss
from distillset.train.options import TrainOptions
from distillset.train.records import Record

CHECKPOINTS = "checkpoints"


@dataclass
class Monitor:
    """What the training thread reports, and the flag that asks it to stop."""

    max_steps: int = 0
    step: int = 0
    loss: float | None = None
    eval_loss: float | None = None
    tokens: int = 0
    tokens_per_second: float | None = None
    # Seconds this run spent in the training loop (from its first step to its last).
    train_seconds: float | None = None
    losses: list[tuple[int, float]] = field(default_factory=list)
    stop: threading.Event = field(default_factory=threading.Event)
    # Lines to show as task events (appended by the thread, taken by the task).
    notes: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "step": self.step,
            "max_steps": self.max_steps,
            "loss": self.loss,
            "eval_loss": self.eval_loss,
            "tokens": self.tokens,
            "tokens_per_second": self.tokens_per_second,
            "train_seconds": self.train_seconds,
        }


class _Progress(TrainerCallback):
    """Steps, losses and the throughput of the last logging window into the monitor; the
    monitor's stop flag into the trainer (with a checkpoint to resume from)."""

    def __init__(self, monitor: Monitor) -> None:
        self.monitor = monitor
        self._started = time.perf_counter()
        self._window = (self._started, 0)
        self._trained = 0  # tokens this run trained on (a resume counts its own)

    def on_train_begin(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        self.monitor.max_steps = state.max_steps
        self.monitor.step = state.global_step
        self._started = time.perf_counter()
        self._window = (self._started, 0)
        self._trained = 0

    def on_train_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        seconds = self.monitor.train_seconds = time.perf_counter() - self._started
        if self._trained and seconds > 0:  # the run's own rate, over all its steps
            self.monitor.tokens_per_second = self._trained / seconds

    def on_step_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        self.monitor.step = state.global_step
        if self.monitor.stop.is_set():
            control.should_training_stop = True
            control.should_save = True  # a resume continues from here

    def on_log(self, args: Any, state: Any, control: Any, logs: Any = None, **kwargs: Any) -> None:
        logs = logs or {}
        monitor = self.monitor
        if "loss" in logs:
            monitor.loss = float(logs["loss"])
            monitor.losses.append((state.global_step, monitor.loss))
        if "eval_loss" in logs:
            monitor.eval_loss = float(logs["eval_loss"])
        if "num_tokens" in logs:  # train logs only (eval ones say eval_num_tokens)
            tokens, now = int(logs["num_tokens"]), time.perf_counter()
            since, before = self._window
            before = before if tokens >= before else 0  # a counter restarted by a resume
            if tokens > before and now > since:
                monitor.tokens_per_second = (tokens - before) / (now - since)
                self._trained += tokens - before
                self._window = (now, tokens)
            monitor.tokens = tokens


class ExampleDataset(torch.utils.data.Dataset[Example]):
    def __init__(self, examples: list[Example]) -> None:
        self.examples = examples

    def __len__(self) -> int:
        return len(self.examples)

    def __getitem__(self, index: int) -> Example:
        return self.examples[index]


class KDCollator:
    """Pads a batch: ids with the pad token, labels with −100, absent soft labels −inf."""

    def __init__(self, pad_id: int) -> None:
        self.pad_id = pad_id

    def __call__(self, batch: list[Example]) -> dict[str, torch.Tensor]:
        length = max(len(example.input_ids) for example in batch)
        k = max((e.top_ids.shape[1] for e in batch if e.top_ids is not None), default=1)
        size = (len(batch), length)
        input_ids = torch.full(size, self.pad_id, dtype=torch.long)
        labels = torch.full(size, IGNORE, dtype=torch.long)
        attention = torch.zeros(size, dtype=torch.long)
        top_ids = torch.zeros((*size, k), dtype=torch.long)
        top_logprobs = torch.full((*size, k), float("-inf"))
        for row, example in enumerate(batch):
            n = len(example.input_ids)
            input_ids[row, :n] = torch.tensor(example.input_ids)
            labels[row, :n] = torch.tensor(example.labels)
            attention[row, :n] = 1
            if example.top_ids is not None and example.top_logprobs is not None:
                width = example.top_ids.shape[1]
                top_ids[row, :n, :width] = torch.from_numpy(example.top_ids)
                top_logprobs[row, :n, :width] = torch.from_numpy(example.top_logprobs)
        return {
            "input_ids": input_ids,
            "attention_mask": attention,
            "labels": labels,
            "top_ids": top_ids,
            "top_logprobs": top_logprobs,
        }


class KDTrainer(Trainer):
    """A Trainer whose loss is kd_loss on the batch's soft labels (docs/soft-labels.md)."""

    loss_is_scaled_for_ga = False  # a per-batch mean: the Trainer divides by accumulation

    def __init__(self, *args: Any, alpha: float, temperature: float, tail: str, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.alpha, self.temperature, self.tail = alpha, temperature, tail
        self.tokens_seen = 0

    def compute_loss(
        self,
        model: Any,
        inputs: dict[str, Any],
        return_outputs: bool = False,
        num_items_in_batch: Any = None,
    ) -> Any:
        labels = inputs.pop("labels")
        top_ids, top_logprobs = inputs.pop("top_ids"), inputs.pop("top_logprobs")
        outputs = model(input_ids=inputs["input_ids"], attention_mask=inputs["attention_mask"])
        if model.training:
            self.tokens_seen += int(inputs["attention_mask"].sum())
        vocab = outputs.logits.shape[-1]
        parts = kd_loss(
            outputs.logits[:, :-1].reshape(-1, vocab),
            labels[:, 1:].reshape(-1),
            top_ids[:, 1:].reshape(-1, top_ids.shape[-1]),
            top_logprobs[:, 1:].reshape(-1, top_logprobs.shape[-1]),
            alpha=self.alpha,
            temperature=self.temperature,
            tail=self.tail,
        )
        return (parts.loss, outputs) if return_outputs else parts.loss

    def log(self, logs: dict[str, float], start_time: float | None = None) -> None:
        if not any(key.startswith("eval_") for key in logs):
            logs["num_tokens"] = self.tokens_seen
        super().log(logs, start_time)


def load_tokenizer(student: str) -> Any:
    """The student's tokenizer; one line when it cannot be loaded."""
    try:
        tokenizer = AutoTokenizer.from_pretrained(student)
    except Exception as exc:  # any loader failure: a missing dir, a bad repo id, no network
        raise _unloadable(student, exc) from None
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    if not tokenizer.chat_template:
        raise InvalidInputError(f"the student {student!r} has no chat template")
    return tokenizer


def check_student(student: str) -> None:
    """Whether the student's config can be read (its weights load at training time)."""
    from transformers import AutoConfig

    try:
        AutoConfig.from_pretrained(student)
    except Exception as exc:
        raise _unloadable(student, exc) from None


def _unloadable(student: str, exc: Exception) -> InvalidInputError:
    lines = str(exc).strip().splitlines()
    return InvalidInputError(
        f"cannot load the student {student!r}: {lines[0] if lines else type(exc).__name__}"
    )


def training_template(tokenizer: Any) -> str | None:
    """The chat template the trainer renders with: the student's own when it marks the
    assistant's turn ({% generation %}), else TRL's marked version of it (None: the own).
    Refuses a template neither marks: the loss could not be limited to the answer."""
    from trl.chat_template_utils import get_training_chat_template, has_generation_markers

    if has_generation_markers(tokenizer.chat_template):
        return None
    try:
        template = get_training_chat_template(tokenizer)
    except Exception:  # TRL raises for a template it has no training version of
        template = None
    if template is None:
        raise InvalidInputError(
            "the student's chat template does not mark the assistant's turn "
            "({% generation %}) and TRL has no marked version of it: add the markers to its "
            "chat_template.jinja"
        )
    return str(template)


def writes_reasoning(tokenizer: Any, mode: str) -> bool:
    """Whether the template the trainer renders with writes a final assistant turn's
    reasoning given as ``mode`` says (inline in the content, or the reasoning_content field):
    a probe conversation is rendered and its reasoning looked for."""
    marker = "distillset-reasoning-probe"
    probe = Record(0, "", "q", "a", marker, None)
    text = tokenizer.apply_chat_template(
        probe.messages(reasoning=mode), tokenize=False, chat_template=training_template(tokenizer)
    )
    return marker in text


def check_reasoning_field(tokenizer: Any, student: str) -> None:
    """Refuse --reasoning field for a student whose template ignores reasoning_content,
    saying what it does with reasoning instead."""
    if writes_reasoning(tokenizer, "field"):
        return
    if writes_reasoning(tokenizer, "inline"):
        instead = "it writes reasoning only inside the answer: use --reasoning inline"
    else:
        instead = (
            "it leaves a final assistant turn's reasoning out either way: use --reasoning drop"
        )
    raise InvalidInputError(
        f"--reasoning field: the chat template of {student!r} ignores the assistant's "
        f"reasoning_content ({instead})"
    )


def _arguments(options: TrainOptions, output: Path, has_eval: bool, **extra: Any) -> dict[str, Any]:
    bf16 = torch.cuda.is_available() and torch.cuda.is_bf16_supported()
    return {
        "output_dir": str(output / CHECKPOINTS),
        "per_device_train_batch_size": options.batch_size,
        "per_device_eval_batch_size": options.batch_size,
        "gradient_accumulation_steps": options.gradient_accumulation,
        "learning_rate": options.learning_rate,
        "num_train_epochs": options.epochs,
        "max_steps": options.max_steps,
        "logging_steps": options.logging_steps,
        "save_steps": options.save_steps,
        "save_total_limit": 2,
        "eval_strategy": "steps" if has_eval else "no",
        "eval_steps": options.logging_steps,
        "seed": options.seed,
        "bf16": bf16,
        "report_to": [],
        "disable_tqdm": True,
        "dataloader_num_workers": 0,
        **extra,
    }


def _lora(options: TrainOptions) -> Any:
    if options.lora_r == 0:
        return None
    from peft import LoraConfig

    return LoraConfig(
        r=options.lora_r,
        lora_alpha=2 * options.lora_r,
        lora_dropout=0.0,
        target_modules="all-linear",
        task_type="CAUSAL_LM",
    )


def _load_model(student: str) -> Any:
    dtype = torch.bfloat16 if torch.cuda.is_available() else torch.float32
    try:
        return AutoModelForCausalLM.from_pretrained(student, dtype=dtype)
    except Exception as exc:
        raise _unloadable(student, exc) from None


def sft_trainer(
    options: TrainOptions, tokenizer: Any, train: list[Record], held_out: list[Record]
) -> Any:
    """TRL's SFTTrainer on the records' conversations, loss on the assistant's turn."""
    from datasets import Dataset
    from trl import SFTConfig, SFTTrainer

    def rows(records: list[Record]) -> Any:
        return Dataset.from_list(
            [{"messages": r.messages(reasoning=options.reasoning)} for r in records]
        )

    config = SFTConfig(
        **_arguments(options, Path(options.output), bool(held_out)),
        assistant_only_loss=True,
        max_length=options.max_length,
    )
    return SFTTrainer(
        model=_load_model(options.student),
        args=config,
        train_dataset=rows(train),
        eval_dataset=rows(held_out) if held_out else None,
        processing_class=tokenizer,
        peft_config=_lora(options),
    )


def kd_trainer(
    options: TrainOptions, tokenizer: Any, train: list[Example], held_out: list[Example]
) -> KDTrainer:
    model = _load_model(options.student)
    lora = _lora(options)
    if lora is not None:
        from peft import get_peft_model

        model = get_peft_model(model, lora)
    args = TrainingArguments(
        **_arguments(
            options,
            Path(options.output),
            bool(held_out),
            remove_unused_columns=False,
            prediction_loss_only=True,
            # As TRL's SFT does by default: activations recomputed in the backward pass.
            activation_checkpointing=True,
        )
    )
    return KDTrainer(
        model=model,
        args=args,
        train_dataset=ExampleDataset(train),
        eval_dataset=ExampleDataset(held_out) if held_out else None,
        data_collator=KDCollator(tokenizer.pad_token_id),
        processing_class=tokenizer,
        alpha=options.alpha,
        temperature=options.temperature,
        tail=options.tail,
    )


def train_and_save(trainer: Any, options: TrainOptions, tokenizer: Any, monitor: Monitor) -> bool:
    """Train (from the last checkpoint, if any) and save the model; False when stopped."""
    from transformers.trainer_callback import PrinterCallback, ProgressCallback

    # The task reports progress; the trainer's own printing would garble --json output.
    trainer.remove_callback(PrinterCallback)
    trainer.remove_callback(ProgressCallback)
    trainer.add_callback(_Progress(monitor))
    output = Path(options.output)
    checkpoints = output / CHECKPOINTS
    last = get_last_checkpoint(str(checkpoints)) if checkpoints.is_dir() else None
    if last is not None:
        monitor.notes.append(f"resuming from {Path(last).name}")
    trainer.train(resume_from_checkpoint=last)
    if monitor.stop.is_set():
        return False
    if trainer.eval_dataset is not None:
        monitor.eval_loss = float(trainer.evaluate()["eval_loss"])
    model = trainer.model
    if hasattr(model, "merge_and_unload"):
        model = model.merge_and_unload()
    model.save_pretrained(output)
    tokenizer.save_pretrained(output)
    return True

"""What a training run is asked to do, checked before anything is read or written."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

from distillset.domain import InvalidInputError
from distillset.review.filters import RecordFilter

METHODS = ("sft", "kd")
REASONING_MODES = ("inline", "field", "drop")  # Record.messages
TAILS = ("bucket", "renormalize")  # kd_loss.TAILS, without importing torch here


@dataclass(frozen=True)
class TrainOptions:
    """`distillset train` options; ``as_params`` is what the task row keeps (resume)."""

    student: str
    output: str
    method: str = "sft"
    alpha: float = 0.5
    temperature: float = 2.0
    tail: str = "bucket"
    lora_r: int = 16  # 0: full fine-tuning
    max_steps: int = -1  # -1: --epochs decide
    epochs: float = 1.0
    learning_rate: float = 2e-4
    max_length: int = 2048
    batch_size: int = 4
    gradient_accumulation: int = 1
    reasoning: str = "inline"
    eval_fraction: float = 0.05
    seed: int = 42
    logging_steps: int = 10
    save_steps: int = 100
    record_filter: RecordFilter = field(default_factory=RecordFilter)
    balanced: int | None = None

    def check(self) -> None:
        """Refuse a bad value with one line; called before anything else."""
        if self.method not in METHODS:
            raise InvalidInputError(f"--method is one of {', '.join(METHODS)}, not {self.method!r}")
        if not 0 <= self.alpha <= 1:
            raise InvalidInputError(f"--alpha is between 0 and 1, not {self.alpha}")
        if not (self.temperature > 0 and math.isfinite(self.temperature)):
            raise InvalidInputError(f"--temperature must be above 0, not {self.temperature}")
        if self.tail not in TAILS:
            raise InvalidInputError(f"--kd-tail is one of {', '.join(TAILS)}, not {self.tail!r}")
        if self.reasoning not in REASONING_MODES:
            raise InvalidInputError(
                f"--reasoning is one of {', '.join(REASONING_MODES)}, not {self.reasoning!r}"
            )
        positive = {
            "--max-length": self.max_length,
            "--batch-size": self.batch_size,
            "--gradient-accumulation": self.gradient_accumulation,
            "--logging-steps": self.logging_steps,
            "--save-steps": self.save_steps,
        }
        for name, value in positive.items():
            if value < 1:
                raise InvalidInputError(f"{name} must be at least 1, not {value}")
        if self.lora_r < 0:
            raise InvalidInputError(
                f"--lora-r must be 0 (full fine-tuning) or more, not {self.lora_r}"
            )
        if self.max_steps == 0 or self.max_steps < -1:
            raise InvalidInputError(f"--max-steps must be at least 1, not {self.max_steps}")
        if not self.epochs > 0:
            raise InvalidInputError(f"--epochs must be above 0, not {self.epochs}")
        if not self.learning_rate > 0:
            raise InvalidInputError(f"--lr must be above 0, not {self.learning_rate}")
        if not 0 <= self.eval_fraction < 1:
            raise InvalidInputError(
                f"--eval-split is a fraction in [0, 1), not {self.eval_fraction}"
            )

    def as_params(self) -> dict[str, Any]:
        data = asdict(self)
        data["record_filter"] = self.record_filter.as_dict()
        return data

    @classmethod
    def from_params(cls, params: dict[str, Any]) -> TrainOptions:
        data = dict(params)
        data["record_filter"] = RecordFilter.from_dict(data.get("record_filter") or {})
        known = set(cls.__dataclass_fields__)
        return cls(**{key: value for key, value in data.items() if key in known})

"""Training speed of `distillset train` on the tiny local student (no download), in one run:

1. tokens/s of `distillset train --method sft` as a ratio to a bare TRL `SFTTrainer` script on
   the same records (the export's `messages`) and settings (target: 0.9 or more);
2. the step time of `--method kd` with the teacher's top 20 as a ratio to SFT's (target: 1.3
   or less).

The teacher is the fake server, answering with soft labels in the tiny student's vocabulary.
Each round runs the three (bare SFT, distillset SFT, distillset KD) one after the other, so a
busy moment of a shared machine hits a round's runs alike; the ratios are taken per round and
their medians reported. Times are the training loops' own (first step to last):
loading the model and reading the records are the same work on both sides and left out.

    .venv/bin/python bench/train.py [--steps 30] [--rounds 3] [--threads 1]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import torch

from distillset.api import Project, add_endpoint
from distillset.config import load_settings
from distillset.testing import FakeConfig, FakeModelServer
from distillset.testing.tiny_student import build_tiny_student

K = 20


def _settings(steps: int) -> dict[str, Any]:
    """What both sides are given: LoRA r 16, batch 8, 512 tokens, no held-out loss."""
    return {
        "max_steps": steps,
        "batch_size": 8,
        "max_length": 512,
        "learning_rate": 1e-3,
        "lora_r": 16,
        "logging_steps": steps,
        "save_steps": 10 * steps,
        "eval_fraction": 0.0,
        "reasoning": "drop",
    }


class _LoopClock:
    """The training loop's time, measured as distillset's monitor measures it."""

    seconds = 0.0

    def __getattr__(self, name: str) -> Any:
        if name.startswith("on_"):
            return lambda *args, **kwargs: None
        raise AttributeError(name)

    def on_train_begin(self, *args: Any, **kwargs: Any) -> None:
        self._started = time.perf_counter()

    def on_train_end(self, *args: Any, **kwargs: Any) -> None:
        self.seconds = time.perf_counter() - self._started


def bare_trl(student: Path, data: Path, output: Path, steps: int) -> tuple[int, float]:
    """The script a user would write: TRL's SFTTrainer on the exported messages."""
    from datasets import Dataset
    from peft import LoraConfig
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from trl import SFTConfig, SFTTrainer

    settings = _settings(steps)
    tokenizer = AutoTokenizer.from_pretrained(student)
    trainer = SFTTrainer(
        model=AutoModelForCausalLM.from_pretrained(student),
        args=SFTConfig(
            output_dir=str(output),
            max_steps=steps,
            per_device_train_batch_size=settings["batch_size"],
            learning_rate=settings["learning_rate"],
            max_length=settings["max_length"],
            logging_steps=steps,
            save_steps=10 * steps,
            assistant_only_loss=True,
            report_to=[],
            disable_tqdm=True,
            bf16=torch.cuda.is_available() and torch.cuda.is_bf16_supported(),
        ),
        train_dataset=Dataset.from_parquet(str(data)),
        processing_class=tokenizer,
        peft_config=LoraConfig(
            r=16,
            lora_alpha=32,
            lora_dropout=0.0,
            target_modules="all-linear",
            task_type="CAUSAL_LM",
        ),  # fmt: skip
    )
    clock = _LoopClock()
    trainer.add_callback(clock)
    trainer.train()
    tokens = max(int(row.get("num_tokens", 0)) for row in trainer.state.log_history)
    return tokens, clock.seconds


def ours(project: Project, student: Path, output: Path, steps: int, method: str) -> dict:
    options = _settings(steps) | {"method": method}
    summary = project.train(str(student), output, options=options)
    assert summary["status"] == "succeeded", summary.get("last_error")
    return dict(summary["counters"]["training"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--questions", type=int, default=16, help="Questions per tag (4 tags).")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    with tempfile.TemporaryDirectory() as folder:
        work = Path(folder)
        settings = load_settings(home=work / "home")
        student = build_tiny_student(work / "student")
        server = FakeModelServer(FakeConfig(vocabulary=str(student))).start()
        try:
            add_endpoint(
                "teacher", model="fake-model", base_url=server.url, logprobs=K,
                tokenizer=str(student), settings=settings,
            )  # fmt: skip
            project = Project.create("Rowing", settings=settings)
            project.use_models(question="teacher")
            project.auto(levels=1, tags=4, questions=args.questions)
        finally:
            server.stop()
        data = work / "messages.parquet"
        project.export(str(data), format="messages", reasoning="drop")
        bare_rates, our_rates, ratios_sft, ratios_kd = [], [], [], []
        # A first round unmeasured: the first training of a process pays one-time costs.
        bare_trl(student, data, work / "warm-up", 2)
        for round_ in range(args.rounds):
            tokens, seconds = bare_trl(student, data, work / f"bare-{round_}", args.steps)
            sft = ours(project, student, work / f"sft-{round_}", args.steps, "sft")
            kd = ours(project, student, work / f"kd-{round_}", args.steps, "kd")
            bare_rates.append(tokens / seconds)
            our_rates.append(sft["tokens"] / sft["train_seconds"])
            ratios_sft.append(our_rates[-1] / bare_rates[-1])
            ratios_kd.append(kd["train_seconds"] / sft["train_seconds"])
            print(
                f"round {round_ + 1}: bare TRL {tokens / seconds:,.0f} tokens/s ({tokens} in "
                f"{seconds:.2f}s); distillset SFT {our_rates[-1]:,.0f} tokens/s "
                f"({sft['tokens']} in {sft['train_seconds']:.2f}s); KD {kd['train_seconds']:.2f}s"
            )
        project.close()
    bare, mine = statistics.median(bare_rates), statistics.median(our_rates)
    print(f"records: {args.questions * 4}, steps: {args.steps}, batch 8, threads {args.threads}")
    print(f"SFT tokens/s (medians): distillset {mine:,.0f}, bare TRL {bare:,.0f}; ratio per round "
          f"{', '.join(f'{r:.2f}' for r in ratios_sft)}: median "
          f"{statistics.median(ratios_sft):.2f} (target >= 0.9)")  # fmt: skip
    print(f"KD (K={K}) step time / SFT step time per round "
          f"{', '.join(f'{r:.2f}' for r in ratios_kd)}: median "
          f"{statistics.median(ratios_kd):.2f} (target <= 1.3)")  # fmt: skip


if __name__ == "__main__":
    main()

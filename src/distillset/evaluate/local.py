"""Answers from a student on local disk, generated with transformers (greedy), for
`distillset eval --student-path`. Imports torch and transformers: loaded on use."""

from __future__ import annotations

from typing import Any

from distillset.domain import InvalidInputError
from distillset.llm import split_reasoning


def check_local_student(path: str) -> None:
    """One line when the directory holds no model transformers can load."""
    try:
        from transformers import AutoConfig

        AutoConfig.from_pretrained(path)
    except ImportError:
        raise InvalidInputError(
            "--student-path needs the train extra: pip install 'distillset[train]'"
        ) from None
    except Exception as exc:
        lines = str(exc).strip().splitlines()
        raise InvalidInputError(
            f"cannot load the student {path!r}: {lines[0] if lines else type(exc).__name__}"
        ) from None


class LocalStudent:
    """A model and its tokenizer, answering one conversation at a time."""

    def __init__(self, path: str, max_new_tokens: int) -> None:
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        self.torch = torch
        self.device = "cuda" if torch.cuda.is_available() else "cpu"
        dtype = torch.bfloat16 if self.device == "cuda" else torch.float32
        self.tokenizer: Any = AutoTokenizer.from_pretrained(path)
        model: Any = AutoModelForCausalLM.from_pretrained(path, dtype=dtype)
        self.model = model.to(self.device)
        self.model.eval()
        self.max_new_tokens = max_new_tokens

    def answer(self, messages: list[dict[str, Any]]) -> str:
        encoded = self.tokenizer.apply_chat_template(
            messages, add_generation_prompt=True, return_dict=True, return_tensors="pt"
        ).to(self.device)
        with self.torch.no_grad():
            generated = self.model.generate(
                **encoded,
                max_new_tokens=self.max_new_tokens,
                do_sample=False,
                pad_token_id=self.tokenizer.pad_token_id or self.tokenizer.eos_token_id,
            )
        new = generated[0, encoded["input_ids"].shape[1] :]
        text = self.tokenizer.decode(new, skip_special_tokens=True)
        return split_reasoning({"content": text})[1].strip()

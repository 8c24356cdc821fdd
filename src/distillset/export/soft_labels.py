"""The `soft_labels` column an export adds with `--soft-labels` (docs/soft-labels.md).

Per record: the generated tokens (ids where the server gave them, and their text), the logprob
of each, the top-K alternatives with theirs, the token where the answer starts after the
reasoning, whether the tokens spell the exported answer, and which tokenizer the ids belong
to. A record without soft labels has null there. The probability mass outside the top K is
not stored: a trainer gets it as 1 - sum(exp(top_logprobs)) at each position.
"""

from __future__ import annotations

from typing import Any

import pyarrow as pa

from distillset.domain import InvalidInputError
from distillset.llm.soft_labels import CAPTURED, token_text
from distillset.review.records import DatasetRecord
from distillset.review.soft_labels import StoredSoftLabels

COLUMN = "soft_labels"
# Records read at a time with soft labels: each one unpacks to tokens x K Python values.
BATCH_SIZE = 64

TOKENIZER = pa.struct(
    [
        ("name", pa.string()),  # the endpoint's --tokenizer, e.g. a Hugging Face repo id
        ("endpoint_model", pa.string()),  # the model name the endpoint asks for
        ("model", pa.string()),  # the model that answered, as the server reported it
        ("server_model", pa.string()),  # the server's own word: vLLM's root, a GGUF path
        ("vocab_size", pa.int64()),
    ]
)
SOFT_LABELS = pa.struct(
    [
        ("tokenizer", TOKENIZER),
        ("k", pa.int32()),
        ("answer_start", pa.int32()),
        ("aligned", pa.bool_()),
        ("token_ids", pa.list_(pa.int64())),
        ("tokens", pa.list_(pa.string())),
        ("logprobs", pa.list_(pa.float32())),
        ("top_ids", pa.list_(pa.list_(pa.int64()))),
        ("top_tokens", pa.list_(pa.list_(pa.string()))),
        ("top_logprobs", pa.list_(pa.list_(pa.float32()))),
    ]
)


def with_soft_labels(schema: pa.Schema) -> pa.Schema:
    """The format's schema with the soft labels column at the end."""
    if COLUMN in schema.names:
        raise InvalidInputError(
            f"--soft-labels adds a {COLUMN!r} column, and this export names a field so already"
        )
    return schema.append(pa.field(COLUMN, SOFT_LABELS))


def _tokenizer(identity: dict[str, Any]) -> dict[str, Any]:
    server = identity.get("server") or {}
    server_model = server.get("root") or server.get("model_path") or server.get("id")
    vocab = server.get("vocab_size")
    return {
        "name": identity.get("tokenizer"),
        "endpoint_model": identity.get("endpoint_model"),
        "model": identity.get("model"),
        "server_model": server_model,
        "vocab_size": vocab if isinstance(vocab, int) else None,
    }


def spells_answer(stored: StoredSoftLabels, answer: str) -> bool:
    """Whether the tokens from the answer's start spell the record's answer (not edited since)."""
    if stored.answer_start is None:
        return False
    text = b"".join(stored.labels.tokens[stored.answer_start :]).decode("utf-8", "replace")
    return text.rstrip().endswith(answer.strip()) and answer.strip() in text


def soft_labels_value(record: DatasetRecord, stored: StoredSoftLabels | None) -> Any:
    """The record's soft labels column (None without soft labels)."""
    if stored is None:
        return None
    labels = stored.labels
    return {
        "tokenizer": _tokenizer(stored.tokenizer),
        "k": labels.k,
        "answer_start": stored.answer_start,
        "aligned": record.soft_label_status == CAPTURED and spells_answer(stored, record.answer),
        "token_ids": labels.ids,
        "tokens": [token_text(token) for token in labels.tokens],
        "logprobs": labels.logprobs,
        "top_ids": labels.top_ids,
        "top_tokens": [[token_text(token) for token in row] for row in labels.top_tokens],
        "top_logprobs": labels.top_logprobs,
    }

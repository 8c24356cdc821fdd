"""Deterministic embeddings for the fake server's `/v1/embeddings`.

A text's vector is its bag of words hashed into ``dims`` signed buckets and scaled to length
one: the same words in any order or case give the same vector, texts sharing most words are
close, unrelated texts are far apart. Enough for testing a semantic duplicate scan end to end
over HTTP; no model is involved.
"""

from __future__ import annotations

import hashlib
import math
import re
from typing import Any

_WORD = re.compile(r"\w+", re.UNICODE)
# Words too common to say anything about a question's meaning.
_STOPWORDS = frozenset(
    "a an the of in on for to is are what how why which do does".split()  # noqa: SIM905
)


def _bucket(word: str, dims: int) -> tuple[int, float]:
    digest = hashlib.blake2b(word.encode(), digest_size=8).digest()
    value = int.from_bytes(digest, "big")
    return value % dims, 1.0 if value >> 63 else -1.0


def embedding(text: str, dims: int) -> list[float]:
    """The unit vector of a text's content words (a fixed unit vector for a text without)."""
    vector = [0.0] * dims
    words = [word for word in _WORD.findall(text.lower()) if word not in _STOPWORDS]
    for word in words:
        index, sign = _bucket(word, dims)
        vector[index] += sign
    norm = math.sqrt(sum(value * value for value in vector))
    if norm == 0.0:
        vector[0] = 1.0
        return vector
    return [value / norm for value in vector]


def inputs_of(body: Any) -> list[str] | None:
    """The texts of an embeddings request (`input`: a string or a list of strings)."""
    if not isinstance(body, dict):
        return None
    value = body.get("input")
    if isinstance(value, str):
        return [value]
    if isinstance(value, list) and value and all(isinstance(item, str) for item in value):
        return value
    return None


def embeddings_body(model: str, texts: list[str], dims: int) -> dict[str, Any]:
    """The OpenAI-shaped reply: one `embedding` item per input, in order, with usage."""
    tokens = sum(len(text) // 4 + 1 for text in texts)
    return {
        "object": "list",
        "model": model,
        "data": [
            {"object": "embedding", "index": index, "embedding": embedding(text, dims)}
            for index, text in enumerate(texts)
        ],
        "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
    }

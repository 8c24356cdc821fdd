"""Generation-time semantic dedup: a proposed question whose meaning is too close to a
question anywhere in the project (embedding cosine at or above the threshold) is not stored,
and the top-up asks for another.

The project's questions are embedded once per run, by the offline model or an embeddings
endpoint (whose calls are logged and cached like chat calls, so a resumed run pays nothing
for them again); every question the
guard lets through joins the index at once, so two runs of one job screening at the same
time see each other's proposals.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import numpy as np

from distillset.domain import InvalidInputError

Vectors = list[list[float]] | np.ndarray
Embed = Callable[[list[str]], Awaitable[Vectors]]
Screen = Callable[[list[str]], Awaitable[list[str]]]


def check_threshold(threshold: float) -> float:
    if isinstance(threshold, bool) or not isinstance(threshold, int | float):
        raise InvalidInputError(f"the semantic dedup threshold must be a number, got {threshold!r}")
    if not 0 < threshold <= 1:
        raise InvalidInputError("the semantic dedup threshold must be above 0 and at most 1")
    return float(threshold)


def _unit(vectors: Vectors) -> np.ndarray:
    matrix = np.asarray(vectors, dtype=np.float32)
    if matrix.ndim != 2:
        matrix = matrix.reshape(len(matrix), -1)
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    return np.divide(matrix, norms, out=np.zeros_like(matrix), where=norms > 0)


class SemanticGuard:
    """Screens proposed questions against the project's questions by meaning."""

    def __init__(self, embed: Embed, threshold: float, existing: Callable[[], list[str]]) -> None:
        self._embed = embed
        self.threshold = check_threshold(threshold)
        self._existing = existing
        self._matrix: np.ndarray | None = None
        self._lock = asyncio.Lock()
        self.dropped: list[str] = []

    async def _index(self) -> np.ndarray:
        if self._matrix is None:
            texts = await asyncio.to_thread(self._existing)
            self._matrix = _unit(await self._embed(texts)) if texts else np.zeros((0, 0))
        return self._matrix

    async def screen(self, candidates: list[str]) -> list[str]:
        """The candidates not too close to a question of the project or to one another."""
        wanted = [text for text in candidates if text.strip()]
        if not wanted:
            return []
        vectors = _unit(await self._embed(wanted))
        kept: list[str] = []
        async with self._lock:  # one screen at a time: what it keeps joins the index
            matrix = await self._index()
            for text, vector in zip(wanted, vectors, strict=True):
                if matrix.size and float((matrix @ vector).max()) >= self.threshold:
                    self.dropped.append(text)
                    continue
                matrix = vector[None, :] if not matrix.size else np.vstack([matrix, vector])
                kept.append(text)
            self._matrix = matrix
        return kept

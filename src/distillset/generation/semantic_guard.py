"""Generation-time semantic dedup: a proposed question whose meaning is too close to a
question anywhere in the project (embedding cosine at or above the threshold, and no near
miss: see near_miss, the rule the quality report applies too) is not stored, and the top-up
asks for another.

The project's questions are embedded once per run, by the offline model or an embeddings
endpoint (whose calls are logged and cached like chat calls, so a resumed run pays nothing
for them again); every question the
guard lets through joins the index at once, so two runs of one job screening at the same
time see each other's proposals.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable

import numpy as np

from distillset.domain import InvalidInputError
from distillset.generation.near_miss import phrases_to_embed, same_question

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
        self._texts: list[str] = []  # the rows of the matrix
        self._phrases: dict[str, np.ndarray] = {}  # swapped phrases of near misses
        self._lock = asyncio.Lock()
        self.dropped: list[str] = []

    async def _index(self) -> np.ndarray:
        if self._matrix is None:
            texts = await asyncio.to_thread(self._existing)
            self._texts = list(texts)
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
            known = len(self._texts)
            texts = self._texts + wanted
            every = np.vstack([matrix, vectors]) if matrix.size else vectors
            # Per candidate, the earlier texts (the project's, then the candidates before
            # it) whose vectors are close; the near-miss rule has the last word on each.
            close = [
                np.flatnonzero(every[: known + index] @ vector >= self.threshold)
                for index, vector in enumerate(vectors)
            ]
            await self._embed_phrases(
                (texts[int(other)], text)
                for text, others in zip(wanted, close, strict=True)
                for other in others
            )
            dropped: set[int] = set()  # positions in texts
            for index, (text, others) in enumerate(zip(wanted, close, strict=True)):
                if any(
                    int(other) not in dropped
                    and same_question(texts[int(other)], text, self._phrases)
                    for other in others
                ):
                    dropped.add(known + index)
                    self.dropped.append(text)
                    continue
                kept.append(text)
                self._texts.append(text)
            keep = [index for index in range(len(wanted)) if known + index not in dropped]
            self._matrix = np.vstack([matrix, vectors[keep]]) if matrix.size else vectors[keep]
        return kept

    async def _embed_phrases(self, pairs: Iterable[tuple[str, str]]) -> None:
        missing = sorted(phrases_to_embed(pairs) - self._phrases.keys())
        if missing:
            self._phrases.update(zip(missing, _unit(await self._embed(missing)), strict=True))

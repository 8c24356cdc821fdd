"""How varied the questions are, from their unit vectors.

Both figures cost O(n d) or O(n d^2), never O(n^2): for unit rows x_i the mean pairwise cosine
similarity is (|sum x_i|^2 - n) / (n (n - 1)), and the Vendi score (Friedman and Dieng, 2023:
the exponential of the entropy of the eigenvalues of the similarity matrix K / n, an
"effective number of distinct questions" between 1 and n) needs only the eigenvalues of
X^T X / n, which are the non-zero ones of K / n.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

# Tags listed as "most alike" (the highest mean similarity between their own questions).
ALIKE_TAGS = 5


def mean_similarity(vectors: np.ndarray) -> float | None:
    """Mean cosine similarity over all pairs of distinct rows (None below two rows)."""
    count = len(vectors)
    if count < 2:
        return None
    total = vectors.astype(np.float64).sum(axis=0)
    return float((total @ total - count) / (count * (count - 1)))


def vendi_score(vectors: np.ndarray) -> float | None:
    """The Vendi score of unit rows: 1 when all are the same, n when all are orthogonal."""
    count = len(vectors)
    if count == 0:
        return None
    matrix = vectors.astype(np.float64)
    eigenvalues = np.linalg.eigvalsh(matrix.T @ matrix / count)
    eigenvalues = eigenvalues[eigenvalues > 1e-12]
    return float(np.exp(-np.sum(eigenvalues * np.log(eigenvalues))))


@dataclass
class Diversity:
    questions: int
    mean_distance: float | None  # 1 - mean pairwise cosine similarity
    vendi: float | None
    # Tags (path, questions, mean similarity of their questions), most alike first.
    alike_tags: list[dict[str, Any]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "questions": self.questions,
            "mean_distance": _rounded(self.mean_distance),
            "vendi": _rounded(self.vendi),
            "vendi_share": _rounded(self.vendi / self.questions if self.vendi else None),
            "alike_tags": self.alike_tags,
        }


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(value, 4)


def diversity(vectors: np.ndarray, tag_paths: Sequence[str]) -> Diversity:
    """Diversity of the questions, and the tags whose questions are most alike."""
    similarity = mean_similarity(vectors)
    by_tag: dict[str, list[int]] = {}
    for index, path in enumerate(tag_paths):
        by_tag.setdefault(path, []).append(index)
    alike: list[tuple[float, str, int]] = []
    for path, rows in by_tag.items():
        inner = mean_similarity(vectors[rows])
        if inner is not None:
            alike.append((inner, path, len(rows)))
    alike.sort(key=lambda item: -item[0])
    return Diversity(
        questions=len(vectors),
        mean_distance=None if similarity is None else 1.0 - similarity,
        vendi=vendi_score(vectors),
        alike_tags=[
            {"tag_path": path, "questions": count, "similarity": round(inner, 4)}
            for inner, path, count in alike[:ALIKE_TAGS]
        ],
    )

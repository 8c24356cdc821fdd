"""Near-duplicates among many texts without comparing every pair.

Each comparison key gets a MinHash signature of its character 3-grams; locality-sensitive
hashing (``datasketch``) puts signatures in buckets, and only keys that share a bucket with a
new one are compared with the exact test (``dedup.is_near_duplicate``). The verdicts are the
pairwise test's; the work grows with the number of texts, not with its square.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from distillset.generation.dedup import is_near_duplicate

# Keys whose 3-gram sets overlap at least about this much (Jaccard) are compared. Near
# duplicates by the exact test overlap far more (`a volley` ~ `the volley`: 0.72), so the
# buckets lose next to none, and a bucket rarely holds unrelated keys.
CANDIDATE_JACCARD = 0.5
NUM_PERM = 64
SHINGLE = 3
# Templated questions ("What are the benefits of X for Y?") fill the buckets of one another:
# only this many candidates, those whose signatures agree most, are checked exactly.
MAX_CHECKED = 32


def shingles(key: str) -> set[bytes]:
    """The character 3-grams of a key (the whole key when shorter), UTF-8 encoded."""
    if len(key) <= SHINGLE:
        return {key.encode()}
    return {key[i : i + SHINGLE].encode() for i in range(len(key) - SHINGLE + 1)}


class NearDuplicateIndex:
    """Keys added one by one; ``place`` files a key with the first earlier key it repeats.

    Exact repeats are found by a dictionary, near ones through the LSH buckets. Only the
    first key of each group is indexed: a new key joins the oldest group whose first key it
    repeats, as the pairwise scan did."""

    def __init__(self) -> None:
        # Loaded here: datasketch imports scipy, which nothing else needs at startup.
        from datasketch import MinHash, MinHashLSH

        self._minhash: Any = MinHash
        self._lsh = MinHashLSH(threshold=CANDIDATE_JACCARD, num_perm=NUM_PERM)
        self._heads: list[str] = []
        self._by_key: dict[str, int] = {}
        self._signatures = np.empty((64, NUM_PERM), dtype=np.uint64)

    def place(self, key: str) -> tuple[int, str]:
        """The group a key joins and how: ``"exact"`` (the same key as the group's first),
        ``"near"`` (a near duplicate of it) or ``"new"`` (a group of its own, now indexed)."""
        index = self._by_key.get(key)
        if index is not None:
            return index, "exact"
        signature = self._minhash(num_perm=NUM_PERM)
        signature.update_batch(list(shingles(key)))
        for candidate in self._likeliest(signature.hashvalues, self._lsh.query(signature)):
            if is_near_duplicate(key, self._heads[candidate]):
                return candidate, "near"
        index = len(self._heads)
        self._heads.append(key)
        self._by_key[key] = index
        self._lsh.insert(index, signature)
        self._keep_signature(index, signature.hashvalues)
        return index, "new"

    def _likeliest(self, values: np.ndarray, candidates: list[int]) -> list[int]:
        """The candidates to check, oldest first: all of them, or the MAX_CHECKED whose
        signatures agree most with ``values`` (the estimated Jaccard similarity)."""
        if len(candidates) <= MAX_CHECKED:
            return sorted(candidates)
        ids = np.fromiter(candidates, dtype=np.int64, count=len(candidates))
        agreement = (self._signatures[ids] == values).sum(axis=1)
        best = ids[np.argsort(-agreement, kind="stable")[:MAX_CHECKED]]
        return sorted(int(candidate) for candidate in best)

    def _keep_signature(self, index: int, values: np.ndarray) -> None:
        if index == len(self._signatures):
            grown = np.empty((2 * len(self._signatures), NUM_PERM), dtype=np.uint64)
            grown[:index] = self._signatures
            self._signatures = grown
        self._signatures[index] = values

    def __len__(self) -> int:
        return len(self._heads)

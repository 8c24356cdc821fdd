"""Benchmark: texts per second of the offline embedding model (LocalEmbedder) against the plain
way of running it (the tokenizer called per batch of 64 with padding=True, texts sorted by
characters), alternating the two in one process, with the largest difference of their vectors.

    .venv/bin/python bench/embed_speed.py [--n 2000] [--repeats 3]

The texts are bench/dedup.py's planted questions (about 20 tokens each). The machine should be
idle: the median of the repeats is printed, wall clock and per CPU-second.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable, Sequence

import numpy as np

from dedup import plant
from distillset.generation.local_embedder import LOCAL_MAX_TOKENS, LocalEmbedder, unit_rows


def plain(model: LocalEmbedder, batch: int = 64) -> Callable[[Sequence[str]], np.ndarray]:
    import torch

    def embed(texts: Sequence[str]) -> np.ndarray:
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        result = np.zeros((len(texts), 384), dtype=np.float32)
        with torch.inference_mode():
            for start in range(0, len(order), batch):
                chosen = order[start : start + batch]
                encoded = model._tokenizer(
                    [texts[i] for i in chosen],
                    padding=True,
                    truncation=True,
                    max_length=LOCAL_MAX_TOKENS,
                    return_tensors="pt",
                )
                states = model._model(**encoded).last_hidden_state
                mask = encoded["attention_mask"].unsqueeze(-1).to(states.dtype)
                result[chosen] = ((states * mask).sum(1) / mask.sum(1).clamp(min=1e-9)).numpy()
        return unit_rows(result)

    return embed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=2000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    rates = {"exact": 0.05, "paraphrase": 0.10, "cross_tag": 0.05}
    texts = [text for _, text, _, _ in plant(args.n, rates, 7, "dense")]
    model = LocalEmbedder()
    model.embed(texts[:8])  # load the weights outside the timings
    ways = {"plain": plain(model), "LocalEmbedder": model.embed}
    figures: dict[str, list[tuple[float, float]]] = {name: [] for name in ways}
    vectors: dict[str, np.ndarray] = {}
    for _ in range(args.repeats):
        for name, embed in ways.items():
            wall, cpu = time.perf_counter(), time.process_time()
            vectors[name] = embed(texts)
            wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
            figures[name].append((len(texts) / wall, len(texts) / cpu))
    medians = {
        name: (statistics.median(w for w, _ in runs), statistics.median(c for _, c in runs))
        for name, runs in figures.items()
    }
    for name, (wall, cpu) in medians.items():
        print(f"{name:<14} {wall:7.0f} texts/s  {cpu:7.0f} per CPU-second  ({args.n} texts)")
    ratio = medians["LocalEmbedder"][0] / medians["plain"][0]
    cosine = float((vectors["plain"] * vectors["LocalEmbedder"]).sum(1).min())
    print(f"LocalEmbedder/plain texts/s ratio {ratio:.2f}; lowest cosine between them {cosine:.7f}")


if __name__ == "__main__":
    main()

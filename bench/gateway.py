"""Requests/s through the gateway against a bare aiohttp + semaphore loop.

Both hit the same fake model server (its own process, so client and server do not share
one GIL) in the same run. The gateway run includes the limiter, the cache look-up, the
LlmCall insert committed before each result returns, and reply parsing.

    .venv/bin/python bench/gateway.py [--requests 2000] [--latency 0.05] [--rounds 5]
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import aiohttp

from distillset.config import load_settings
from distillset.llm import EndpointConfig, LimitSettings, open_gateway
from distillset.store import open_store


def _messages(run: str, i: int) -> list[dict[str, str]]:
    return [{"role": "user", "content": f"Benchmark question {run}-{i}: why stretch?"}]


async def bare_loop(url: str, requests: int, concurrency: int, run: str) -> float:
    """The baseline: one pooled session, a semaphore, parse each JSON reply."""
    semaphore = asyncio.Semaphore(concurrency)
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector) as session:

        async def one(i: int) -> str:
            body = {"model": "fake-model", "messages": _messages(run, i)}
            async with semaphore, session.post(f"{url}/chat/completions", json=body) as reply:
                data = json.loads(await reply.read())
                return str(data["choices"][0]["message"]["content"])

        started = time.perf_counter()
        await asyncio.gather(*(one(i) for i in range(requests)))
        return requests / (time.perf_counter() - started)


async def through_gateway(url: str, requests: int, concurrency: int, run: str, home: Path) -> float:
    store = open_store(load_settings(home=home))
    endpoint = EndpointConfig(alias="bench", base_url=url, model="fake-model")
    limits = LimitSettings(max_concurrency=concurrency)
    try:
        async with open_gateway(store, limits, project_id=None) as gateway:
            started = time.perf_counter()
            await asyncio.gather(
                *(
                    gateway.chat(endpoint, _messages(run, i), purpose="bench")
                    for i in range(requests)
                )
            )
            return requests / (time.perf_counter() - started)
    finally:
        store.close()


def start_server(latency: float) -> tuple[subprocess.Popen[str], str]:
    command = [sys.executable, "-m", "distillset.testing.fake_server", "--port", "0"]
    process = subprocess.Popen(
        command + ["--latency", str(latency)], stdout=subprocess.PIPE, text=True
    )
    assert process.stdout is not None
    return process, process.stdout.readline().split()[-1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--latency", type=float, default=0.05, help="fake model seconds/reply")
    parser.add_argument("--rounds", type=int, default=5, help="paired runs per concurrency")
    parser.add_argument("--concurrency", type=int, nargs="+", default=[64, 256])
    args = parser.parse_args()
    process, url = start_server(args.latency)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            print(f"fake server {url}, latency {args.latency:g}s, {args.requests} requests/run")
            for concurrency in args.concurrency:
                bare_rates, gateway_rates = [], []
                for round_ in range(args.rounds):
                    run = f"c{concurrency}r{round_}"
                    home = Path(tmp) / run
                    measure_bare = functools.partial(
                        bare_loop, url, args.requests, concurrency, run + "b"
                    )
                    measure_gateway = functools.partial(
                        through_gateway, url, args.requests, concurrency, run + "g", home
                    )
                    # Alternate which goes first, so drifting machine load hits both alike.
                    if round_ % 2:
                        rate = asyncio.run(measure_gateway())
                        bare_rate = asyncio.run(measure_bare())
                    else:
                        bare_rate = asyncio.run(measure_bare())
                        rate = asyncio.run(measure_gateway())
                    bare_rates.append(bare_rate)
                    gateway_rates.append(rate)
                    print(
                        f"  round {round_ + 1}: bare {bare_rate:7.0f}, gateway {rate:7.0f} req/s, "
                        f"ratio {rate / bare_rate:.2f}"
                    )
                ratios = [g / b for g, b in zip(gateway_rates, bare_rates, strict=True)]
                ideal = f"{concurrency / args.latency:.0f} req/s" if args.latency else "n/a"
                bare_median = statistics.median(bare_rates)
                gateway_median = statistics.median(gateway_rates)
                print(
                    f"concurrency {concurrency:>4}: bare {bare_median:7.0f} req/s, "
                    f"gateway {gateway_median:7.0f} req/s (medians), "
                    f"ratio {statistics.median(ratios):.2f} (median of {args.rounds} paired "
                    f"rounds), ideal {ideal}"
                )
    finally:
        process.terminate()
        process.wait(timeout=10)


if __name__ == "__main__":
    main()

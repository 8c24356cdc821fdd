"""Soak: automatic distillation against a faulty fake model, SIGKILLed, paused and taken
over, and resumed N times.

The fake model server runs in its own process with about 10 % faults (429 with Retry-After,
500, stalls past the request timeout, malformed bodies, truncated answers) and about 30 %
quirky lists. `distillset auto` runs as a subprocess and is SIGKILLed at random moments
(when a random share of the planned items exists, plus a random delay), then resumed: by
`distillset auto` with the same parameters, and at least once by `distillset tasks resume
ID`. Takeovers are mixed in: a run is stopped with SIGSTOP (at a moment it holds no database
lock) past the heartbeat's stale limit, a second `auto` takes its task over (keeping free the
slots of the requests the first may still have open), the first is continued with SIGCONT
and must stop at once saying it lost its task, and the second is then SIGKILLed like any
other run. After the last event it runs to its end, and plain `auto`
re-runs retry what failed (retries are new attempts). A crash-free baseline run with the same
seed and settings is made first, in its own data directory against its own fake server.

What counts as what:
- *planned*: the items the parameters ask for (levels 2 x tags 6 -> 6 + 36 tags, 4 questions
  per leaf, one answer per question).
- *expected*: what the tree that exists asks for. The tag slots of the topic and of every
  created tag above the leaf level; the questions of every leaf that was created; one answer
  per question that was created. (A tag slot that failed takes no subtree with it: what was
  planned below it was never attempted, and a resume plans it again.)
- *lost*: an expected item that is neither created nor recorded as failed. A tag or question
  slot is recorded as failed when the last task's counters count it failed and the task has a
  last error; an answer is recorded as failed when its question carries `last_error`.
- *duplicate*: two tags of one parent, or two questions of one project (or of one tag), with
  the same normalised text; a question with more than one answer; a request key with two
  successful calls (paid twice for the same recorded request). Tag labels repeated under
  different parents are reported but allowed (the data model is unique per parent).
- *billed*: replies the fake server sent with HTTP 200 (a provider bills those, including
  malformed and truncated ones). The re-billing overhead is billed(soak) / billed(baseline);
  faults are random per request, so the two runs also differ by their fault draws. The direct
  figure is the count of whole replies the server sent but no run stored (the kill came
  between the reply and its commit), plus the replies stored twice for one request (a
  paused run's replies that arrived after its task was taken over): those were paid twice.
  It is measured after every kill and takeover; only requests truly in flight at that moment
  may be paid twice, so it must stay within the concurrency per interrupted run. It is 0 in
  the baseline.

Exit status 1 when anything is lost or duplicated, the in-flight limit was exceeded, a
continued run did not stop on its lost task, more replies than were in flight were paid
twice at one event, or the database fails `PRAGMA integrity_check`.

    .venv/bin/python bench/soak.py [--kills 5] [--takeovers 2] [--seed 7] [--tags 6]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from distillset.auto.plan import full_subtree
from distillset.config import load_settings
from distillset.domain import normalize_text
from distillset.projects import endpoints
from distillset.projects import lifecycle as projects
from distillset.store import open_store

PROJECT = "Soak topic"
FAULTS = ("rate_429", "rate_500", "rate_stall", "rate_malformed", "rate_truncated")
QUIRKS = (
    "too_few", "too_many", "duplicates", "code_fence", "numbering", "object_wrapped", "prose",
    "plain_lines",
)  # fmt: skip
# A killed task's heartbeat must go stale before another run may claim the project.
STALE_SECONDS = 2.0
RUN_TIMEOUT = 600.0
# A run may end by itself before its kill point (failed items exist no more): try again.
KILL_TRIES = 3


def per_kind_rate(total: float, kinds: int) -> float:
    """The rate of each of `kinds` independent draws so that any of them fires with `total`."""
    return 1.0 - (1.0 - total) ** (1.0 / kinds)


@dataclass
class FakeServer:
    process: subprocess.Popen[str]
    url: str

    def stats(self) -> dict[str, Any]:
        admin = self.url.removesuffix("/v1") + "/_fake/stats"
        with urllib.request.urlopen(admin, timeout=10) as reply:
            data: dict[str, Any] = json.load(reply)
        return data

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=10)


def start_fake_server(args: argparse.Namespace) -> FakeServer:
    fault = per_kind_rate(args.fault_rate, len(FAULTS))
    quirk = per_kind_rate(args.quirk_rate, len(QUIRKS))
    command = [sys.executable, "-m", "distillset.testing.fake_server", "--port", "0"]
    command += ["--latency", str(args.latency), "--jitter", str(args.latency * 2)]
    command += ["--seed", str(args.seed), "--reasoning-style", "think"]
    settings = {name: fault for name in FAULTS} | {name: quirk for name in QUIRKS}
    settings |= {"retry_after": 1, "stall_seconds": args.timeout * 10}
    for name, value in settings.items():
        command += ["--set", f"{name}={json.dumps(value)}"]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    assert process.stdout is not None
    line = process.stdout.readline()
    match = re.search(r"(http://\S+/v1)", line)
    if not match:
        process.kill()
        raise SystemExit(f"the fake server did not start: {line!r}")
    return FakeServer(process, match.group(1))


@dataclass
class RunLog:
    """What the runs of one data directory did."""

    runs: list[tuple[str, int | None, float]] = field(default_factory=list)
    kills: int = 0
    takeovers: int = 0
    # Replies paid twice at each kill or takeover: (event, count, how many runs it cut).
    paid_twice: list[tuple[str, int, int]] = field(default_factory=list)
    # A continued run that did not stop saying it lost its task.
    not_stopped: list[str] = field(default_factory=list)


class Distillset:
    """`distillset` subprocesses on one data directory."""

    def __init__(self, home: Path, args: argparse.Namespace) -> None:
        self.home = home
        self.args = args
        self.env = os.environ | {
            "DISTILLSET_HOME": str(home),
            "DISTILLSET_HEARTBEAT_STALE_SECONDS": str(STALE_SECONDS),
        }
        for name in ("DISTILLSET_DATABASE_URL", "OPENAI_API_KEY", "OPENAI_BASE_URL"):
            self.env.pop(name, None)
        self.log = RunLog()

    @property
    def database(self) -> Path:
        return self.home / "distillset.sqlite3"

    def auto_command(self) -> list[str]:
        args = self.args
        return [
            "auto", PROJECT, "--levels", str(args.levels), "--tags", str(args.tags),
            "--questions", str(args.questions), "--json",
        ]  # fmt: skip

    def start(self, command: list[str]) -> subprocess.Popen[bytes]:
        return subprocess.Popen(
            [sys.executable, "-m", "distillset", *command],
            env=self.env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )

    def run(self, command: list[str]) -> int:
        started = time.monotonic()
        process = self.start(command)
        _out, err = process.communicate(timeout=RUN_TIMEOUT)
        code = process.returncode
        self.log.runs.append((" ".join(command[:2]), code, time.monotonic() - started))
        if code not in (0, 1):  # 1: finished with recorded failures
            sys.stderr.write(err.decode(errors="replace")[-2000:])
            raise SystemExit(f"`distillset {' '.join(command)}` exited {code}")
        return code

    def _run_until(
        self, command: list[str], target_items: int, delay: float
    ) -> tuple[subprocess.Popen[bytes], float]:
        """Start a run and wait until the store holds `target_items` items (plus `delay`)."""
        started = time.monotonic()
        # Each interrupted run must have created something, so it interrupts real work.
        target_items = max(target_items, created_items(self.database) + 1)
        process = self.start(command)
        deadline = started + RUN_TIMEOUT
        while process.poll() is None and time.monotonic() < deadline:
            if created_items(self.database) >= target_items:
                time.sleep(delay)
                break
            time.sleep(0.02)
        return process, started

    def _kill(self, process: subprocess.Popen[bytes], command: list[str], started: float) -> bool:
        killed = process.poll() is None
        if killed:
            process.send_signal(signal.SIGKILL)
        process.wait()
        label = "(killed)" if killed else "(ended before the kill)"
        elapsed = time.monotonic() - started
        self.log.runs.append((f"{' '.join(command[:2])} {label}", process.returncode, elapsed))
        if killed:
            self.log.kills += 1
        return killed

    def run_and_kill(self, command: list[str], target_items: int, delay: float) -> bool:
        """Run until the store holds `target_items` items (plus `delay`), then SIGKILL.

        Returns False when the run ended by itself first (items failed, so fewer exist).
        """
        process, started = self._run_until(command, target_items, delay)
        killed = self._kill(process, command, started)
        if killed:
            # The killed task still says running: wait until its heartbeat is stale.
            time.sleep(STALE_SECONDS + 0.5)
        return killed

    def run_and_take_over(self, command: list[str], target_items: int, delay: float) -> bool:
        """Run until `target_items`, SIGSTOP it past the stale limit, let a second `auto`
        take its task over, SIGCONT the first (it must stop, saying it lost the task), then
        SIGKILL the second. Returns False when the first run ended by itself first."""
        paused, started = self._run_until(command, target_items, delay)
        if paused.poll() is not None or not stop_outside_a_write(paused, self.database):
            return self._kill(paused, command, started)
        time.sleep(STALE_SECONDS + 0.5)  # its heartbeat goes stale: it may be taken over
        taker, taken_at = self.start(self.auto_command()), time.monotonic()
        # The taker claims the task, and keeps the slots of the paused run's open requests
        # free until that run has ended: it stops as soon as it is continued.
        deadline = taken_at + RUN_TIMEOUT
        while taker.poll() is None and not owned_by(self.database, taker.pid):
            if time.monotonic() > deadline:
                break
            time.sleep(0.02)
        time.sleep(1.0)
        paused.send_signal(signal.SIGCONT)
        _out, err = paused.communicate(timeout=RUN_TIMEOUT)
        said = err.decode(errors="replace")
        label = f"{' '.join(command[:2])} (paused, taken over, continued)"
        self.log.runs.append((label, paused.returncode, time.monotonic() - started))
        took_over = taker.poll() is None or taker.returncode in (0, 1)
        if took_over and (paused.returncode != 2 or "lost ownership" not in said):
            self.log.not_stopped.append(f"exit {paused.returncode}: {said.strip()[-300:]}")
        self.log.takeovers += 1
        if taker.poll() is None:
            taker.send_signal(signal.SIGKILL)
        taker.wait()
        label = "auto (took over, killed)"
        self.log.runs.append((label, taker.returncode, time.monotonic() - taken_at))
        time.sleep(STALE_SECONDS + 0.5)
        return True


@contextmanager
def read_only(database: Path) -> Iterator[sqlite3.Connection]:
    connection = sqlite3.connect(f"file:{database}?mode=ro", uri=True, timeout=30)
    try:
        yield connection
    finally:
        connection.close()


def can_write(database: Path) -> bool:
    """Whether no process holds the database's write lock now."""
    try:
        connection = sqlite3.connect(database, timeout=0.2)
    except sqlite3.OperationalError:
        return False
    try:
        connection.execute("BEGIN IMMEDIATE")
        connection.rollback()
    except sqlite3.OperationalError:
        return False
    finally:
        connection.close()
    return True


def stop_outside_a_write(process: subprocess.Popen[bytes], database: Path) -> bool:
    """SIGSTOP the process at a moment it holds no write lock (a process stopped inside a
    transaction would block every other one); False if it never left its transactions."""
    for _ in range(200):
        process.send_signal(signal.SIGSTOP)
        if can_write(database):
            return True
        process.send_signal(signal.SIGCONT)
        time.sleep(0.01)
    return False


def replies_paid_twice(database: Path, stats: dict[str, Any]) -> int:
    """Whole replies sent and not stored, plus replies stored twice for one request."""
    with read_only(database) as db:
        stored, distinct = db.execute(
            "SELECT count(*), count(DISTINCT request_key) FROM llm_calls WHERE status = 'ok'"
        ).fetchone()
        invalid = db.execute("SELECT count(*) FROM llm_calls WHERE status = 'invalid'").fetchone()
    unrecorded = usable_replies(stats) - int(stored) - int(invalid[0])
    return unrecorded + int(stored) - int(distinct)


def owned_by(database: Path, pid: int) -> bool:
    """Whether a running task is owned by the process ``pid``."""
    try:
        with read_only(database) as db:
            owners = db.execute("SELECT owner FROM tasks WHERE status = 'running'").fetchall()
    except sqlite3.OperationalError:
        return False
    return any(owner and owner.split(":")[1] == str(pid) for (owner,) in owners)


def created_items(database: Path) -> int:
    if not database.exists():
        return 0
    try:
        with read_only(database) as db:
            row = db.execute(
                "SELECT (SELECT count(*) FROM tags) + (SELECT count(*) FROM questions)"
                " + (SELECT count(*) FROM answers)"
            ).fetchone()
    except sqlite3.OperationalError:
        return 0  # not created yet, or busy
    return int(row[0])


def set_up(home: Path, url: str, args: argparse.Namespace) -> None:
    settings = load_settings(home=home)
    store = open_store(settings)
    try:
        with store.session() as session:
            project = projects.create_project(session, PROJECT)
            endpoints.add_endpoint(session, "fake", model="fake-model", base_url=url)
            projects.update_project(
                session,
                project,
                question_model="fake",
                answer_model="fake",
                max_concurrency=args.concurrency,
                request_timeout=args.timeout,
                max_retries=args.retries,
            )
    finally:
        store.close()


def last_task_id(database: Path) -> int:
    with read_only(database) as db:
        return int(db.execute("SELECT max(id) FROM tasks").fetchone()[0])


def finish(ds: Distillset, reruns: int) -> int:
    """Run `auto` to its end, then again while items failed (each retry is a new attempt)."""
    code = ds.run(ds.auto_command())
    for _ in range(reruns):
        if code == 0:
            break
        code = ds.run(ds.auto_command())
    return code


@dataclass
class Report:
    planned: dict[str, int]
    expected: dict[str, int]
    created: dict[str, int]
    recorded_failed: dict[str, int]
    lost: dict[str, int]
    duplicates: dict[str, int]
    allowed_repeats: int
    failures: Counter[str]
    retried: tuple[int, int]
    recorded_replies: int
    paid_twice: int
    integrity: str
    shape_errors: list[str]


def planned_counts(args: argparse.Namespace) -> dict[str, int]:
    tags, leaves = full_subtree(args.levels, args.tags)
    questions = leaves * args.questions
    return {"tags": tags, "questions": questions, "answers": questions}


def expected_counts(
    tags: list[tuple[int, int | None, str, int]],
    questions: list[tuple[int, int, str, str | None]],
    args: argparse.Namespace,
) -> dict[str, int]:
    """What the tree that exists asks for (see "expected" above)."""
    parents = 1 + sum(1 for _id, _parent, _label, depth in tags if depth < args.levels)
    leaves = sum(1 for _id, _parent, _label, depth in tags if depth == args.levels)
    return {
        "tags": parents * args.tags,
        "questions": leaves * args.questions,
        "answers": len(questions),
    }


def created_counts(
    tags: list[tuple[int, int | None, str, int]],
    questions: list[tuple[int, int, str, str | None]],
    answered: Counter[int],
    args: argparse.Namespace,
) -> dict[str, int]:
    """Created items, at most as many per parent as asked: surplus ones are shape errors and
    must not make up for a slot that is missing elsewhere."""
    children = Counter(parent for _id, parent, _label, _depth in tags)
    per_tag = Counter(tag for _id, tag, _text, _error in questions)
    return {
        "tags": sum(min(count, args.tags) for count in children.values()),
        "questions": sum(min(count, args.questions) for count in per_tag.values()),
        "answers": len(answered),
    }


def failure_reason(error: str) -> str:
    """The kind of a recorded error, without the varying details."""
    text = re.sub(r"^model 'fake' failed after \d+ attempt\(s\): ", "", error)
    text = re.sub(r"\d+(\.\d+)?", "N", text)
    return text[:90]


def inspect(database: Path, args: argparse.Namespace) -> Report:
    planned = planned_counts(args)
    with read_only(database) as db:
        integrity = db.execute("PRAGMA integrity_check").fetchone()[0]
        tags = db.execute("SELECT id, parent_id, label, depth FROM tags").fetchall()
        questions = db.execute("SELECT id, tag_id, text, last_error FROM questions").fetchall()
        answers = db.execute("SELECT question_id FROM answers").fetchall()
        task = db.execute(
            "SELECT counters, last_error FROM tasks ORDER BY id DESC LIMIT 1"
        ).fetchone()
        errors = db.execute(
            "SELECT error FROM llm_calls WHERE status != 'ok' AND error IS NOT NULL"
        ).fetchall()
        retried = db.execute(
            "SELECT count(*), coalesce(sum(attempts - 1), 0) FROM llm_calls WHERE attempts > 1"
        ).fetchone()
        recorded_replies = db.execute(
            "SELECT count(*) FROM llm_calls WHERE status IN ('ok', 'invalid')"
        ).fetchone()[0]
        paid_twice = db.execute(
            "SELECT count(*) FROM (SELECT request_key FROM llm_calls WHERE status = 'ok'"
            " GROUP BY request_key HAVING count(*) > 1)"
        ).fetchone()[0]
    answered = Counter(question_id for (question_id,) in answers)
    expected = expected_counts(tags, questions, args)
    created = created_counts(tags, questions, answered, args)
    # Failures recorded by the last run: its counters and reason, and questions' errors.
    counters = json.loads(task[0]) if task and task[0] else {}
    task_has_reason = bool(task and task[1])
    recorded = {
        stage: (counters.get(stage, {}).get("failed", 0) if task_has_reason else 0)
        for stage in ("tags", "questions")
    }
    recorded["answers"] = sum(
        1 for qid, _tag, _text, error in questions if error and qid not in answered
    )
    lost = {
        stage: max(0, expected[stage] - min(created[stage], expected[stage]) - recorded[stage])
        for stage in expected
    }
    per_parent = Counter((parent, normalize_text(label)) for _id, parent, label, _d in tags)
    per_project_tags = Counter(normalize_text(label) for _id, _p, label, _d in tags)
    per_tag = Counter((tag, normalize_text(text)) for _id, tag, text, _e in questions)
    per_project = Counter(normalize_text(text) for _id, _tag, text, _e in questions)
    duplicates = {
        "tags per parent": sum(n - 1 for n in per_parent.values() if n > 1),
        "questions per tag": sum(n - 1 for n in per_tag.values() if n > 1),
        "questions per project": sum(n - 1 for n in per_project.values() if n > 1),
        "answers per question": sum(n - 1 for n in answered.values() if n > 1),
    }
    allowed = sum(n - 1 for n in per_project_tags.values() if n > 1)
    failures = Counter(failure_reason(error) for (error,) in errors)
    return Report(
        planned,
        expected,
        created,
        recorded,
        lost,
        duplicates,
        allowed,
        failures,
        (int(retried[0]), int(retried[1])),
        int(recorded_replies),
        paid_twice,
        integrity,
        shape_errors(tags, questions, args),
    )


def shape_errors(
    tags: list[tuple[int, int | None, str, int]],
    questions: list[tuple[int, int, str, str | None]],
    args: argparse.Namespace,
) -> list[str]:
    """More than asked anywhere in the tree is a duplicate under another name."""
    children = Counter(parent for _id, parent, _label, _depth in tags)
    per_leaf = Counter(tag for _id, tag, _text, _error in questions)
    problems = [
        f"parent {parent or 'topic'} has {count} children (asked {args.tags})"
        for parent, count in children.items()
        if count > args.tags
    ]
    problems += [
        f"tag {tag} has {count} questions (asked {args.questions})"
        for tag, count in per_leaf.items()
        if count > args.questions
    ]
    problems += [
        f"tag {tag_id} at depth {depth}" for tag_id, _p, _l, depth in tags if depth > args.levels
    ]
    return problems


@dataclass
class Outcome:
    report: Report
    log: RunLog
    stats: dict[str, Any]
    seconds: float


def crash_free(args: argparse.Namespace, root: Path) -> Outcome:
    server = start_fake_server(args)
    try:
        ds = Distillset(root / "baseline", args)
        set_up(ds.home, server.url, args)
        started = time.monotonic()
        finish(ds, args.reruns)
        seconds = time.monotonic() - started
        return Outcome(inspect(ds.database, args), ds.log, server.stats(), seconds)
    finally:
        server.stop()


def with_kills(args: argparse.Namespace, root: Path) -> Outcome:
    rng = random.Random(args.seed)
    planned = sum(planned_counts(args).values())
    events = args.kills + args.takeovers
    # Event points spread over the run: random shares of the planned items, in order; the
    # takeovers fall on random ones of them.
    targets = sorted(int(planned * rng.uniform(0.03, 0.9)) for _ in range(events))
    takeovers = set(rng.sample(range(events), args.takeovers))
    resume_by_id = {min(1, args.kills - 1)} if args.kills else set()
    server = start_fake_server(args)
    try:
        ds = Distillset(root / "soak", args)
        set_up(ds.home, server.url, args)
        started = time.monotonic()
        command = ds.auto_command()
        paid_before = 0
        for number, target in enumerate(targets):
            interrupt = ds.run_and_take_over if number in takeovers else ds.run_and_kill
            for _ in range(KILL_TRIES):
                if interrupt(command, target, rng.uniform(0.0, 0.3)):
                    break
                command = ds.auto_command()  # it ended with failures: resume, cut that
            paid = replies_paid_twice(ds.database, server.stats())
            event = "takeover" if number in takeovers else "kill"
            ds.log.paid_twice.append((event, paid - paid_before, 2 if event == "takeover" else 1))
            paid_before = paid
            if number in resume_by_id:
                command = ["tasks", "resume", str(last_task_id(ds.database)), "--json"]
            else:
                command = ds.auto_command()
        if command[0] == "tasks":
            ds.run(command)
        finish(ds, args.reruns)
        seconds = time.monotonic() - started
        return Outcome(inspect(ds.database, args), ds.log, server.stats(), seconds)
    finally:
        server.stop()


def billed(stats: dict[str, Any]) -> int:
    return int(stats["by_status"].get("200", 0))


def usable_replies(stats: dict[str, Any]) -> int:
    """Whole HTTP 200 replies (not malformed, truncated, empty, nor cut off by a kill)."""
    return int(stats["whole_replies"])


def unrecorded_replies(outcome: Outcome) -> int:
    """Whole replies the server sent that no run stored: lost to a kill, so asked again."""
    return usable_replies(outcome.stats) - outcome.report.recorded_replies


def print_outcome(name: str, outcome: Outcome, limit: int) -> None:
    report, stats = outcome.report, outcome.stats
    print(f"== {name}: {outcome.seconds:.1f} s, {len(outcome.log.runs)} runs")
    for command, code, seconds in outcome.log.runs:
        print(f"   distillset {command}: exit {code} after {seconds:.1f} s")
    for stage in ("tags", "questions", "answers"):
        counts = (report.planned, report.expected, report.created, report.recorded_failed)
        planned, expected, created, failed = (count[stage] for count in counts)
        print(
            f"   {stage:<9} planned {planned:>4}  expected {expected:>4}  created {created:>4}"
            f"  failed (recorded) {failed:>3}  lost {report.lost[stage]}"
        )
    dups = ", ".join(f"{kind} {count}" for kind, count in report.duplicates.items())
    print(f"   duplicates: {dups}")
    print(f"   same tag label under different parents (allowed): {report.allowed_repeats}")
    print(f"   successful calls for an already answered request (paid twice): {report.paid_twice}")
    for problem in report.shape_errors:
        print(f"   tree shape: {problem}")
    calls, retries = report.retried
    print(f"   calls that succeeded or failed only after retries: {calls} ({retries} retries)")
    print(f"   recorded call failures (after all retries): {sum(report.failures.values())}")
    for reason, count in report.failures.most_common():
        print(f"     {count:>4} x {reason}")
    print(
        f"   fake server: {stats['total']} requests, {billed(stats)} billed (HTTP 200), "
        f"outcomes {dict(sorted(stats['by_outcome'].items()))}"
    )
    print(f"   fake server max in flight: {stats['max_in_flight']} (limit {limit})")
    print(
        f"   whole replies sent {usable_replies(stats)}, stored {report.recorded_replies}: "
        f"{unrecorded_replies(outcome)} paid but lost to a kill"
    )
    if outcome.log.paid_twice:
        figures = ", ".join(f"{event} {count}" for event, count, _runs in outcome.log.paid_twice)
        print(f"   replies paid twice per kill or takeover: {figures}")
    for note in outcome.log.not_stopped:
        print(f"   a continued run did not stop on its lost task: {note}")
    print(f"   database integrity_check: {report.integrity}")


def problems_of(outcome: Outcome, limit: int) -> list[str]:
    report = outcome.report
    found = [f"lost {count} {stage}" for stage, count in report.lost.items() if count]
    found += [f"{count} duplicate {kind}" for kind, count in report.duplicates.items() if count]
    found += report.shape_errors
    if report.paid_twice and not outcome.log.paid_twice:
        found.append(f"{report.paid_twice} request keys answered twice without any kill")
    for event, count, runs in outcome.log.paid_twice:
        if count > limit * runs:  # only requests truly in flight may be paid twice
            found.append(f"{count} replies paid twice at a {event} (in flight: at most {limit})")
    found += [f"a continued run did not stop: {note}" for note in outcome.log.not_stopped]
    if outcome.stats["max_in_flight"] > limit:
        found.append(f"max in flight {outcome.stats['max_in_flight']} > limit {limit}")
    if report.integrity != "ok":
        found.append(f"integrity_check: {report.integrity}")
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kills", type=int, default=5)
    parser.add_argument(
        "--takeovers", type=int, default=2, help="SIGSTOP, take over, SIGCONT (mixed in)"
    )
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--levels", type=int, default=2)
    parser.add_argument("--tags", type=int, default=6)
    parser.add_argument("--questions", type=int, default=4)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--latency", type=float, default=0.05, help="fake model seconds per call")
    parser.add_argument("--timeout", type=float, default=2.0, help="request timeout (s)")
    parser.add_argument("--fault-rate", type=float, default=0.10)
    parser.add_argument("--quirk-rate", type=float, default=0.30)
    parser.add_argument(
        "--retries", type=int, default=1, help="gateway retries per call (few: failures happen)"
    )
    parser.add_argument("--reruns", type=int, default=3, help="plain re-runs to retry failures")
    args = parser.parse_args(argv)

    print(
        f"soak: levels {args.levels} x tags {args.tags} x questions {args.questions}, "
        f"concurrency {args.concurrency}, {args.kills} kills, {args.takeovers} takeovers, "
        f"seed {args.seed}, "
        f"faults {args.fault_rate:.0%}, quirky lists {args.quirk_rate:.0%}"
    )
    with tempfile.TemporaryDirectory(prefix="distillset-soak-") as folder:
        root = Path(folder)
        baseline = crash_free(args, root)
        soak = with_kills(args, root)
    print_outcome("crash-free baseline", baseline, args.concurrency)
    print_outcome(
        f"with {soak.log.kills} SIGKILLs and {soak.log.takeovers} takeovers", soak, args.concurrency
    )
    kills = soak.log.kills
    print(f"   kills that hit a running process: {kills} of {args.kills}")
    print(f"   takeovers of a paused run: {soak.log.takeovers} of {args.takeovers}")
    ratio = billed(soak.stats) / max(1, billed(baseline.stats))
    requests = soak.stats["total"] / max(1, baseline.stats["total"])
    print(
        f"re-billing overhead: billed calls {billed(soak.stats)} vs {billed(baseline.stats)} "
        f"crash-free = {ratio:.3f}; all requests {requests:.3f}; whole replies paid twice "
        f"because a kill lost them: {unrecorded_replies(soak)} "
        f"({unrecorded_replies(soak) / max(1, soak.report.recorded_replies):.1%} of those stored)"
    )
    cut = [(count, runs) for _event, count, runs in soak.log.paid_twice]
    if cut:
        per_run = sum(count for count, _runs in cut) / sum(runs for _count, runs in cut)
        print(
            f"replies paid twice per interrupted run: {per_run:.1f} on average, at most "
            f"{max(count for count, _runs in cut)} at one event (concurrency {args.concurrency})"
        )
    problems = problems_of(baseline, args.concurrency) + problems_of(soak, args.concurrency)
    if kills < args.kills:
        problems.append(f"only {kills} of {args.kills} kills hit a run")
    if soak.log.takeovers < args.takeovers:
        problems.append(f"only {soak.log.takeovers} of {args.takeovers} takeovers happened")
    if problems:
        print("FAIL: " + "; ".join(problems))
        return 1
    print(
        "PASS: nothing lost, nothing duplicated, limit held, paid twice only what was in "
        "flight, database intact"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())

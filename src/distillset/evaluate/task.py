"""`distillset eval` as a task: students answer the held-out questions, the judge grades
each answer (with the teacher's as reference, and both without) and compares it with the
teacher's in both orders. Every call goes through the gateway (its cache, limits and
budget): a resumed run asks only what was not answered; a local student's answers are kept
beside the database so a resume does not generate them again."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from distillset.domain import InvalidInputError, ModelCallError, TaskKind, TaskStatus
from distillset.evaluate.prompts import grade_prompt, pairwise_prompt, parse_winner, verdict_of
from distillset.evaluate.report import Outcome, student_report
from distillset.generation.item_run import ItemRun
from distillset.llm import EndpointConfig, Gateway, LimitSettings
from distillset.projects.endpoints import endpoint_config, get_endpoint
from distillset.review.filters import RecordFilter
from distillset.review.judge import verdict_format
from distillset.review.verdict import parse_verdict
from distillset.runs.kinds import Stage, TaskKindSpec
from distillset.runs.progress import StageProgress, initial_counters
from distillset.runs.runner import ask_fresh, reads_cache, set_budget
from distillset.store import Project, Task
from distillset.train.records import Record, read_records

ANSWERED, JUDGED = "answered", "judged"
EVAL_STAGES = (Stage(ANSWERED, "Answered"), Stage(JUDGED, "Judged"))
REPORT = "report"  # the counters' key for the finished report
ATTEMPTS = 3  # a judge reply with nothing readable is asked again this many times


@dataclass(frozen=True)
class Student:
    name: str
    endpoint: str | None = None  # an endpoint alias
    path: str | None = None  # a local model directory

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "endpoint": self.endpoint, "path": self.path}


def _held_out(session: Session, project: Project, params: dict[str, Any]) -> list[Record]:
    splits = read_records(
        session,
        project,
        RecordFilter.from_dict(params.get("filter") or {}),
        balanced=params.get("balanced"),
        eval_fraction=float(params["eval_fraction"]),
        seed=int(params["seed"]),
        soft_labels=False,
    )
    return splits.held_out


def _judge_alias(project: Project, judge: str | None) -> str:
    if judge:
        return judge
    if project.answer_model is not None:
        return project.answer_model.alias
    raise InvalidInputError("no judge model: pass --judge ALIAS or set the project's answer model")


def create_eval_task(
    session: Session,
    project: Project,
    *,
    students: Sequence[str] = (),
    student_paths: Sequence[str] = (),
    judge: str | None = None,
    record_filter: RecordFilter | None = None,
    balanced: int | None = None,
    eval_fraction: float = 0.05,
    seed: int = 42,
    max_new_tokens: int = 512,
    no_cache: bool = False,
    max_cost: float | None = None,
) -> Task:
    """A queued evaluation of the students (endpoint aliases, local directories) on the
    held-out split that `train` leaves out with the same filters, fraction and seed."""
    chosen = [Student(alias, endpoint=get_endpoint(session, alias).alias) for alias in students]
    for path in student_paths:
        from distillset.evaluate.local import check_local_student

        check_local_student(path)
        chosen.append(Student(str(Path(path).resolve()), path=str(Path(path).resolve())))
    if not chosen:
        raise InvalidInputError("nothing to evaluate: pass --student ALIAS or --student-path DIR")
    if not 0 < eval_fraction < 1:
        raise InvalidInputError(f"--eval-split is a fraction in (0, 1), not {eval_fraction}")
    if max_new_tokens < 1:
        raise InvalidInputError(f"--max-new-tokens must be at least 1, not {max_new_tokens}")
    alias = get_endpoint(session, _judge_alias(project, judge)).alias
    params: dict[str, Any] = {
        "students": [student.as_dict() for student in chosen],
        "judge": alias,
        "filter": (record_filter or RecordFilter()).as_dict(),
        "balanced": balanced,
        "eval_fraction": eval_fraction,
        "seed": seed,
        "max_new_tokens": max_new_tokens,
    }
    held_out = _held_out(session, project, params)
    if not held_out:
        raise InvalidInputError(
            "the held-out split is empty: no record matched the filters, or too few per tag "
            "for --eval-split"
        )
    planned = len(held_out) * len(chosen)
    task = Task(
        project_id=project.id,
        kind=TaskKind.EVAL.value,
        params=params,
        status=TaskStatus.QUEUED.value,
        counters=initial_counters({ANSWERED: planned, JUDGED: planned}),
    )
    if no_cache:
        ask_fresh(task)
    set_budget(task, max_cost)
    session.add(task)
    session.flush()
    return task


@dataclass
class _Setup:
    project: Project
    students: list[Student]
    judge: EndpointConfig
    endpoints: dict[str, EndpointConfig]
    records: list[Record]
    max_new_tokens: int


@dataclass(frozen=True)
class _Item:
    """One student's answer to one held-out record, to ask (``answer`` None) and judge."""

    student: int  # the student's index
    position: int  # the record's index in the held-out split
    answer: str | None = None  # a local student's, generated before


class EvalRun(ItemRun):
    setup: _Setup | None = None
    report: dict[str, Any] | None = None
    # Each student's judged outcomes, by the record's position in the split.
    outcomes: dict[int, dict[int, Outcome]]

    def new_progress(self) -> StageProgress:
        return StageProgress([ANSWERED, JUDGED])

    def counters(self) -> dict[str, Any]:
        data = self.progress.as_dict()
        if self.report is not None:
            data[REPORT] = self.report
        return data

    def prepare(self) -> None:
        with self.store.session() as session:
            task = self.claim(session, TaskKind.EVAL)
            project = session.get(Project, task.project_id)
            assert project is not None
            self.use_cache = self.use_cache and reads_cache(task.params)
            students = [Student(**item) for item in task.params["students"]]
            endpoints = {
                s.endpoint: endpoint_config(get_endpoint(session, s.endpoint), self.settings)
                for s in students
                if s.endpoint
            }
            records = _held_out(session, project, task.params)
            planned = len(records) * len(students)
            for stage in (ANSWERED, JUDGED):  # every run answers and judges all again,
                counts = self.progress.stage(stage)  # the finished ones from the cache
                counts.planned, counts.done, counts.failed = planned, 0, 0
            task.counters = self.counters()
            self.event(f"started: {len(records)} questions, {len(students)} students")
            self.limits = LimitSettings.from_project(project)
            self.project_id = project.id
            self.outcomes = {index: {} for index in range(len(students))}
            self.setup = _Setup(
                project=project,
                students=students,
                judge=endpoint_config(get_endpoint(session, task.params["judge"]), self.settings),
                endpoints=endpoints,
                records=records,
                max_new_tokens=int(task.params.get("max_new_tokens") or 512),
            )

    def failure_event(self, failed: int) -> tuple[str, str]:
        return f"{failed} answers or verdicts failed (resume to retry them)", "warning"

    async def work(self) -> None:
        await super().work()
        setup = self.setup
        assert setup is not None, "prepare() first"
        reports = []
        for index, student in enumerate(setup.students):
            judged = self.outcomes[index]
            kept = [judged[position] for position in sorted(judged)]
            reports.append(student_report(student.name, kept, len(setup.records) - len(kept)))
        self.report = {
            "records": len(setup.records),
            "judge": setup.judge.alias,
            "students": reports,
        }

    async def items(self) -> AsyncIterator[_Item]:
        """Each student's records in turn; a local student answers all of them first."""
        setup = self.setup
        assert setup is not None, "prepare() first"
        for index, student in enumerate(setup.students):
            if student.path is None:
                for position in range(len(setup.records)):
                    yield _Item(index, position)
                continue
            answers = await self._local_answers(setup, student, index)
            for position, answer in enumerate(answers):
                yield _Item(index, position, answer)

    async def handle(self, gateway: Gateway, item: _Item) -> None:
        setup = self.setup
        assert setup is not None, "prepare() first"
        record = setup.records[item.position]
        answer = item.answer
        if answer is None:
            answer = await self._answer(gateway, setup, setup.students[item.student], record)
        if answer is None:
            return
        outcome = await self._judged(gateway, setup, record, answer)
        if outcome is not None:
            self.outcomes[item.student][item.position] = outcome

    async def _answer(
        self, gateway: Gateway, setup: _Setup, student: Student, record: Record
    ) -> str | None:
        endpoint = setup.endpoints[student.endpoint or ""]
        messages = record.messages(reasoning="drop")[:-1]
        try:
            result = await gateway.chat(
                endpoint, messages, purpose="eval_answer", task_id=self.task_id
            )
        except ModelCallError as exc:
            self.progress.add_failed(ANSWERED, 1, f"record {record.id}: {exc}")
            self.progress.add_failed(JUDGED, 1)
            return None
        self.progress.add_done(ANSWERED)
        return result.content

    async def _local_answers(self, setup: _Setup, student: Student, index: int) -> list[str]:
        """Generated in a worker thread, one question at a time; kept in a file so that a
        resumed run reads them instead of generating again."""
        kept_at = self.settings.home / "eval" / f"task-{self.task_id}-student-{index}.json"
        kept: dict[str, str] = json.loads(kept_at.read_text()) if kept_at.exists() else {}
        missing = [r for r in setup.records if str(r.id) not in kept]
        if missing:
            from distillset.evaluate.local import LocalStudent

            assert student.path is not None
            model = await asyncio.to_thread(LocalStudent, student.path, setup.max_new_tokens)
            kept_at.parent.mkdir(parents=True, exist_ok=True)
            for record in missing:
                messages = record.messages(reasoning="drop")[:-1]
                kept[str(record.id)] = await asyncio.to_thread(model.answer, messages)
                kept_at.write_text(json.dumps(kept))
                self.progress.add_done(ANSWERED)
        self.progress.add_done(ANSWERED, len(setup.records) - len(missing))
        return [kept[str(record.id)] for record in setup.records]

    async def _ask(self, gateway: Gateway, setup: _Setup, prompt: str, purpose: str) -> str:
        """The judge's reply to one prompt; asked again (a new attempt) when unreadable."""
        error: Exception | None = None
        for attempt in range(ATTEMPTS):
            result = await gateway.chat(
                setup.judge,
                [{"role": "user", "content": prompt}],
                purpose=purpose,
                task_id=self.task_id,
                attempt=attempt,
                response_format=(
                    verdict_format(setup.judge.structured_output)
                    if purpose == "eval_grade"
                    else None
                ),
            )
            try:
                if purpose == "eval_grade":
                    return str(parse_verdict(result.content).score)
                return parse_winner(result.content)
            except ModelCallError as exc:
                error = exc
        assert error is not None
        raise error

    async def _judged(
        self, gateway: Gateway, setup: _Setup, record: Record, answer: str
    ) -> Outcome | None:
        topic, question, teacher = setup.project.topic, record.question, record.answer
        prompts = [
            ("eval_grade", grade_prompt(topic, question, answer, teacher)),
            ("eval_grade", grade_prompt(topic, question, answer, None)),
            ("eval_grade", grade_prompt(topic, question, teacher, None)),
            ("eval_pairwise", pairwise_prompt(topic, question, answer, teacher)),
            ("eval_pairwise", pairwise_prompt(topic, question, teacher, answer)),
        ]
        try:
            replies = await asyncio.gather(
                *(self._ask(gateway, setup, prompt, purpose) for purpose, prompt in prompts)
            )
        except ModelCallError as exc:
            self.progress.add_failed(JUDGED, 1, f"record {record.id}: {exc}")
            return None
        self.progress.add_done(JUDGED)
        return Outcome(
            tag=record.tag_path.split(" > ")[0] if record.tag_path else "(no tag)",
            score=float(replies[0]),
            student_score=float(replies[1]),
            teacher_score=float(replies[2]),
            verdict=verdict_of(replies[3], replies[4]),
        )


def task_report(task: Task) -> dict[str, Any] | None:
    """The report a finished eval task holds (None before it finished)."""
    return (task.counters or {}).get(REPORT)


EVAL_KIND = TaskKindSpec(TaskKind.EVAL.value, EVAL_STAGES, EvalRun)

"""Pages: reviewing many records at once (confirm, unconfirm, score, label, delete the checked
ones or every one the filter matches), judge scoring as a task, and duplicate reports; through
the review package, as `dataset` and `judge` on the command line."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, File, Form, Query, Request, Response, UploadFile
from sqlalchemy.orm import Session

from distillset import resolve
from distillset import review as service
from distillset.domain import InvalidInputError
from distillset.projects import list_endpoints
from distillset.review import ImportResult, RecordFilter
from distillset.store import Project
from distillset.web.api import _jobs as jobs
from distillset.web.api._score_tokens import score_records
from distillset.web.api.dataset_import import save_upload
from distillset.web.deps import AppSettings, AppStore, DbSession, Runner, project_by_id
from distillset.web.pages.common import redirect, render
from distillset.web.pages.forms import optional_number
from distillset.web.pages.review import dataset_context, dataset_filter, tag_id_of
from distillset.web.schemas import DifficultyRating, RowId, SampleSelection, form_budget

router = APIRouter(prefix="/projects/{project_id}/dataset")

MAX_SELECTED = 10_000
FilterField = Annotated[str, Form(max_length=5000)]
ACTIONS = "^(confirm|unconfirm|score|label|unlabel|delete)$"


def _values(
    tag: str, confirmed: str, min_score: str, q: str, label: str, min_difficulty: str = ""
) -> dict[str, str]:
    return {
        "tag": tag,
        "confirmed": confirmed,
        "min_score": min_score,
        "q": q,
        "label": label,
        "min_difficulty": min_difficulty,
    }


def _chosen(
    session: Session, project: Project, scope: str, ids: list[int], values: dict[str, str]
) -> tuple[list[int] | None, RecordFilter | None]:
    """The checked records, or every record the page's filter matches (the core refuses an
    empty filter: the whole dataset is never chosen by leaving the filter blank)."""
    if scope == "selected":
        if not ids:
            raise InvalidInputError("select at least one record (or choose: every match)")
        return service.chosen_records(ids, RecordFilter(), False)
    flt = dataset_filter(session, project, values)
    if not flt.as_dict():  # said in the page's words, not the core's (--all)
        raise InvalidInputError(
            "set a filter first, or check records: a blank filter never stands for the whole "
            "dataset"
        )
    return service.chosen_records(None, flt, False)


def _apply(
    session: Session,
    project: Project,
    action: str,
    chosen: tuple[list[int] | None, RecordFilter | None],
    score: str,
    label_text: str,
) -> str:
    ids, flt = chosen
    if action in ("confirm", "unconfirm"):
        changed = service.set_confirmed(
            session, project, action == "confirm", ids=ids, record_filter=flt
        )
        return f"{action.capitalize()}ed {changed} records."
    if action == "score":
        value = optional_number("score", score, float)
        changed = service.set_score(session, project, value, ids=ids, record_filter=flt)
        return f"Scored {changed} records: {'no score' if value is None else value}."
    if action == "delete":
        result = service.delete_records(session, project, ids=ids, record_filter=flt)
        return (
            f"Deleted {result.records} records; {result.questions_unanswered} questions "
            "are unanswered again."
        )
    label = label_text.strip()
    if not label:
        raise InvalidInputError("label: type the label to add or remove")
    targets = ids if ids is not None else _filtered_ids(session, project, flt)
    if action == "label":
        changed = service.change_labels(session, project, targets, add=[label])
        return f"Labelled {changed} records {label!r}."
    changed = service.change_labels(session, project, targets, remove=[label])
    return f"Removed the label {label!r} from {changed} records."


def _filtered_ids(session: Session, project: Project, flt: RecordFilter | None) -> list[int]:
    # Labels change record by record in the core (a JSON list each), so a filter's records
    # are read once for their ids.
    batches = service.iter_records(session, project, flt or RecordFilter())
    return [record.id for batch in batches for record in batch]


@router.post("/bulk")
def bulk_records(
    project_id: RowId,
    request: Request,
    session: DbSession,
    action: Annotated[str, Form(pattern=ACTIONS)],
    scope: Annotated[str, Form(pattern="^(selected|filter)$")] = "selected",
    ids: Annotated[list[RowId], Form(max_length=MAX_SELECTED)] = [],  # noqa: B006
    score: Annotated[str, Form(max_length=10)] = "",
    label_text: Annotated[str, Form(max_length=200)] = "",
    tag: FilterField = "",
    confirmed: Annotated[str, Form(pattern="^(yes|no|)$")] = "",
    min_score: Annotated[str, Form(max_length=20)] = "",
    q: Annotated[str, Form(max_length=500)] = "",
    label: Annotated[str, Form(max_length=200)] = "",
    min_difficulty: Annotated[str, Form(max_length=10)] = "",
) -> Response:
    """One change to the chosen records; the page comes back, filters kept, saying what
    changed."""
    project = project_by_id(session, project_id)
    values = _values(tag, confirmed, min_score, q, label, min_difficulty)
    chosen = _chosen(session, project, scope, ids, values)
    notice = _apply(session, project, action, chosen, score, label_text)
    session.flush()
    context = dataset_context(session, project, values)
    return render(request, "dataset.html", notice=notice, **context)


@router.post("/score-tokens")
async def score_tokens(
    project_id: RowId,
    request: Request,
    store: AppStore,
    settings: AppSettings,
    runner: Runner,
    endpoint: Annotated[str, Form(min_length=1, max_length=100)],
    k: Annotated[int, Form(ge=1, le=1000)] = 20,
    scope: Annotated[str, Form(pattern="^(selected|filter|all)$")] = "filter",
    ids: Annotated[list[RowId], Form(max_length=MAX_SELECTED)] = [],  # noqa: B006
    tag: FilterField = "",
    confirmed: Annotated[str, Form(pattern="^(yes|no|)$")] = "",
    min_score: Annotated[str, Form(max_length=20)] = "",
    q: Annotated[str, Form(max_length=500)] = "",
    label: Annotated[str, Form(max_length=200)] = "",
    min_difficulty: Annotated[str, Form(max_length=10)] = "",
    max_cost: Annotated[str, Form(max_length=40)] = "",
) -> Response:
    """Soft labels for the checked records, the filter's, or every record of the project
    (``all``, chosen out loud), those without them already: an
    open-weight teacher scores their tokens as a task; an endpoint that cannot score given
    text is refused in one line after one probe (as `answers score-tokens`)."""
    values = _values(tag, confirmed, min_score, q, label, min_difficulty)
    budget = form_budget(max_cost)

    def chosen(session: Session) -> RecordFilter:
        project = project_by_id(session, project_id)
        if scope == "all":
            return RecordFilter()
        picked_ids, picked = _chosen(session, project, scope, ids, values)
        return picked or RecordFilter(ids=tuple(picked_ids or ()))

    records = await jobs.in_session(store, chosen)
    task_id = await score_records(store, settings, project_id, endpoint, k, records, budget)
    runner.start(task_id)
    return redirect(request, f"/projects/{project_id}/tasks/{task_id}")


@router.post("/judge")
async def start_judge(
    project_id: RowId,
    request: Request,
    store: AppStore,
    runner: Runner,
    model: Annotated[str, Form(max_length=100)] = "",
    rescore: Annotated[bool, Form()] = False,
    tag: FilterField = "",
    confirmed: Annotated[str, Form(pattern="^(yes|no|)$")] = "",
    min_score: Annotated[str, Form(max_length=20)] = "",
    q: Annotated[str, Form(max_length=500)] = "",
    label: Annotated[str, Form(max_length=200)] = "",
    min_difficulty: Annotated[str, Form(max_length=10)] = "",
    max_cost: Annotated[str, Form(max_length=40)] = "",
) -> Response:
    """Score the filter's records with the judge model as a task (unscored ones, or all of
    them when rescoring), followed on its task page."""
    values = _values(tag, confirmed, min_score, q, label, min_difficulty)
    budget = form_budget(max_cost)

    def create(session: Session) -> int:
        project = project_by_id(session, project_id)
        task = service.create_judge_task(
            session,
            project,
            model=model or None,
            record_filter=dataset_filter(session, project, values),
            rescore=rescore,
            max_cost=budget,
        )
        return task.id

    task_id = await jobs.in_session(store, create)
    runner.start(task_id)
    return redirect(request, f"/projects/{project_id}/tasks/{task_id}")


@router.post("/select")
async def choose_samples(
    project_id: RowId,
    request: Request,
    store: AppStore,
    runner: Runner,
    by: Annotated[str, Form(pattern="^(judge|consistency)$")],
    model: Annotated[str, Form(max_length=100)] = "",
    tag: FilterField = "",
    fresh: Annotated[bool, Form()] = False,
    max_cost: Annotated[str, Form(max_length=40)] = "",
) -> Response:
    """Choose one sample of each question that has several (of the tag filter's subtree): a
    majority vote answers on the page; the judge scores the samples as a task, followed on
    its task page (as `dataset select`)."""

    def start(session: Session) -> dict[str, Any] | int:
        project = project_by_id(session, project_id)
        tag_id = tag_id_of(session, project, tag)
        body = SampleSelection.model_validate(
            {
                "by": by,
                "tag_id": tag_id,
                "model": model or None,
                "fresh": fresh,
                "max_cost": form_budget(max_cost),
            }
        )
        return jobs.start_selection(session, project_id, body)

    started = await jobs.in_session(store, start)
    if isinstance(started, int):
        runner.start(started, use_cache=not fresh)
        return redirect(request, f"/projects/{project_id}/tasks/{started}")
    chosen, questions = started["chosen"], started["questions"]
    notice = f"Chose a sample of {chosen} of {questions} questions by majority vote"
    if started["mean_agreement"] is not None:
        notice += f"; mean agreement {started['mean_agreement']:.0%}"
    if started["undecided"]:
        notice += f"; {started['undecided']} without a final answer to vote on"
    with store.session() as session:
        project = project_by_id(session, project_id)
        context = dataset_context(session, project, _values(tag, "", "", "", ""))
        # The form's section stays open for the next step (rating, token scores).
        return render(request, "dataset.html", notice=notice + ".", open_samples=True, **context)


@router.post("/rate")
async def rate_difficulty(
    project_id: RowId,
    request: Request,
    store: AppStore,
    runner: Runner,
    model: Annotated[str, Form(max_length=100)] = "",
    tag: FilterField = "",
    rerate: Annotated[bool, Form()] = False,
    max_cost: Annotated[str, Form(max_length=40)] = "",
) -> Response:
    """Have the judge rate the unrated questions' difficulty 1-10 (of the tag filter's
    subtree; every one when rerating) as a task (as `dataset rate --difficulty`)."""

    def create(session: Session) -> int:
        project = project_by_id(session, project_id)
        body = DifficultyRating(
            tag_id=tag_id_of(session, project, tag),
            model=model or None,
            rerate=rerate,
            max_cost=form_budget(max_cost),
        )
        return jobs.create_rate(session, project_id, body)

    task_id = await jobs.in_session(store, create)
    runner.start(task_id)
    return redirect(request, f"/projects/{project_id}/tasks/{task_id}")


@router.get("/duplicates")
def duplicates_page(
    project_id: RowId,
    request: Request,
    session: DbSession,
    tag: str | None = Query(default=None, max_length=5000),
    across_tags: bool = False,
) -> Response:
    """Exact duplicates (same question or answer text) within each tag, or across tags."""
    project = project_by_id(session, project_id)
    return render(
        request, "duplicates.html", **_duplicates_context(session, project, tag, across_tags)
    )


def _duplicates_context(
    session: Session, project: Project, tag: str | None, across_tags: bool
) -> dict[str, Any]:
    values = _values(tag or "", "", "", "", "")
    groups = service.find_duplicates(
        session, project, dataset_filter(session, project, values), across_tags=across_tags
    )
    return {
        "project": project,
        "active": "dataset",
        "groups": groups,
        "filters": {"tag": tag or "", "across_tags": across_tags},
    }


@router.post("/duplicates/label")
def label_duplicates(
    project_id: RowId,
    request: Request,
    session: DbSession,
    label: Annotated[str, Form(min_length=1, max_length=200)] = "duplicate",
    tag: FilterField = "",
    across_tags: Annotated[bool, Form()] = False,
) -> Response:
    """Label every duplicate but the first of its group (as `dataset duplicates --label`)."""
    project = project_by_id(session, project_id)
    context = _duplicates_context(session, project, tag or None, across_tags)
    changed = service.label_duplicates(session, project, context["groups"], label.strip())
    context["notice"] = f"Labelled {changed} duplicate records {label.strip()!r}."
    return render(request, "duplicates.html", **context)


@router.get("/import")
def import_page(project_id: RowId, request: Request, session: DbSession) -> Response:
    """Import a dataset file: questions and answers from Alpaca, ShareGPT, OpenAI messages,
    TRL or custom fields (as `dataset import`)."""
    project = project_by_id(session, project_id)
    models = [endpoint.alias for endpoint in list_endpoints(session)]
    return render(request, "dataset_import.html", models=models, **_import_context(project))


def _import_context(project: Project, **extra: Any) -> dict[str, Any]:
    return {
        "project": project,
        "active": "dataset",
        "shapes": list(service.SHAPES),
        "file_formats": [f for f in service.IMPORT_FORMATS if f != "hf"],
        **extra,
    }


@router.post("/import")
async def import_file(
    project_id: RowId,
    request: Request,
    store: AppStore,
    runner: Runner,
    file: Annotated[UploadFile, File()],
    tag: Annotated[str, Form(max_length=5000)] = "",
    shape: Annotated[str, Form(max_length=20)] = "",
    file_format: Annotated[str, Form(max_length=20)] = "",
    question_field: Annotated[str, Form(max_length=200)] = "",
    answer_field: Annotated[str, Form(max_length=200)] = "",
    reasoning_field: Annotated[str, Form(max_length=200)] = "",
    auto_tag: Annotated[bool, Form()] = False,
    model: Annotated[str, Form(max_length=100)] = "",
    max_cost: Annotated[str, Form(max_length=40)] = "",
) -> Response:
    """The whole file is checked first: a bad row is named and nothing is written. With
    ``auto_tag`` a task places the new questions on leaves of the tree (refused before the
    import when there is no model or no leaf)."""
    await jobs.in_session(store, project_by_id, project_id)  # 404 before the upload is read
    budget = form_budget(max_cost)
    chosen = service.file_format_of(file.filename or "upload", file_format or None)
    typed = {"question": question_field, "answer": answer_field, "reasoning": reasoning_field}
    fields = {part: name.strip() for part, name in typed.items() if name.strip()}
    with tempfile.TemporaryDirectory(prefix="distillset-import-") as work:
        path = Path(work) / f"upload.{chosen}"
        await save_upload(file, path)

        def run(session: Session) -> tuple[ImportResult, int | None]:
            project = project_by_id(session, project_id)
            tag_id = resolve.tag_id(session, project, tag) if tag.strip() else None
            if auto_tag:  # refused before anything is written
                service.check_auto_tag(session, project, model or None, tag.strip() or None)
            result = service.import_dataset(
                session, project, path, tag_id=tag_id, file_format=chosen,
                shape=shape or None, fields=fields,
            )  # fmt: skip
            task = None
            if auto_tag:  # in the import's transaction, as the API does
                task = service.create_auto_tag_task(
                    session,
                    project,
                    from_tag_id=result.tag_id,
                    question_ids=result.question_ids,
                    model=model or None,
                    max_cost=budget,
                )
            return result, task.id if task is not None else None

        result, task_id = await jobs.in_session(store, run)
    if task_id is not None:
        runner.start(task_id)
    with store.session() as session:
        project = project_by_id(session, project_id)
        notice = (
            f"Read {result.read} rows ({result.shape}, {result.file_format}): "
            f"{result.questions} new questions, {result.answers} answers, "
            f"{result.conversations} conversations, "
            f"{result.duplicates} already in the project, under {result.tag_path}."
        )
        if auto_tag and task_id is None:
            notice += " No new question to place on the tree."
        return render(
            request, "_import_result.html", project=project, notice=notice, task_id=task_id
        )

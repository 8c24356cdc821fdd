"""`export_dataset`: stream the chosen records through a format into files, atomically;
`stream_export`: the same rows, by the same writers, as byte chunks (a download)."""

from __future__ import annotations

import contextlib
import shutil
import tempfile
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from distillset.domain import InvalidInputError, NotFoundError
from distillset.export import hf, soft_labels
from distillset.export.atomic import PendingPath
from distillset.export.formats.base import ExportFormat, RenderContext
from distillset.export.llamafactory import dataset_entry, read_info, write_info
from distillset.export.options import ExportOptions, ExportPlan, plan_export, split_path
from distillset.export.pairs import iter_pairs, pair_ids
from distillset.export.selection import BalancedLimit, StratifiedSplit
from distillset.export.writers import ChunkSink, FileFormat, RowWriter, open_writer
from distillset.review.conversations import (
    ConversationRecord,
    conversation_conditions,
    count_complete_conversations,
    iter_conversations,
    list_conversations,
)
from distillset.review.filters import any_record, described_filter, record_conditions
from distillset.review.records import DatasetRecord, iter_records
from distillset.review.soft_labels import load_soft_labels
from distillset.store.models import Project

TRAIN = "train"
NOTHING_MATCHED = "no record matched the filters"


@dataclass
class ExportResult:
    format: str
    file_format: str
    reasoning: str
    records: int = 0
    split_records: dict[str, int] = field(default_factory=dict)
    outputs: dict[str, str] = field(default_factory=dict)  # split name -> path written
    dataset_info: str | None = None
    hub_url: str | None = None
    tags: Counter[str] = field(default_factory=Counter)
    models: Counter[str] = field(default_factory=Counter)
    # Records exported with soft labels (None: not asked for).
    soft_labels: int | None = None
    # Of the records, the conversations (multi-turn rows); and the complete conversations
    # left out because the format holds one exchange per row (no --dataset-type given).
    conversations: int = 0
    conversations_left_out: int = 0

    @property
    def warnings(self) -> list[str]:
        """What a user should know although the export succeeded: an empty dataset or split
        is valid, but rarely what was meant; records without the soft labels asked for."""
        left_out = []
        if self.conversations_left_out:
            left_out.append(
                f"{self.conversations_left_out} conversations left out: the {self.format!r} "
                "format holds one exchange per row (sharegpt, messages, trl, axolotl and "
                "harmony hold conversations)"
            )
        if self.records == 0:
            return [f"{NOTHING_MATCHED}: the export holds an empty dataset", *left_out]
        found = left_out + [
            f"the {name!r} split holds no records"
            for name, count in self.split_records.items()
            if count == 0
        ]
        if self.soft_labels is not None and self.soft_labels < self.records:
            found.append(
                f"{self.records - self.soft_labels} of {self.records} records have no soft "
                "labels: their soft_labels column is null"
            )
        return found

    def as_dict(self) -> dict[str, Any]:
        return {
            "format": self.format,
            "file_format": self.file_format,
            "reasoning": self.reasoning,
            "records": self.records,
            "splits": self.split_records,
            "outputs": self.outputs,
            "dataset_info": self.dataset_info,
            "hub_url": self.hub_url,
            "tags": len(self.tags),
            "models": dict(self.models),
            "soft_labels": self.soft_labels,
            "conversations": self.conversations,
            "conversations_left_out": self.conversations_left_out,
            "warnings": self.warnings,
        }


class _Staging:
    """Where each split's rows are written first, and where they must end up."""

    def __init__(self, plan: ExportPlan, options: ExportOptions, work: Path) -> None:
        self.plan = plan
        self.work = work
        self.splits = [TRAIN] + ([plan.split.name] if plan.split else [])
        in_work = plan.file_format is FileFormat.HF or options.push_to_hub is not None
        # Rows staged in the work directory are Parquet (the HF and Hub forms are built from it).
        self.row_format = FileFormat.PARQUET if in_work else plan.file_format
        self.pending: dict[str, PendingPath] = {}
        if plan.output is not None:
            self.pending[TRAIN] = PendingPath(plan.output)
            if plan.split and plan.file_format is not FileFormat.HF:
                self.pending[plan.split.name] = PendingPath(split_path(plan.output, plan.split))
        self.files: dict[str, Path] = {}
        for name in self.splits:
            if in_work:
                # The Hub layout `data/<split>-*.parquet` that the dataset card points at.
                self.files[name] = work / "hub" / "data" / f"{name}-00000-of-00001.parquet"
            else:
                self.files[name] = self.pending[name].temp
        (work / "hub" / "data").mkdir(parents=True)

    def finish_local(self) -> None:
        """Build the final objects under their temporary names (copies, HF directory)."""
        if self.plan.output is None:
            return
        if self.plan.file_format is FileFormat.HF:
            hf.save_to_disk(self.files, self.pending[TRAIN].temp, self.work / "cache")
            return
        for name, pending in self.pending.items():
            if self.files[name] != pending.temp:
                shutil.copyfile(self.files[name], pending.temp)

    def commit(self) -> dict[str, str]:
        for pending in self.pending.values():
            pending.commit()
        if self.plan.file_format is FileFormat.HF:
            return {name: str(self.pending[TRAIN].final) for name in self.splits}
        return {name: str(pending.final) for name, pending in self.pending.items()}

    def discard(self) -> None:
        for pending in self.pending.values():
            pending.discard()


def conversation_record(conversation: ConversationRecord) -> DatasetRecord:
    """A conversation as the formats read a record: its turns, its question first and its
    last reply as the answer, the system prompt it was made with."""
    turns = tuple((turn.role, turn.content, turn.reasoning) for turn in conversation.turns)
    replies = [turn for turn in conversation.turns if turn.role == "assistant"]
    last = replies[-1]
    return DatasetRecord(
        id=conversation.id,
        question_id=conversation.question_id,
        tag_id=conversation.tag_id,
        tag_path=conversation.tag_path,
        question=conversation.question,
        answer=last.content,
        reasoning=last.reasoning,
        model=last.model,
        confirmed=conversation.confirmed,
        score=conversation.score,
        score_reason=conversation.score_reason,
        note=conversation.note,
        created_at=conversation.created_at,
        system_prompt=conversation.system_prompt,
        prompt=conversation.question,  # known: the record says what its teacher was sent
        turns=turns,
    )


def _batches(
    session: Session, project: Project, options: ExportOptions, plan: ExportPlan, size: int
) -> Iterator[tuple[bool, list[DatasetRecord]]]:
    """The records to export, batch by batch: the single ones, then the conversations (each
    batch with whether it holds conversations)."""
    if plan.singles and plan.fmt.pairs:
        for batch in iter_pairs(
            session, project, options.record_filter, options.margin, batch_size=size
        ):
            yield False, batch
    elif plan.singles:
        for batch in iter_records(session, project, options.records, batch_size=size):
            yield False, batch
    if plan.conversations:
        for talks in iter_conversations(session, project, options.record_filter, batch_size=size):
            yield True, [conversation_record(talk) for talk in talks if talk.turns]


def _check_filter(
    session: Session, project: Project, options: ExportOptions, plan: ExportPlan
) -> None:
    """Refuse a filter that names what does not exist (an unknown --tag, say)."""
    record_conditions(session, project, options.records)
    if plan.conversations:
        conversation_conditions(session, project, options.record_filter)


def _any_match(
    session: Session, project: Project, options: ExportOptions, plan: ExportPlan
) -> bool:
    if plan.singles and any_record(session, project, options.records):
        return True
    return plan.conversations and bool(
        list_conversations(session, project, options.record_filter, complete=True, limit=1)
    )


class RecordContexts:
    """Each record's render context, with the system prompt its teacher was really sent.

    A system prompt given for the export (``--system``) applies to every record; a record
    whose prompt is not known (answered before prompts were kept, or imported) gets the
    project's current one, as it always did."""

    def __init__(self, ctx: RenderContext, options: ExportOptions) -> None:
        self._ctx = ctx
        self._fixed = options.system is not None
        self._by_system: dict[str | None, RenderContext] = {}

    def of(self, record: DatasetRecord) -> RenderContext:
        if self._fixed or not record.prompt_known:
            return self._ctx
        system = record.system_prompt
        ctx = self._by_system.get(system)
        if ctx is None:
            ctx = self._by_system[system] = replace(self._ctx, system=system)
        return ctx

    def row(self, fmt: ExportFormat, record: DatasetRecord) -> dict[str, Any]:
        return fmt.row(record, self.of(record))


def export_dataset(
    session: Session,
    project: Project,
    options: ExportOptions,
    *,
    hub_api: Any | None = None,
) -> ExportResult:
    """Export the project's records as the options say; all checks happen before writing."""
    plan = plan_export(
        options,
        project_name=project.name,
        language=project.language,
        system=project.answer_system_prompt,
    )
    # Everything that can be refused is refused before the first byte is written.
    _check_filter(session, project, options, plan)
    if options.llamafactory_dir is not None:
        read_info(options.llamafactory_dir)  # an unreadable dataset_info.json
    if plan.file_format is FileFormat.HF:
        hf.require("datasets")
    if options.push_to_hub and hub_api is None:
        hf.require("huggingface_hub")
    result = ExportResult(plan.fmt.name, plan.file_format.value, plan.ctx.mode.value)
    if options.dataset_type is None and not plan.fmt.conversational:
        result.conversations_left_out = count_complete_conversations(session, project.id)
    parent = plan.output.parent if plan.output is not None else None
    with tempfile.TemporaryDirectory(prefix=".distillset-export-", dir=parent) as work_dir:
        staging = _Staging(plan, options, Path(work_dir))
        try:
            _write_rows(session, project, options, plan, staging, result)
            staging.finish_local()
            if options.push_to_hub:
                result.hub_url = _push(session, project, options, plan, staging, result, hub_api)
            result.outputs = staging.commit()
        except BaseException:
            staging.discard()
            raise
    if options.llamafactory_dir is not None and plan.output is not None:
        result.dataset_info = str(_register(options.llamafactory_dir, plan, staging))
    return result


def _write_rows(
    session: Session,
    project: Project,
    options: ExportOptions,
    plan: ExportPlan,
    staging: _Staging,
    result: ExportResult,
) -> None:
    schema = plan.schema
    with contextlib.ExitStack() as files:
        writers = {
            name: open_writer(
                staging.row_format, files.enter_context(staging.files[name].open("wb")), schema
            )
            for name in staging.splits
        }
        for _ in _fill(session, project, options, plan, writers, result):
            pass


def _fill(
    session: Session,
    project: Project,
    options: ExportOptions,
    plan: ExportPlan,
    writers: dict[str, RowWriter],
    result: ExportResult,
) -> Iterator[None]:
    """Write the chosen records batch by batch (balanced, split), pausing after each batch
    so a stream can send what was written; the one loop of files and downloads alike."""
    try:
        contexts = RecordContexts(plan.ctx, options)
        balance = BalancedLimit(options.balanced) if options.balanced else None
        split = StratifiedSplit(plan.split.fraction, options.seed) if plan.split else None
        batch_size = options.batch_size
        if plan.soft_labels:
            batch_size = min(batch_size, soft_labels.BATCH_SIZE)
            result.soft_labels = 0
        for talks, batch in _batches(session, project, options, plan, batch_size):
            rows: dict[str, list[dict[str, Any]]] = {name: [] for name in writers}
            stored = load_soft_labels(session, [r.id for r in batch]) if plan.soft_labels else {}
            if talks:
                result.conversations += len(batch)
            for record in batch:
                group = record.difficulty if options.balanced_by == "difficulty" else record.tag_id
                if balance is not None and not balance.keep(group):
                    continue
                target = (
                    plan.split.name
                    if split is not None and plan.split and split.held_out(record.tag_id)
                    else TRAIN
                )
                row = contexts.row(plan.fmt, record)
                if plan.soft_labels:
                    found = stored.get(record.id)
                    row[soft_labels.COLUMN] = soft_labels.soft_labels_value(record, found)
                    result.soft_labels = (result.soft_labels or 0) + (found is not None)
                rows[target].append(row)
                result.tags[record.tag_path] += 1
                result.models[record.model or ""] += 1
            for name, chunk in rows.items():
                writers[name].write(chunk)
            yield
    finally:
        for writer in writers.values():
            writer.close()
    result.split_records = {name: writer.rows for name, writer in writers.items()}
    result.records = sum(result.split_records.values())


def plan_stream(
    session: Session, project: Project, options: ExportOptions, *, refuse_empty: bool = False
) -> ExportPlan:
    """Check an export sent as one stream of bytes (a download): every option, before the
    first byte; what only files can be (a split, an HF directory, the Hub) is refused, and
    with ``refuse_empty`` (a person downloading) a filter that matches no record."""
    if options.split or options.llamafactory_dir is not None or options.push_to_hub:
        raise InvalidInputError("a streamed export is one file: no split, LLaMA-Factory or Hub")
    plan = plan_export(
        options,
        project_name=project.name,
        language=project.language,
        system=project.answer_system_prompt,
        stream=True,
    )
    if plan.file_format is FileFormat.HF:
        raise InvalidInputError("a datasets directory cannot be streamed: choose a file format")
    _check_filter(session, project, options, plan)  # an unknown tag, say
    if refuse_empty and not _any_match(session, project, options, plan):
        raise NotFoundError(f"{NOTHING_MATCHED}: there is nothing to download")
    if (
        refuse_empty
        and plan.fmt.pairs
        and not pair_ids(session, project, options.records, options.margin)
    ):
        raise NotFoundError(
            f"no question has two scored samples at least {options.margin:g} apart: there is "
            "no preference pair to download (score the samples, or lower the margin)"
        )
    return plan


def stream_export(session: Session, project: Project, options: ExportOptions) -> Iterator[bytes]:
    """The export's one file as byte chunks, one per batch of records, written by the same
    writers as `export_dataset` (so the bytes equal its file's); memory holds one batch.
    Checked at once (see plan_stream); the session must stay open while the chunks are read."""
    plan = plan_stream(session, project, options)
    return _stream(session, project, options, plan)


def _stream(
    session: Session, project: Project, options: ExportOptions, plan: ExportPlan
) -> Iterator[bytes]:
    sink = ChunkSink()
    writer = open_writer(plan.file_format, sink, plan.schema)
    result = ExportResult(plan.fmt.name, plan.file_format.value, plan.ctx.mode.value)
    for _ in _fill(session, project, options, plan, {TRAIN: writer}, result):
        if chunk := sink.drain():
            yield chunk
    if chunk := sink.drain():  # what closing wrote: a JSON array's end, Parquet's footer
        yield chunk


def _push(
    session: Session,
    project: Project,
    options: ExportOptions,
    plan: ExportPlan,
    staging: _Staging,
    result: ExportResult,
    hub_api: Any | None,
) -> str:
    assert options.push_to_hub is not None
    folder = staging.work / "hub"
    card = hf.card_text(
        repo=options.push_to_hub,
        splits=result.split_records,
        tags=dict(result.tags),
        models={model: count for model, count in result.models.items()},
        settings=generation_settings(session, project, options, plan),
        language=project.language,
    )
    (folder / "README.md").write_text(card, encoding="utf-8")
    return hf.push_folder(
        folder, options.push_to_hub, private=options.private, token=None, api=hub_api
    )


def generation_settings(
    session: Session, project: Project, options: ExportOptions, plan: ExportPlan
) -> dict[str, Any]:
    """What produced the data, for the dataset card (aliases and model names, never keys;
    the filter's tag by id and path)."""

    def endpoint(which: Any) -> dict[str, Any] | None:
        if which is None:
            return None
        return {"alias": which.alias, "model": which.model, "temperature": which.temperature}

    return {
        "topic": project.topic,
        "language": project.language,
        "question_model": endpoint(project.question_model),
        "answer_model": endpoint(project.answer_model),
        "system_prompt": plan.ctx.system,
        "export": {
            "format": plan.fmt.name,
            "reasoning": plan.ctx.mode.value,
            "filter": described_filter(session, options.record_filter),
            "balanced": options.balanced,
            "split": options.split,
            "seed": options.seed if options.split else None,
        },
    }


def _register(directory: Path, plan: ExportPlan, staging: _Staging) -> Path:
    entries = {}
    for name, pending in staging.pending.items():
        key = plan.dataset_name if name == TRAIN else f"{plan.dataset_name}_{name}"
        entries[key] = dataset_entry(plan.fmt, plan.ctx, directory, pending.final)
    return write_info(directory, entries)

"""Keeping an answer's soft labels: the packed blob the gateway captured, with the identity
of the tokenizer its ids belong to, in the soft_labels table beside the answer."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, Table, delete, insert

from distillset.llm import ChatResult, EndpointConfig, Gateway
from distillset.llm.soft_labels import (
    ABSENT,
    MALFORMED,
    MISALIGNED,
    REFUSED,
    WITHHELD,
    SoftLabelCapture,
)
from distillset.llm.teacher import tokenizer_identity
from distillset.store.models import SoftLabel

# The key of an answer row that carries its soft labels row until the answer has an id.
SOFT_LABELS = "_soft_labels"

_soft_labels: Table = SoftLabel.__table__  # type: ignore[assignment]


def answer_fields(result: ChatResult) -> dict[str, Any]:
    """What an answer row keeps of its reply's exact text and soft labels."""
    return {
        "raw_content": result.raw_content,
        "raw_reasoning": result.raw_reasoning,
        "text_spans": result.spans,
        "soft_label_status": None if result.soft_labels is None else result.soft_labels.status,
    }


async def soft_label_row(
    gateway: Gateway, endpoint: EndpointConfig, result: ChatResult
) -> dict[str, Any] | None:
    """The soft_labels row of a reply (its answer id still to come), None when it has none."""
    captured = result.soft_labels
    if captured is None or captured.blob is None:
        return None
    server = await gateway.server_identity(endpoint)
    return {
        "tokens": captured.tokens,
        "k": captured.k,
        "has_ids": captured.has_ids,
        "answer_start": captured.answer_start,
        "tokenizer": tokenizer_identity(endpoint, result.model, server),
        "data": captured.blob,
    }


def split_rows(rows: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], list[Any]]:
    """The answer rows without their soft labels rows, and those (None where none)."""
    plain = [{k: v for k, v in row.items() if k != SOFT_LABELS} for row in rows]
    return plain, [row.get(SOFT_LABELS) for row in rows]


def insert_soft_labels(connection: Connection, answer_ids: list[int], rows: list[Any]) -> None:
    """Store each answer's soft labels (in the transaction that stores the answers)."""
    values = [
        {**row, "answer_id": answer_id}
        for answer_id, row in zip(answer_ids, rows, strict=True)
        if row is not None
    ]
    if values:
        connection.execute(insert(_soft_labels), values)


def replace_soft_labels(connection: Connection, answer_id: int, row: dict[str, Any] | None) -> None:
    """An answer sampled anew keeps the new reply's soft labels, or none."""
    connection.execute(delete(_soft_labels).where(_soft_labels.c.answer_id == answer_id))
    insert_soft_labels(connection, [answer_id], [row])


_NOTES = {
    REFUSED: "the server refused soft labels ({detail}): answers are stored without them",
    ABSENT: "the server sent no logprobs (it ignores them): answers are stored without soft labels",
    MALFORMED: "the server's logprobs could not be read ({detail}): answers are stored without "
    "soft labels",
    WITHHELD: "soft labels withheld: {detail}",
    MISALIGNED: "the teacher's tokens do not spell the text it sent: such records are flagged "
    "misaligned",
}


def soft_labels_note(captured: SoftLabelCapture | None) -> tuple[str, str] | None:
    """(the case, a line for the run's events) when soft labels asked for were not kept as
    they should be; None when they were, or none were asked for."""
    if captured is None or captured.status not in _NOTES:
        return None
    return captured.status, _NOTES[captured.status].format(detail=captured.detail)

"""One record update from the API or a review form, through the dataset review services."""

from __future__ import annotations

from sqlalchemy.orm import Session

from distillset import review as service
from distillset.store import Project
from distillset.web.schemas import RecordUpdate


def apply_record_update(
    session: Session, project: Project, record_id: int, body: RecordUpdate
) -> None:
    given = body.model_fields_set
    if given & {"question", "answer", "reasoning"}:
        service.edit_record(
            session,
            project,
            record_id,
            question=body.question,
            answer=body.answer,
            reasoning=body.reasoning,
            clear_reasoning="reasoning" in given and body.reasoning is None,
        )
    if body.confirmed is not None:
        service.set_confirmed(session, project, body.confirmed, ids=[record_id])
    if "score" in given:
        service.set_score(session, project, body.score, ids=[record_id])
    if "note" in given:
        service.set_note(session, project, record_id, body.note)
    if body.labels is not None:
        current = service.get_record(session, project, record_id).labels
        service.change_labels(
            session,
            project,
            [record_id],
            add=body.labels,
            remove=[label for label in current if label not in body.labels],
        )

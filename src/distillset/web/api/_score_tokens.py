"""Score tokens from the web: probe the endpoint (a server that cannot score given text is
refused in one line, before any task), then create the task over the chosen records."""

from __future__ import annotations

from sqlalchemy.orm import Session

from distillset.answers import create_score_task, probe_scoring
from distillset.config import Settings
from distillset.llm import EndpointConfig
from distillset.projects import endpoint_config, get_endpoint
from distillset.review import RecordFilter, chosen_filter
from distillset.store import Store
from distillset.web.api._jobs import in_session
from distillset.web.api._record_filters import record_filter
from distillset.web.deps import project_by_id
from distillset.web.schemas import TokenScoring


async def start_scoring(
    store: Store, settings: Settings, project_id: int, body: TokenScoring
) -> int:
    """The id of the queued score-tokens task over the body's records (the caller starts it)."""

    def chosen(session: Session) -> RecordFilter:
        project = project_by_id(session, project_id)
        flt = record_filter(session, project, tag_id=body.tag_id)
        return chosen_filter(body.ids, flt, body.all)

    records = await in_session(store, chosen)
    return await score_records(
        store, settings, project_id, body.endpoint, body.k, records, body.max_cost
    )


async def score_records(
    store: Store,
    settings: Settings,
    project_id: int,
    endpoint: str,
    k: int,
    records: RecordFilter,
    max_cost: float | None = None,
) -> int:
    """Probe the endpoint, then queue the task over ``records`` (``max_cost``: its
    budget); its id."""

    def config_of(session: Session) -> EndpointConfig:
        project_by_id(session, project_id)  # a 404 before the probe
        return endpoint_config(get_endpoint(session, endpoint), settings)

    await probe_scoring(store, await in_session(store, config_of), k)

    def create(session: Session) -> int:
        task = create_score_task(
            session, project_by_id(session, project_id), endpoint=endpoint,
            record_filter=records, k=k, max_cost=max_cost,
        )  # fmt: skip
        return task.id

    return await in_session(store, create)

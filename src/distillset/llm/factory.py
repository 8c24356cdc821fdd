"""The default parts of a gateway: HTTP, the call log of a store, the shared limiters."""

from __future__ import annotations

from distillset.llm.batch import BatchQueue
from distillset.llm.calls import CallLog
from distillset.llm.config import LimitSettings
from distillset.llm.gateway import Gateway, SendGuard
from distillset.llm.limiter import Limiter, shared_limiters
from distillset.llm.shared_rates import DatabaseRates, can_share_rates
from distillset.llm.transport import HttpTransport
from distillset.store.db import Store


def open_gateway(
    store: Store,
    limits: LimitSettings,
    *,
    project_id: int | None,
    use_cache: bool = True,
    send_guard: SendGuard | None = None,
    batches: BatchQueue | None = None,
) -> Gateway:
    """A gateway with the defaults: HTTP, the call log of ``store``, and the limiter every
    gateway of the project shares in this process (a fresh one without a project), whose
    per-minute limits every process of the database shares where it can (PostgreSQL)."""
    if project_id is None:
        limiter = Limiter(
            limits.max_concurrency, limits.requests_per_minute, limits.tokens_per_minute
        )
    else:
        # Keyed by database too: project ids of two stores are different projects.
        limiter = shared_limiters().get(
            ("project", str(store.engine.url), project_id),
            limits.max_concurrency,
            limits.requests_per_minute,
            limits.tokens_per_minute,
        )
        if can_share_rates(store):
            limiter.share_rates(DatabaseRates(store, f"project:{project_id}"))
    return Gateway(
        limits,
        transport=HttpTransport(limits.max_concurrency, limits.request_timeout),
        calls=CallLog(store),
        limiter=limiter,
        endpoint_limiters=shared_limiters(),
        project_id=project_id,
        use_cache=use_cache,
        send_guard=send_guard,
        batches=batches,
    )

"""Per-minute limits that hold across processes on PostgreSQL: buckets in the database.

On PostgreSQL every process of a project (the workers sharing a job, a second task of the
project elsewhere) draws the project's and its endpoints' RPM/TPM budgets from
``rate_buckets`` rows, in grants (``llm.rate_grants``): one short transaction that locks the
row, refills it for the time since it was last drawn from (by the database's clock, the same
for every machine), and takes the grant. Grants rather than a fair share of the rate per
worker: the whole rate goes to the processes that have requests to send, a worker that joins
or dies changes nothing, and what a dead worker drew lapses with it, never exceeding the limit
by more than its one grant.

SQLite has no row locks to share; a job there runs in one process, which keeps its buckets.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import func, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert

from distillset.llm.rate_grants import draw_grant
from distillset.store import RateBucket, Store


def can_share_rates(store: Store) -> bool:
    """Whether the processes of this store share their rate limits (row locks: PostgreSQL)."""
    return store.engine.dialect.name == "postgresql"


@dataclass(frozen=True)
class DatabaseRates:
    """The rate buckets of one limit (``name``, e.g. ``project:12``), kept in ``store``;
    equal for the same limit in the same database."""

    store: Store = field(compare=False)
    name: str
    database: str = field(default="", init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "database", str(self.store.engine.url))

    def for_limit(self, name: str) -> DatabaseRates:
        return DatabaseRates(self.store, name)

    def draw(
        self, kind: str, rate: float, capacity: float, need: float, want: float
    ) -> tuple[float, float]:
        """Take a grant from the bucket ``kind`` (created full on first use): (granted,
        seconds until ``need`` could be granted)."""
        name = f"{self.name}:{kind}"
        locked = (
            select(RateBucket.level, RateBucket.updated_at, func.clock_timestamp())
            .where(RateBucket.name == name)
            .with_for_update()
        )
        with self.store.session() as session:
            row = session.execute(locked).one_or_none()
            if row is None:
                session.execute(
                    pg_insert(RateBucket)
                    .values(name=name, level=capacity, updated_at=func.clock_timestamp())
                    .on_conflict_do_nothing()
                )
                row = session.execute(locked).one()
            level, updated_at, now = row
            # (A clock read before another worker's draw committed: no time has passed.)
            elapsed = (now - updated_at).total_seconds()
            granted, level, wait = draw_grant(level, elapsed, rate, capacity, need, want)
            session.execute(
                update(RateBucket)
                .where(RateBucket.name == name)
                .values(level=level, updated_at=max(now, updated_at))
            )
        return granted, wait

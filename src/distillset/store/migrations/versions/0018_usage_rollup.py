"""usage rollup: the usage log's sums kept at write time, so the usage report never scans it

Revision ID: 0018_usage_rollup
Revises: 0016_record_history
Create Date: 2026-12-05 13:30:00

Two tables, kept by triggers on llm_calls (insert, update, delete; a task's deletion sets its
calls' task_id NULL and a project's deletion deletes its calls, both through the same
triggers): usage_rollup sums the calls per (project, UTC day, endpoint alias, task; 0 for
none), usage_latency counts the successful calls' latencies per (project, latency bin).
Calls with no project are not counted (the report is per project). Both are filled from the
calls already logged.

Each trigger applies a signed delta (+1 per new row, -1 per old row) through one statement per
table, so SQLite's row triggers and PostgreSQL's statement triggers (with transition tables)
share the same SQL.

Each row also belongs to a writer, part of its key: on PostgreSQL the writing connection's
backend (pg_backend_pid(); a connection runs one transaction at a time), so transactions
writing calls of the same project at the same time each add to their own rows: none waits for
another's, none can deadlock on them. A writer's update or delete adds its negative delta to
its own rows; the report sums over writers (a group whose calls sum to 0 has no calls). Its
rows are exact (numeric sums), so a writer's row that nets to zero in every column is
deleted; a deleted task's or project's rows (every writer's: their sums are zero by then) go
with it. SQLite has one writer at a time: its writer is 0, a row is its group's total, and one
whose calls fall to zero is deleted.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0018_usage_rollup"
down_revision = "0017_tag_counts"
branch_labels = None
depends_on = None

# The columns a delta row carries, after its sign.
_CALL_COLUMNS = (
    "project_id",
    "task_id",
    "endpoint_alias",
    "status",
    "input_tokens",
    "output_tokens",
    "cached_input_tokens",
    "cost",
    "latency_ms",
    "created_at",
)
_ROLLUP_KEY = "(project_id, day, endpoint_alias, task_id, writer)"
_LATENCY_KEY = "(project_id, bin, writer)"
_SUMMED = (
    "calls",
    "failed",
    "input_tokens",
    "output_tokens",
    "cached_input_tokens",
    "cost",
    "priced",
    "latency_sum",
    "timed",
)
# A latency's bin, as quality.usage reads them: 10 ms wide below 10 s, 1 s wide above
# (store.models.LATENCY_FINE_MS, LATENCY_FINE_LIMIT_MS, LATENCY_COARSE_MS), truncated.
_TIMED_OK = "project_id IS NOT NULL AND status = 'ok' AND latency_ms IS NOT NULL"
_BIN = (
    "CASE WHEN latency_ms < 10000 THEN latency_ms / 10 ELSE 1000 + (latency_ms - 10000) / 1000 END"
)


def _day(dialect: str) -> str:
    # SQLite keeps datetimes as UTC ISO text: its first 10 characters are the day.
    if dialect == "sqlite":
        return "substr(created_at, 1, 10)"
    return "CAST(created_at AT TIME ZONE 'UTC' AS date)"


def _bin(dialect: str) -> str:
    if dialect == "sqlite":
        return f"CAST({_BIN} AS INTEGER)"
    return f"CAST(floor({_BIN}) AS INTEGER)"


def _writer(dialect: str) -> str:
    """The writer whose rows a trigger adds to (see the module's docstring)."""
    return "0" if dialect == "sqlite" else "pg_backend_pid()"


def _exact(dialect: str, value: str) -> str:
    # PostgreSQL sums the float columns as numeric: a writer's +x and -x cancel exactly.
    return value if dialect == "sqlite" else f"CAST({value} AS numeric)"


def _empty(dialect: str) -> str:
    """A usage_rollup row that counts nothing: on SQLite the group's total, so no calls; on
    PostgreSQL one writer's part, zero in every column."""
    if dialect == "sqlite":
        return "calls = 0"
    return " AND ".join(f"{name} = 0" for name in _SUMMED)


def _upserts(dialect: str, delta: str) -> list[str]:
    """The statements that add a delta (a SELECT of sign and _CALL_COLUMNS) to both tables,
    in the current writer's rows."""
    day, bin_, writer = _day(dialect), _bin(dialect), _writer(dialect)
    signed = {
        "calls": "sum(sign)",
        "failed": "sum(CASE WHEN status <> 'ok' THEN sign ELSE 0 END)",
        "input_tokens": "sum(sign * coalesce(input_tokens, 0))",
        "output_tokens": "sum(sign * coalesce(output_tokens, 0))",
        "cached_input_tokens": "sum(sign * coalesce(cached_input_tokens, 0))",
        "cost": f"sum(sign * {_exact(dialect, 'coalesce(cost, 0)')})",
        "priced": "sum(CASE WHEN cost IS NOT NULL THEN sign ELSE 0 END)",
        "latency_sum": f"sum(sign * {_exact(dialect, 'coalesce(latency_ms, 0)')})",
        "timed": "sum(CASE WHEN latency_ms IS NOT NULL THEN sign ELSE 0 END)",
    }
    added = ", ".join(f"{name} = usage_rollup.{name} + excluded.{name}" for name in _SUMMED)
    return [
        "INSERT INTO usage_rollup (project_id, day, endpoint_alias, task_id, writer, "
        f"{', '.join(_SUMMED)}) "
        f"SELECT project_id, {day}, endpoint_alias, coalesce(task_id, 0), {writer}, "
        f"{', '.join(signed[name] for name in _SUMMED)} "
        f"FROM ({delta}) AS delta WHERE project_id IS NOT NULL "
        "GROUP BY 1, 2, 3, 4 "
        f"ON CONFLICT {_ROLLUP_KEY} DO UPDATE SET {added}",
        "INSERT INTO usage_latency (project_id, bin, writer, calls) "
        f"SELECT project_id, {bin_}, {writer}, sum(sign) FROM ({delta}) AS delta "
        f"WHERE {_TIMED_OK} GROUP BY 1, 2 HAVING sum(sign) <> 0 "
        f"ON CONFLICT {_LATENCY_KEY} DO UPDATE SET calls = usage_latency.calls + excluded.calls",
    ]


def _apply(dialect: str, delta: str) -> list[str]:
    """The upserts of a delta, then the deletion of the current writer's rows it left empty
    (an insert's delta, only positive, needs the upserts alone)."""
    day, bin_, writer = _day(dialect), _bin(dialect), _writer(dialect)
    return [
        *_upserts(dialect, delta),
        f"DELETE FROM usage_rollup WHERE writer = {writer} AND {_empty(dialect)} "
        "AND (project_id, day, endpoint_alias, task_id) IN ("
        f"SELECT project_id, {day}, endpoint_alias, coalesce(task_id, 0) FROM ({delta}) AS delta)",
        f"DELETE FROM usage_latency WHERE writer = {writer} AND calls = 0 "
        "AND (project_id, bin) IN ("
        f"SELECT project_id, {bin_} FROM ({delta}) AS delta WHERE {_TIMED_OK})",
    ]


def _rows_of(table: str, sign: int) -> str:
    return f"SELECT {sign} AS sign, {', '.join(_CALL_COLUMNS)} FROM {table}"


def _row(ref: str, sign: int) -> str:
    return f"SELECT {sign} AS sign, " + ", ".join(f"{ref}.{c} AS {c}" for c in _CALL_COLUMNS)


def _sqlite_triggers() -> list[str]:
    body = {
        "insert": _upserts("sqlite", _row("NEW", 1)),
        "delete": _apply("sqlite", _row("OLD", -1)),
        "update": _apply("sqlite", f"{_row('OLD', -1)} UNION ALL {_row('NEW', 1)}"),
    }
    # Only the columns the sums read: the gateway's status updates fire it, a body's not.
    columns = {
        "insert": "INSERT",
        "delete": "DELETE",
        "update": f"UPDATE OF {', '.join(_CALL_COLUMNS)}",
    }
    return [
        f"CREATE TRIGGER usage_rollup_{op_name} AFTER {columns[op_name]} ON llm_calls "
        f"BEGIN {'; '.join(statements)}; END"
        for op_name, statements in body.items()
    ]


def _postgresql_triggers() -> list[str]:
    changed = " OR ".join(f"n.{c} IS DISTINCT FROM o.{c}" for c in _CALL_COLUMNS)
    pairs = f"FROM new_rows AS n JOIN old_rows AS o ON n.id = o.id WHERE {changed}"
    # Of an update, only the rows whose counted columns changed.
    updated = (
        f"SELECT -1 AS sign, {', '.join(f'o.{c}' for c in _CALL_COLUMNS)} {pairs} "
        f"UNION ALL SELECT 1 AS sign, {', '.join(f'n.{c}' for c in _CALL_COLUMNS)} {pairs}"
    )
    body = {
        "insert": _upserts("postgresql", _rows_of("new_rows", 1)),
        "delete": _apply("postgresql", _rows_of("old_rows", -1)),
        "update": _apply("postgresql", updated),
    }
    tables = {
        "insert": "NEW TABLE AS new_rows",
        "delete": "OLD TABLE AS old_rows",
        "update": "OLD TABLE AS old_rows NEW TABLE AS new_rows",
    }
    statements = []
    for op_name, steps in body.items():
        statements.append(
            f"CREATE FUNCTION usage_rollup_{op_name}() RETURNS trigger LANGUAGE plpgsql AS $$ "
            f"BEGIN {'; '.join(steps)}; RETURN NULL; END $$"
        )
        statements.append(
            f"CREATE TRIGGER usage_rollup_{op_name} AFTER {op_name.upper()} ON llm_calls "
            f"REFERENCING {tables[op_name]} FOR EACH STATEMENT "
            f"EXECUTE FUNCTION usage_rollup_{op_name}()"
        )
    # A deleted task's or project's rows, every writer's (their sums are zero by then: its
    # calls are gone, or moved to no task, through the foreign keys' actions). At commit:
    # those actions' llm_calls triggers fire after the parent's own row triggers. No writer
    # holds those rows then: one writing the task's or project's calls holds its row (key
    # share) or its calls, which the deletion waited for.
    for name, (table, deletes) in _PARENTS.items():
        statements.append(
            f"CREATE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $$ "
            f"BEGIN {deletes}; RETURN NULL; END $$"
        )
        statements.append(
            f"CREATE CONSTRAINT TRIGGER {name} AFTER DELETE ON {table} "
            f"DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION {name}()"
        )
    return statements


# PostgreSQL's triggers on deleted parents: name, (table, what they delete).
_PARENTS = {
    "usage_rollup_project": (
        "projects",
        "DELETE FROM usage_rollup WHERE project_id = OLD.id; "
        "DELETE FROM usage_latency WHERE project_id = OLD.id",
    ),
    "usage_rollup_task": (
        "tasks",
        "DELETE FROM usage_rollup WHERE project_id = OLD.project_id AND task_id = OLD.id",
    ),
}
# Float sums, numeric on PostgreSQL (see _exact).
_EXACT = sa.Float().with_variant(sa.Numeric(), "postgresql")


def upgrade() -> None:
    op.create_table(
        "usage_rollup",
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("endpoint_alias", sa.String(length=100), nullable=False),
        sa.Column("task_id", sa.Integer(), nullable=False),
        sa.Column("writer", sa.Integer(), nullable=False),
        sa.Column("calls", sa.Integer(), nullable=False),
        sa.Column("failed", sa.Integer(), nullable=False),
        sa.Column("input_tokens", sa.BigInteger(), nullable=False),
        sa.Column("output_tokens", sa.BigInteger(), nullable=False),
        sa.Column("cached_input_tokens", sa.BigInteger(), nullable=False),
        sa.Column("cost", _EXACT, nullable=False),
        sa.Column("priced", sa.Integer(), nullable=False),
        sa.Column("latency_sum", _EXACT, nullable=False),
        sa.Column("timed", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("project_id", "day", "endpoint_alias", "task_id", "writer"),
    )
    op.create_table(
        "usage_latency",
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column("bin", sa.Integer(), nullable=False),
        sa.Column("writer", sa.Integer(), nullable=False),
        sa.Column("calls", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("project_id", "bin", "writer"),
    )
    dialect = op.get_bind().dialect.name
    for statement in _upserts(dialect, _rows_of("llm_calls", 1)):
        op.execute(statement)
    for statement in _sqlite_triggers() if dialect == "sqlite" else _postgresql_triggers():
        op.execute(statement)


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    for op_name in ("insert", "update", "delete"):
        if dialect == "sqlite":
            op.execute(f"DROP TRIGGER IF EXISTS usage_rollup_{op_name}")
        else:
            op.execute(f"DROP TRIGGER IF EXISTS usage_rollup_{op_name} ON llm_calls")
            op.execute(f"DROP FUNCTION IF EXISTS usage_rollup_{op_name}()")
    if dialect != "sqlite":
        for name, (table, _) in _PARENTS.items():
            op.execute(f"DROP TRIGGER IF EXISTS {name} ON {table}")
            op.execute(f"DROP FUNCTION IF EXISTS {name}()")
    op.drop_table("usage_latency")
    op.drop_table("usage_rollup")

"""Opening the store: engine, SQLite pragmas, migrations applied on open, sessions."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import URL, Connection, Engine, create_engine, event, make_url, text
from sqlalchemy.exc import ArgumentError, NoSuchModuleError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from distillset.config import Settings
from distillset.domain import DistillsetError

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
SQLITE_BUSY_TIMEOUT_MS = 30_000


def _set_sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    cursor.execute("PRAGMA foreign_keys=ON")
    # WAL + NORMAL is durable against process crashes (our concern), and much faster.
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def _begin_before_savepoint(connection: Connection, _name: str) -> None:
    """pysqlite's legacy transaction control emits BEGIN only before INSERT, UPDATE and
    DELETE: a SAVEPOINT that comes first opens a transaction of its own, which its RELEASE
    commits, so a rollback of the transaction around it would keep what it wrote. BEGIN the
    enclosing transaction first. (Other statements keep pysqlite's late BEGIN: reads outside
    a write transaction are what keeps concurrent SQLite writers from "database is locked".)"""
    if not connection.connection.dbapi_connection.in_transaction:  # type: ignore[union-attr]
        connection.exec_driver_sql("BEGIN")


def _missing_driver(scheme: str, exc: ModuleNotFoundError) -> DistillsetError:
    """What to install for a URL whose database driver is missing."""
    if scheme.split("+")[0] in ("postgresql", "postgres"):
        fix = "install the postgres extra: pip install 'distillset[postgres]'"
        if exc.name != "psycopg":
            fix += ", and write the URL as postgresql+psycopg://..."
    else:
        fix = f"install the Python package that provides {exc.name!r}"
    return DistillsetError(f"the database driver for {scheme}:// is not installed: {fix}")


def make_engine(url: str) -> Engine:
    """An engine for a database URL; a URL that cannot be used is one clear error, which
    names the URL's scheme only (the rest may hold a password)."""
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise DistillsetError(
            "DISTILLSET_DATABASE_URL is not a database URL: expected e.g. "
            "sqlite:///path/to/file.sqlite3 or postgresql+psycopg://user@host/db"
        ) from None
    scheme = parsed.drivername
    try:
        return _create_engine(parsed)
    except NoSuchModuleError:
        raise DistillsetError(
            f"unknown database type {scheme!r} in DISTILLSET_DATABASE_URL: "
            "use sqlite:///... or postgresql+psycopg://..."
        ) from None
    except ModuleNotFoundError as exc:
        raise _missing_driver(scheme, exc) from None


def _create_engine(url: URL) -> Engine:
    if url.get_backend_name() == "sqlite":
        path = url.database
        if path and path != ":memory:":
            folder = Path(path).parent
            try:
                folder.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                reason = exc.strerror or type(exc).__name__
                raise DistillsetError(f"cannot open the database: {folder}: {reason}") from exc
        engine = create_engine(url, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000})
        event.listen(engine, "connect", _set_sqlite_pragmas)
        event.listen(engine, "savepoint", _begin_before_savepoint)
        return engine
    return create_engine(url, pool_pre_ping=True)


def alembic_config(engine: Engine) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["engine"] = engine
    return config


# Alembic keeps its running context in module globals: one migration at a time per process.
_MIGRATION_LOCK = threading.Lock()
# Any constant: the PostgreSQL advisory lock that serialises migrations across processes.
_PG_MIGRATION_LOCK_ID = 0x64697374


def _lock_for_migration(connection: Connection) -> None:
    """Hold the database's write lock while checking and migrating, so two processes
    opening a fresh database at once migrate it once, one after the other."""
    if connection.dialect.name == "sqlite":
        connection.exec_driver_sql("BEGIN IMMEDIATE")
    elif connection.dialect.name == "postgresql":
        connection.execute(text("SELECT pg_advisory_xact_lock(:id)"), {"id": _PG_MIGRATION_LOCK_ID})


def _current_revision(connection: Connection, known: set[str]) -> str | None:
    current = MigrationContext.configure(connection).get_current_revision()
    if current is not None and current not in known:
        raise DistillsetError(
            f"the database schema ({current}) is newer than this distillset knows; "
            "upgrade distillset to open it"
        )
    return current


def migrate(engine: Engine) -> None:
    """Bring the schema to the newest revision; refuse a database from a newer distillset."""
    config = alembic_config(engine)
    script = ScriptDirectory.from_config(config)
    known = {rev.revision for rev in script.walk_revisions()}
    head = script.get_current_head()
    # The common case reads only, so a read-only database still opens.
    with engine.connect() as connection:
        if _current_revision(connection, known) == head:
            return
    with _MIGRATION_LOCK, engine.connect() as connection:
        _lock_for_migration(connection)
        # Checked again under the lock: another opener may have migrated meanwhile.
        if _current_revision(connection, known) != head:
            config.attributes["connection"] = connection
            command.upgrade(config, "head")
        connection.commit()


@dataclass
class Store:
    """An open database: the engine and a session factory."""

    engine: Engine
    sessions: sessionmaker[Session]

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A session that commits on success and rolls back on error."""
        session = self.sessions()
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise
        finally:
            session.close()

    def close(self) -> None:
        self.engine.dispose()


def open_store(settings: Settings) -> Store:
    """Open (and migrate) the database named by the settings."""
    engine = make_engine(settings.resolved_database_url)
    try:
        migrate(engine)
    except OperationalError as exc:
        engine.dispose()
        raise DistillsetError(f"cannot open the database: {exc.orig}") from exc
    except BaseException:
        engine.dispose()
        raise
    return Store(engine, sessionmaker(engine, expire_on_commit=False))

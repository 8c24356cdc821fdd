"""Alembic environment: runs on the engine handed over by ``distillset.store.db``."""

from __future__ import annotations

from alembic import context

from distillset.store.models import Base

engine = context.config.attributes["engine"]

with engine.connect() as connection:
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        render_as_batch=connection.dialect.name == "sqlite",
    )
    with context.begin_transaction():
        context.run_migrations()

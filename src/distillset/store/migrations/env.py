"""Alembic environment: runs on the connection (or engine) given by ``distillset.store.db``."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection

from distillset.store.models import Base, is_text_index_table


def include_name(name: str | None, type_: str, _parent_names: object) -> bool:
    # Autogenerate must not offer to drop the full-text indexes that no model describes.
    return not (type_ == "table" and is_text_index_table(name))


def run_migrations(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        include_name=include_name,
    )
    # Inside the caller's transaction (which holds the migration lock) this commits nothing;
    # the caller commits once everything succeeded.
    with context.begin_transaction():
        context.run_migrations()


given = context.config.attributes.get("connection")
if given is not None:
    run_migrations(given)
else:
    with context.config.attributes["engine"].connect() as connection:
        run_migrations(connection)
        connection.commit()

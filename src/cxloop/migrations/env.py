"""Alembic environment: the only way cxloop's schema is made (ADR 0002)."""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine, pool

from cxloop.kit.db import sync_url, tune_sync_engine
from cxloop.models import metadata

config = context.config


def run_migrations_offline() -> None:
    context.configure(
        url=config.get_main_option("sqlalchemy.url"),
        target_metadata=metadata,
        literal_binds=True,
        render_as_batch=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    url = sync_url(str(config.get_main_option("sqlalchemy.url")))
    engine = create_engine(url, poolclass=pool.NullPool)
    tune_sync_engine(engine)
    with engine.connect() as conn:
        _run(conn)
    engine.dispose()


def _run(connection) -> None:  # type: ignore[no-untyped-def]
    context.configure(
        connection=connection, target_metadata=metadata, render_as_batch=True, compare_type=True
    )
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()

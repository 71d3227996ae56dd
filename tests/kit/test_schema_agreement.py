"""The models and the migrations describe the same schema, on each database.

Alembic's autogenerate comparison runs against the database the migrations
made for this test run; any difference (a table, column, type, index,
constraint or foreign key) means a model changed without a migration, or
the other way round.
"""

from __future__ import annotations

from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from cxloop.kit.migrate import current_heads, script_heads
from cxloop.models import metadata
from tests.identity.support import engine_for


def test_models_match_migrations(database_url: str) -> None:
    with engine_for(database_url) as engine, engine.connect() as conn:
        context = MigrationContext.configure(
            conn, opts={"compare_type": True, "compare_server_default": False}
        )
        differences: list[Any] = compare_metadata(context, metadata)
    assert differences == []


def test_database_is_at_the_newest_migration(database_url: str) -> None:
    assert current_heads(database_url) == script_heads()
    assert len(script_heads()) == 1


def test_the_comparison_would_see_a_drift(database_url: str) -> None:
    """A control: a model column without a migration is reported."""
    from sqlalchemy import Column, Integer, MetaData

    drifted = MetaData(naming_convention=metadata.naming_convention)
    for table in metadata.tables.values():
        table.to_metadata(drifted)
    drifted.tables["units"].append_column(Column("floor_area", Integer, nullable=True))
    with engine_for(database_url) as engine, engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        differences = compare_metadata(context, drifted)
    assert [(d[0], d[2], d[3].name) for d in differences] == [("add_column", "units", "floor_area")]

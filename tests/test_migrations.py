"""The Alembic migrations build, on an empty database, exactly the schema the models describe."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask_migrate import downgrade, upgrade

from portal.core.extensions import db
from portal.core.search.models import not_full_text_index
from tests.helpers import TEST_DATABASE_URL, drop_schema, in_schema, make_app, recreate_schema, worker_name

SCHEMA = f"migration_check_{worker_name()}"  # beside this worker's test_gw0 schema, never in it


def _empty_database_uri(tmp_path: Path) -> str:
    if not TEST_DATABASE_URL:
        return "sqlite:///" + str(tmp_path / "empty.sqlite3")
    from portal.core.config import sqlalchemy_url

    uri = in_schema(sqlalchemy_url(TEST_DATABASE_URL, str(tmp_path)), SCHEMA)
    recreate_schema(uri, SCHEMA)
    return uri


def _differences() -> list[Any]:
    with db.engine.connect() as connection:
        context = MigrationContext.configure(
            connection, opts={"compare_type": True, "include_name": not_full_text_index}
        )
        return compare_metadata(context, db.metadata)


def test_upgrade_on_an_empty_database_matches_the_models(tmp_path: Path) -> None:
    app = make_app(_empty_database_uri(tmp_path), tmp_path / "instance")
    with app.app_context():
        upgrade()
        assert _differences() == []
        tables = set(sa.inspect(db.engine).get_table_names())
        assert set(db.metadata.tables) <= tables and "alembic_version" in tables
        downgrade(revision="base")
        assert set(sa.inspect(db.engine).get_table_names()) <= {"alembic_version"}
        upgrade()
        assert _differences() == []
        db.engine.dispose()
    if TEST_DATABASE_URL:
        drop_schema(app.config["SQLALCHEMY_DATABASE_URI"], SCHEMA)


def test_constraints_follow_the_naming_convention() -> None:
    for table in db.metadata.tables.values():
        for constraint in table.constraints:
            assert constraint.name and str(constraint.name).startswith(("pk_", "fk_", "uq_", "ck_")), constraint


def _row_counts(tables: set[str]) -> dict[str, int]:
    with db.engine.connect() as connection:
        return {
            name: connection.execute(sa.select(sa.func.count()).select_from(sa.table(name))).scalar_one()
            for name in sorted(tables)
        }


def test_migrating_down_and_up_keeps_every_row(tmp_path: Path) -> None:
    """A batch migration on SQLite copies and drops a table; with foreign keys on that would
    delete the rows pointing at it (a story's media, say). Every row survives down and up again."""
    from portal.demo import seed

    app = make_app(_empty_database_uri(tmp_path), tmp_path / "instance")
    with app.app_context():
        upgrade()
        seed()
        db.session.commit()
        db.session.remove()
        tables = set(db.metadata.tables)
        before = _row_counts(tables)
        assert before["stories"] > 0 and before["story_tags"] > 0
        downgrade(revision="0018")
        upgrade()
        assert _row_counts(tables) == before
        assert _differences() == []
        db.engine.dispose()
    if TEST_DATABASE_URL:
        drop_schema(app.config["SQLALCHEMY_DATABASE_URI"], SCHEMA)

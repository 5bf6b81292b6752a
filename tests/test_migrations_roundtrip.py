"""`flask db downgrade base` and `flask db upgrade head` with data in every table: going down opens
what the later revisions sealed and drops everything (no table, index, trigger, function or
sequence left behind); going up again builds the schema the models describe, which takes data."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa
from flask_migrate import downgrade, upgrade

from portal.core import backup
from portal.core.extensions import db
from portal.stories import media
from tests import full_dataset
from tests.helpers import TEST_DATABASE_URL, drop_schema, make_app
from tests.test_migrations import SCHEMA, _differences, _empty_database_uri


def _objects_left() -> set[tuple[str, str]]:
    """Every schema object besides Alembic's own version table."""
    with db.engine.connect() as connection:
        if connection.dialect.name == "sqlite":
            rows = connection.exec_driver_sql("SELECT type, name FROM sqlite_master").all()
            found = {(str(kind), str(name)) for kind, name in rows}
            return found - {("table", "alembic_version"), ("index", "sqlite_autoindex_alembic_version_1")}
        queries = {
            "relation": "SELECT relname FROM pg_class WHERE relnamespace = current_schema()::regnamespace",
            "function": "SELECT proname FROM pg_proc WHERE pronamespace = current_schema()::regnamespace",
            "trigger": "SELECT tgname FROM pg_trigger JOIN pg_class ON pg_class.oid = tgrelid"
            " WHERE relnamespace = current_schema()::regnamespace",
            "type": "SELECT typname FROM pg_type WHERE typnamespace = current_schema()::regnamespace",
        }
        found = {
            (kind, str(name)) for kind, query in queries.items() for name in connection.exec_driver_sql(query).scalars()
        }
        return found - {
            ("relation", "alembic_version"),
            ("relation", "alembic_version_pkc"),
            ("type", "alembic_version"),
            ("type", "_alembic_version"),
        }


def _held_keys() -> set[str]:
    with db.engine.connect() as connection:
        found: set[str] = set()
        for table in ("stories", "outbox_messages"):
            found |= set(connection.execute(sa.text(f"SELECT key_id FROM {table} WHERE key_id IS NOT NULL")).scalars())
        return found


def _counts() -> dict[str, int]:
    with db.engine.connect() as connection:
        return {
            table.name: connection.execute(sa.select(sa.func.count()).select_from(table)).scalar_one()
            for table in db.metadata.sorted_tables
        }


def test_down_to_base_and_up_to_head_with_a_row_in_every_table(tmp_path: Path) -> None:
    app = make_app(_empty_database_uri(tmp_path), tmp_path / "instance")
    with app.app_context():
        upgrade()
        filled = full_dataset.fill()
        story_media = db.session.scalar(sa.text(f"SELECT media_stored_name FROM stories WHERE id = {filled.story_id}"))
        held = _held_keys()
        db.session.remove()
        assert all(_counts().values()), [name for name, rows in _counts().items() if not rows]
        assert held and all((backup.key_root() / f"{key}.key").is_file() for key in held)

        downgrade(revision="base")

        assert _objects_left() == set()
        with db.engine.connect() as connection:
            assert connection.execute(sa.text("SELECT count(*) FROM alembic_version")).scalar_one() == 0
        # Going down below 0024 and 0028 opened what they sealed, and destroyed the keys they held.
        assert not any((backup.key_root() / f"{key}.key").exists() for key in held)
        assert media.path_of(story_media).read_bytes() == filled.media_bytes

        upgrade()
        assert _differences() == []
        again = full_dataset.fill()  # the rebuilt schema takes every kind of record again
        db.session.remove()
        assert all(_counts().values())
        assert full_dataset.read_story(again.story_id) == (
            full_dataset.STORY_TITLE,
            full_dataset.STORY_BODY,
            again.media_bytes,
        )
        db.session.remove()
        db.engine.dispose()
    if TEST_DATABASE_URL:
        drop_schema(app.config["SQLALCHEMY_DATABASE_URI"], SCHEMA)

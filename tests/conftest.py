"""Fixtures: a fresh app and database per test, on SQLite or on PostgreSQL.

The schema is built once per session (once per pytest-xdist worker) by running the Alembic
migrations, so tests run against exactly what production gets, triggers included. On SQLite
each test gets a copy of that database file (in ``/dev/shm`` where there is one). On
PostgreSQL (``TEST_DATABASE_URL``) each worker builds its own schema, ``test_gw0``,
``test_gw1`` ... (``test_master`` without xdist), inside that one database, and each test's
rows are deleted after it.

The helpers these fixtures use live in ``tests/helpers.py``; tests import them from there.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient
from flask_migrate import upgrade

from portal.core.config import sqlalchemy_url
from portal.core.extensions import db
from tests import factories
from tests.helpers import (  # noqa: F401  (re-exported for tests that import them from here)
    TEST_DATABASE_URL,
    TEST_SETTINGS,
    IsolatedClient,
    cache_url_builders,
    drop_schema,
    in_schema,
    make_app,
    recreate_schema,
    sign_in,
    worker_name,
)

cache_url_builders()  # a fresh app per test, without recompiling url_for's code each time


@pytest.fixture(scope="session")
def migrated_database(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The URI of a database built by the migrations (for SQLite, a template file to copy)."""
    instance = tmp_path_factory.mktemp("instance")
    schema = ""
    if TEST_DATABASE_URL:
        schema = f"test_{worker_name()}"
        uri = in_schema(sqlalchemy_url(TEST_DATABASE_URL, str(instance)), schema)
        recreate_schema(uri, schema)
    else:
        uri = "sqlite:///" + str(instance / "template.sqlite3")
    app = make_app(uri, instance)
    with app.app_context():
        upgrade()
        db.engine.dispose()
    yield uri
    if schema:
        drop_schema(uri, schema)


RESET_SEQUENCES = sa.text(
    "SELECT setval(format('%I.%I', schemaname, sequencename)::regclass, 1, false) FROM pg_sequences"
    " WHERE schemaname = current_schema() AND last_value IS NOT NULL"
)


def _truncate_all(app: Flask) -> None:
    """Empty every table and restart every id at 1, as TRUNCATE ... RESTART IDENTITY does.

    TRUNCATE gives each of the ~45 tables and ~150 indexes a new file: about a second a test.
    Deleting a test's few rows takes milliseconds, so a superuser (as in CI) deletes instead,
    as the replication role, which skips triggers: the audit log's append-only trigger and the
    foreign-key checks (every table is emptied, so none can be left dangling).
    """
    with app.app_context():
        db.session.remove()
        tables = [t.name for t in db.metadata.sorted_tables]
        with db.engine.begin() as connection:
            if connection.execute(sa.text("SELECT current_setting('is_superuser')")).scalar() == "on":
                connection.execute(sa.text("SET LOCAL session_replication_role = replica"))
                connection.execute(sa.text("; ".join(f'DELETE FROM "{name}"' for name in reversed(tables))))
                connection.execute(RESET_SEQUENCES)
            else:
                connection.execute(sa.text(f"TRUNCATE TABLE {', '.join(tables)} RESTART IDENTITY CASCADE"))
        db.engine.dispose()


@pytest.fixture(scope="session")
def sqlite_folder(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Where each test's copy of the SQLite database goes: in memory (``/dev/shm``) where there
    is one, so that no test waits for the disk (SQLite syncs the file when the last connection
    closes), else in pytest's temporary folder. Each copy is removed after its test."""
    shm = Path("/dev/shm")
    if shm.is_dir() and os.access(shm, os.W_OK):
        folder = Path(tempfile.mkdtemp(prefix=f"portal-tests-{worker_name()}-", dir=shm))
        yield folder
        shutil.rmtree(folder, ignore_errors=True)
    else:
        yield tmp_path_factory.mktemp("databases")


@pytest.fixture
def app_factory(migrated_database: str, tmp_path: Path, sqlite_folder: Path) -> Iterator[Any]:
    """Build the test app with extra settings; at most one app per test."""
    made: list[Flask] = []
    copy = sqlite_folder / f"{tmp_path.name}.sqlite3"

    def build(**overrides: Any) -> Flask:
        if TEST_DATABASE_URL:
            uri = migrated_database
        else:
            shutil.copyfile(migrated_database.removeprefix("sqlite:///"), copy)
            uri = "sqlite:///" + str(copy)
        app = make_app(uri, tmp_path / "instance", **overrides)
        made.append(app)
        return app

    yield build
    for app in made:
        if TEST_DATABASE_URL:
            _truncate_all(app)
        else:
            with app.app_context():
                db.session.remove()
                db.engine.dispose()
    if not TEST_DATABASE_URL:
        for suffix in ("", "-wal", "-shm", "-journal"):
            Path(f"{copy}{suffix}").unlink(missing_ok=True)


@pytest.fixture
def app(app_factory: Any) -> Iterator[Flask]:
    app = app_factory()
    with app.app_context():
        yield app
        db.session.remove()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def users(app: Flask) -> dict[str, Any]:
    """One account for each role: member, staff, finance and admin."""
    return factories.one_of_each_role()


@pytest.fixture
def as_role(app: Flask, users: dict[str, Any]) -> Any:
    """``as_role("staff")`` gives a test client signed in with that role (or anonymous)."""

    def client_for(role: str) -> FlaskClient:
        client = app.test_client()
        if role != "anonymous":
            response = sign_in(client, users[role].email)
            assert response.status_code == 303, response.get_data(as_text=True)
        return client

    return client_for

"""Fixtures: a fresh app and database per test, on SQLite or on PostgreSQL.

The schema is built once per session by running the Alembic migrations (so tests run against
exactly what production gets, triggers included). On SQLite each test gets a copy of that
database file; on PostgreSQL (``TEST_DATABASE_URL``) each test's rows are truncated after it.
"""

from __future__ import annotations

import contextvars
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask, has_app_context
from flask.testing import FlaskClient
from flask_migrate import upgrade

from portal.app import create_app
from portal.core.config import sqlalchemy_url
from portal.core.extensions import db
from tests import factories

TEST_DATABASE_URL = os.environ.get("TEST_DATABASE_URL", "")

TEST_SETTINGS: dict[str, Any] = {
    "ENV": "testing",
    "SECRET_KEY": "test-secret-key-not-for-production",
    "WTF_CSRF_ENABLED": False,  # the CSRF tests and the browser tests turn it back on
    "ARGON2_TIME_COST": 1,  # fast hashing in tests; production uses the library's defaults
    "ARGON2_MEMORY_KIB": 1024,
    "ARGON2_PARALLELISM": 1,
    "BASE_URL": "http://portal.test",
}


class IsolatedClient(FlaskClient):
    """Runs each request in its own contexts, as a real server does.

    Without this, a request would reuse the test's app context: ``g`` (and so the signed-in
    user) and the database session would leak from one request, or one client, to the next.
    After the request the test's own session is expired, so it reads what the request wrote.
    """

    def open(self, *args: Any, **kwargs: Any) -> Any:
        kwargs.setdefault("buffered", True)  # streamed bodies are read while the request's context lives
        response = contextvars.Context().run(super().open, *args, **kwargs)
        if has_app_context():
            db.session.expire_all()
        return response


def make_app(database_uri: str, instance_path: Path, **overrides: Any) -> Flask:
    settings = {**TEST_SETTINGS, "SQLALCHEMY_DATABASE_URI": database_uri}
    app = create_app({**settings, "INSTANCE_PATH": str(instance_path), **overrides})
    app.test_client_class = IsolatedClient
    return app


@pytest.fixture(scope="session")
def migrated_database(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The URI of a database built by the migrations (for SQLite, a template file to copy)."""
    instance = tmp_path_factory.mktemp("instance")
    if TEST_DATABASE_URL:
        uri = sqlalchemy_url(TEST_DATABASE_URL, str(instance))
        engine = sa.create_engine(uri)
        with engine.begin() as connection:
            connection.execute(sa.text("DROP SCHEMA public CASCADE"))
            connection.execute(sa.text("CREATE SCHEMA public"))
        engine.dispose()
    else:
        uri = "sqlite:///" + str(instance / "template.sqlite3")
    app = make_app(uri, instance)
    with app.app_context():
        upgrade()
        db.engine.dispose()
    yield uri


def _truncate_all(app: Flask) -> None:
    with app.app_context():
        db.session.remove()
        tables = ", ".join(t.name for t in db.metadata.sorted_tables)
        with db.engine.begin() as connection:
            connection.execute(sa.text(f"TRUNCATE TABLE {tables} RESTART IDENTITY CASCADE"))
        db.engine.dispose()


@pytest.fixture
def app_factory(migrated_database: str, tmp_path: Path) -> Iterator[Any]:
    """Build the test app with extra settings; at most one app per test."""
    made: list[Flask] = []

    def build(**overrides: Any) -> Flask:
        if TEST_DATABASE_URL:
            uri = migrated_database
        else:
            copy = tmp_path / "portal.sqlite3"
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


def sign_in(client: FlaskClient, email: str, password: str = factories.PASSWORD, **extra: Any) -> Any:
    return client.post("/account/sign-in", data={"email": email, "password": password, **extra})


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

"""Helpers shared by the tests: building the test app, signing in, counting queries.

The fixtures in ``tests/conftest.py`` are built from these; test modules import them from here
(``from tests.helpers import client_for, queries_for``) instead of keeping copies of their own.
"""

from __future__ import annotations

import contextvars
import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import jinja2
import pytest
import sqlalchemy as sa
from flask import Flask, has_app_context
from flask.testing import FlaskClient

from portal.accounts.models import User
from portal.app import create_app
from portal.core.errors import RuleBroken
from portal.core.extensions import db
from portal.core.search import service as search_service
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
    # A slowed-down sign-in (accounts/throttle.py) waits this long here, not the default 3 s.
    "SIGN_IN_SLOW_DOWN_SECONDS": 0.2,
    "TASK_QUEUE_URL": "memory",  # tests run queued tasks with tests.helpers.run_tasks()
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


def cache_url_builders() -> None:
    """Let every test app share Werkzeug's compiled URL builders instead of compiling its own.

    Each test builds a fresh app, and most of that time (about 0.1 s of 0.14 s, some 2 minutes
    of CPU over the suite) goes on ``Rule._compile_builder``, which generates and compiles the
    Python code of ``url_for`` for each of the ~150 routes, twice. The code it makes depends
    only on the rule's text, its parsed parts (``_trace``) and ``append_unknown``, and is called
    with the rule itself as its first argument, so one compiled function serves every app.
    Rules with defaults (none today) bake converted values into the code and are not cached.
    Tests only: production compiles once per process anyway. If Werkzeug changes these
    internals, this does nothing.
    """
    from werkzeug.routing.rules import Rule

    original = getattr(Rule, "_compile_builder", None)
    if original is None or getattr(original, "cached_for_tests", False):
        return
    compiled: dict[Any, Any] = {}

    def compile_builder(self: Rule, append_unknown: bool = True) -> Any:
        trace = getattr(self, "_trace", None)
        if self.defaults or trace is None:
            return original(self, append_unknown)
        key = (self.rule, tuple(trace), append_unknown)
        if key not in compiled:
            compiled[key] = original(self, append_unknown)
        return compiled[key]

    compile_builder.cached_for_tests = True  # type: ignore[attr-defined]
    Rule._compile_builder = compile_builder  # type: ignore[method-assign]


class SharedBytecodeCache(jinja2.BytecodeCache):
    """Jinja's compiled templates, kept in memory for every test app in this process.

    A fresh app has a fresh Jinja environment, which would lex, parse and compile each template
    it renders again: a large share of a page test's time. Jinja checks each entry against the
    template's source (a checksum), so a changed template is compiled afresh.
    """

    def __init__(self) -> None:
        self.compiled: dict[str, bytes] = {}

    def load_bytecode(self, bucket: jinja2.bccache.Bucket) -> None:
        code = self.compiled.get(bucket.key)
        if code is not None:
            bucket.bytecode_from_string(code)

    def dump_bytecode(self, bucket: jinja2.bccache.Bucket) -> None:
        self.compiled[bucket.key] = bucket.bytecode_to_string()


TEMPLATE_CACHE = SharedBytecodeCache()


def make_app(database_uri: str, instance_path: Path, **overrides: Any) -> Flask:
    settings = {**TEST_SETTINGS, "SQLALCHEMY_DATABASE_URI": database_uri}
    app = create_app({**settings, "INSTANCE_PATH": str(instance_path), **overrides})
    app.test_client_class = IsolatedClient
    app.jinja_env.bytecode_cache = TEMPLATE_CACHE
    return app


# --- PostgreSQL: one schema per pytest-xdist worker -------------------------------------------


def worker_name() -> str:
    """``gw0``, ``gw1`` ... under pytest-xdist; ``master`` in a run without workers. Two runs on one
    PostgreSQL database at once (two checkouts) keep apart with ``PORTAL_TEST_SCHEMA_PREFIX``."""
    return os.environ.get("PORTAL_TEST_SCHEMA_PREFIX", "") + os.environ.get("PYTEST_XDIST_WORKER", "master")


def in_schema(uri: str, schema: str) -> str:
    """The SQLAlchemy URI ``uri`` with every connection's ``search_path`` set to ``schema`` alone.

    libpq's ``options=-csearch_path=...`` (which psycopg 3 passes on) applies to every connection
    of every engine made from the URI: the app's, Alembic's, and a test's threads. Tables,
    indexes, and the triggers and functions the migrations create all land in that schema.
    ``synchronous_commit=off`` spares each commit a wait for the disk: a commit is still seen
    at once by every other connection, and only a crash of the server could lose it.
    """
    url = sa.engine.make_url(uri)
    options = f"-csearch_path={schema} -csynchronous_commit=off"
    return url.update_query_dict({"options": options}).render_as_string(hide_password=False)


def without_schema(uri: str) -> str:
    """``uri`` without the ``search_path`` option: for creating and dropping the schema itself."""
    return sa.engine.make_url(uri).difference_update_query(["options"]).render_as_string(hide_password=False)


def recreate_schema(uri: str, schema: str) -> None:
    engine = sa.create_engine(without_schema(uri))
    try:
        with engine.begin() as connection:
            connection.execute(sa.text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
            connection.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    finally:
        engine.dispose()


def drop_schema(uri: str, schema: str) -> None:
    engine = sa.create_engine(without_schema(uri))
    try:
        with engine.begin() as connection:
            connection.execute(sa.text("SET LOCAL lock_timeout = '30s'"))  # a leaked connection fails, not hangs
            connection.execute(sa.text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
    finally:
        engine.dispose()


# --- Signing in ---------------------------------------------------------------------------------


CODE_PAGE = "/account/sign-in/code"


def forget_last_code(email: str) -> None:
    """Let the next sign-in use the code of the current 30 seconds again.

    The portal refuses a code whose time step was already used (``users.totp_last_step``), as it
    must; but tests sign the same person in several times a second, which nobody can do by hand.
    So the helpers, and only they, forget the last step before the second step. The reuse rule
    itself is tested in tests/test_two_factor.py, without this."""
    db.session.execute(sa.update(User).where(User.email == email.strip().lower()).values(totp_last_step=None))
    db.session.commit()


def sign_in(
    client: FlaskClient,
    email: str,
    password: str = factories.PASSWORD,
    *,
    code: str | None = None,
    second_step: bool = True,
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> Any:
    """Post the sign-in form and, when the person has two-factor sign-in, the code from their
    app (``factories.TOTP_SECRET``'s, unless ``code`` is given); returns the last response (303
    when it worked). ``second_step=False`` stops after the password, at the code page."""
    response = client.post("/account/sign-in", data={"email": email, "password": password, **extra}, headers=headers)
    target = response.headers.get("HX-Redirect") or response.headers.get("Location", "")
    if second_step and target.endswith(CODE_PAGE):
        if code is None:
            forget_last_code(email)
            code = factories.totp_code()
        data = {"code": code}
        if "csrf_token" in extra:  # the session was renewed by the password step: a new token
            page = client.get(CODE_PAGE).get_data(as_text=True)
            data["csrf_token"] = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)
        response = client.post(CODE_PAGE, data=data, headers=headers)
    return response


def client_for(app: Flask, person: Any) -> Any:
    """A new test client, signed in as ``person`` (whose password is ``factories.PASSWORD``)."""
    client = app.test_client()
    response = sign_in(client, person.email)
    assert response.status_code == 303, response.get_data(as_text=True)
    return client


# --- Counting queries ---------------------------------------------------------------------------


@contextmanager
def count_queries(engine: Any = None) -> Iterator[list[str]]:
    """The SQL statements run on ``engine`` (the app's, by default) inside the block.

    SQLite's PRAGMAs and savepoint bookkeeping are left out: they are not queries a page makes.
    """
    engine = db.engine if engine is None else engine
    statements: list[str] = []

    def record(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if not statement.lstrip().upper().startswith(("PRAGMA", "SAVEPOINT", "RELEASE")):
            statements.append(statement)

    sa.event.listen(engine, "before_cursor_execute", record)
    try:
        yield statements
    finally:
        sa.event.remove(engine, "before_cursor_execute", record)


def queries_for(client: Any, url: str) -> int:
    """How many queries one GET of ``url`` makes, after a first GET to warm up."""
    client.get(url)  # warm up: first request loads things once per process
    with count_queries() as statements:
        response = client.get(url)
        assert response.status_code == 200, url
    return len(statements)


# --- Reading results ----------------------------------------------------------------------------


def count(model: Any) -> int:
    """How many rows ``model`` has."""
    return db.session.scalar(sa.select(sa.func.count()).select_from(model)) or 0


def fields_of(error: pytest.ExceptionInfo[RuleBroken]) -> set[str]:
    """The form fields a refused change names (one ``RuleBroken``, or each of ``RulesBroken``)."""
    return {problem.field for problem in getattr(error.value, "problems", [error.value])}


def text_of(page: Any) -> str:
    """A page's words (from a response or its HTML), without tags and with whitespace collapsed."""
    html = page if isinstance(page, str) else page.get_data(as_text=True)
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def found_stories(text: str, viewer: Any) -> set[int]:
    """Story ids the shared search service finds for this viewer."""
    return {
        hit.object_id for hit in search_service.search(text, viewer=viewer, per_page=100).items if hit.kind == "story"
    }


class Stream:
    """An uploaded file's stream, for the media and upload services: ``read`` and ``read(size)``."""

    def __init__(self, data: bytes) -> None:
        self.data = data

    def read(self, size: int = -1) -> bytes:
        return self.data if size < 0 else self.data[:size]


def run_tasks() -> int:
    """Run every task the code under test queued (retries included, without waiting)."""
    from portal.core.tasks import drain

    return drain()

"""Fault tests: the database down, restarted, hung or locked (issue 19, "Faults").

Each case exists for both databases; the ones that need a particular database run where it is
the one under test. PostgreSQL is put behind a small TCP proxy (``Proxy``) that forwards, stops
forwarding ("hung": connections stay open and nothing comes back), or is closed ("down": the
port refuses connections). SQLite is "down" when its file cannot be opened, and "hung" when
another connection holds it locked.
"""

from __future__ import annotations

import select
import socket
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient
from flask_login import current_user

from portal.accounts.models import User
from portal.core import schedule
from portal.core.db import database_unreachable, unlimited_statements, utcnow
from portal.core.extensions import db
from tests import factories
from tests.helpers import TEST_DATABASE_URL, make_app, sign_in

ON_POSTGRESQL = bool(TEST_DATABASE_URL)
Test = TypeVar("Test", bound=Callable[..., None])


# Each fault has a test on each database. A test written for the other database is not defined
# at all (rather than skipped: CI allows no skips), so a run lists only the cases it can try.
def only_postgresql(test: Test) -> Test | None:
    return test if ON_POSTGRESQL else None


def only_sqlite(test: Test) -> Test | None:
    return None if ON_POSTGRESQL else test


class Proxy:
    """A TCP proxy in front of PostgreSQL that can be switched to hang or to be down."""

    def __init__(self, upstream: tuple[str, int]) -> None:
        self.upstream = upstream
        self.mode = "forward"
        self.closed = False
        self.sockets: list[socket.socket] = []
        self.lock = threading.Lock()
        self.listener = self._listen(0)
        self.port = self.listener.getsockname()[1]
        threading.Thread(target=self._accept, args=(self.listener,), daemon=True).start()

    def _listen(self, port: int) -> socket.socket:
        listener = socket.socket()
        listener.bind(("127.0.0.1", port))
        listener.listen(32)
        listener.settimeout(0.05)
        return listener

    def _accept(self, listener: socket.socket) -> None:
        while not self.closed:
            try:
                client, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            if self.mode == "down":
                _close(client)  # the server is gone: each connection is dropped as it comes
                continue
            with self.lock:
                self.sockets.append(client)
            if self.mode == "hang":
                continue  # accepted, and never answered
            server = socket.create_connection(self.upstream)
            with self.lock:
                self.sockets.append(server)
            threading.Thread(target=self._pump, args=(client, server), daemon=True).start()
            threading.Thread(target=self._pump, args=(server, client), daemon=True).start()

    def _pump(self, source: socket.socket, target: socket.socket) -> None:
        try:
            while self.mode != "down" and not self.closed:
                if self.mode == "hang":
                    time.sleep(0.02)  # what arrives stays unread: nothing goes either way
                    continue
                ready, _, _ = select.select([source], [], [], 0.05)
                if not ready:
                    continue
                data = source.recv(65536)
                if not data:
                    break
                target.sendall(data)
        except (OSError, ValueError):  # the other direction closed both sockets first
            pass
        for each in (source, target):
            _close(each)

    def hang(self) -> None:
        self.mode = "hang"

    def down(self) -> None:
        """Every connection dropped, and each new one dropped as it comes (a server gone)."""
        self.mode = "down"
        with self.lock:
            for each in self.sockets:
                _close(each)
            self.sockets.clear()

    def forward(self) -> None:
        self.mode = "forward"

    def close(self) -> None:
        self.down()
        self.closed = True
        self.listener.close()


def _close(each: socket.socket) -> None:
    try:
        each.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
    each.close()


def _through(proxy: Proxy, uri: str) -> str:
    return sa.engine.make_url(uri).set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False)


@pytest.fixture
def proxy() -> Iterator[Proxy]:
    url = sa.engine.make_url(TEST_DATABASE_URL or "postgresql://127.0.0.1:5432/test")
    running = Proxy((url.host or "127.0.0.1", url.port or 5432))
    yield running
    running.close()


@pytest.fixture
def faulty(proxy: Proxy, app_factory: Any, migrated_database: str) -> Iterator[dict[str, Any]]:
    """An app whose database can be taken down and brought back: ``down()`` / ``up()``, and on
    PostgreSQL ``hang()`` through the proxy. The database is up again when the test ends."""
    if ON_POSTGRESQL:
        app = app_factory(SQLALCHEMY_DATABASE_URI=_through(proxy, migrated_database), PROPAGATE_EXCEPTIONS=False)
    else:
        app = app_factory(PROPAGATE_EXCEPTIONS=False)
    path = Path(app.config["SQLALCHEMY_DATABASE_URI"].removeprefix("sqlite:///"))
    away = path.with_name(path.name + ".away")

    def down() -> None:
        if ON_POSTGRESQL:
            proxy.down()
            return
        with app.app_context():
            db.engine.dispose()  # SQLite's pooled connections would keep the old file open
        path.rename(away)
        path.mkdir()  # a folder where the file was: SQLite cannot open it ("unable to open")

    def up() -> None:
        if ON_POSTGRESQL:
            proxy.forward()
        elif away.exists():
            path.rmdir()
            away.rename(path)

    with app.app_context():
        yield {"app": app, "down": down, "up": up, "proxy": proxy}
        up()
        db.session.remove()


def _signed_in(app: Flask) -> FlaskClient:
    person = factories.user(email="faults@example.org")
    db.session.commit()
    client = app.test_client()
    response = sign_in(client, person.email)
    assert response.status_code == 303, response.get_data(as_text=True)
    assert client.get("/dashboard").status_code == 200
    db.session.remove()
    return client


# --- Settings reach every connection ------------------------------------------------------------


def test_timeouts_are_set_on_every_connection(app_factory: Any) -> None:
    app = app_factory(DB_STATEMENT_TIMEOUT_MS=12_345, DB_LOCK_TIMEOUT_MS=2_345, DB_CONNECT_TIMEOUT=7)
    assert app.config["SQLALCHEMY_ENGINE_OPTIONS"]["pool_pre_ping"] is True
    with app.app_context(), db.engine.connect() as connection:
        if ON_POSTGRESQL:
            assert connection.exec_driver_sql("SHOW statement_timeout").scalar() == "12345ms"
            assert connection.exec_driver_sql("SHOW lock_timeout").scalar() == "2345ms"
            parameters = connection.connection.dbapi_connection.info.get_parameters()
            assert parameters["connect_timeout"] == "7" and parameters["tcp_user_timeout"] == "7000"
            # the URL's own options (the test schema's search_path) are kept alongside
            assert connection.exec_driver_sql("SHOW search_path").scalar().startswith("test_")
        else:
            assert connection.exec_driver_sql("PRAGMA busy_timeout").scalar() == 2_345
            assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"


@pytest.mark.parametrize("name", ["DB_CONNECT_TIMEOUT", "DB_STATEMENT_TIMEOUT_MS", "DB_LOCK_TIMEOUT_MS"])
def test_a_timeout_that_is_not_a_whole_number_stops_the_start(app_factory: Any, name: str) -> None:
    with pytest.raises(RuntimeError, match=f"PORTAL_{name} must be a whole number"):
        app_factory(**{name: -1})


@only_postgresql
def test_a_statement_past_its_timeout_is_a_503_page_and_lifting_it_lets_long_work_finish(app_factory: Any) -> None:
    app = app_factory(DB_STATEMENT_TIMEOUT_MS=200, PROPAGATE_EXCEPTIONS=False)

    @app.route("/slow")
    def slow() -> str:
        db.session.execute(sa.text("SELECT pg_sleep(5)"))
        return "finished"

    slow.permission = "public"  # type: ignore[attr-defined]
    started = time.monotonic()
    response = app.test_client().get("/slow")
    assert response.status_code == 503 and time.monotonic() - started < 3
    assert "cannot reach its records" in response.get_data(as_text=True)
    with app.app_context(), db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        with unlimited_statements(connection):  # VACUUM FULL and migrations run like this
            assert connection.exec_driver_sql("SELECT pg_sleep(0.4), 'done'").one()[1] == "done"
        assert connection.exec_driver_sql("SHOW statement_timeout").scalar() == "200ms"  # back afterwards
        with pytest.raises(sa.exc.OperationalError) as cancelled:
            connection.exec_driver_sql("SELECT pg_sleep(0.4)")
        assert database_unreachable(cancelled.value)


@contextmanager
def _lock_out(app: Flask) -> Iterator[None]:
    """Another connection holds the users table for writing while the block runs."""
    with app.app_context():
        holder = db.engine.connect()
        if ON_POSTGRESQL:
            holder.exec_driver_sql("LOCK TABLE users IN EXCLUSIVE MODE")
        else:
            holder.exec_driver_sql("BEGIN IMMEDIATE")
            holder.exec_driver_sql("UPDATE users SET suspension_note = suspension_note")
    try:
        yield
    finally:
        holder.rollback()
        holder.close()


def test_a_write_waiting_past_the_lock_timeout_is_a_503_page_on_either_database(app_factory: Any) -> None:
    app = app_factory(DB_LOCK_TIMEOUT_MS=300, PROPAGATE_EXCEPTIONS=False)
    with app.app_context():
        person = factories.user(email="locked@example.org")
        db.session.commit()
        person_id = person.id
        db.session.remove()

    @app.route("/rename", methods=["POST"])
    def rename() -> str:
        db.session.execute(sa.update(User).where(User.id == person_id).values(name="Renamed"))
        db.session.commit()
        return "renamed"

    rename.permission = "public"  # type: ignore[attr-defined]
    client = app.test_client()
    with _lock_out(app):
        started = time.monotonic()
        response = client.post("/rename")
        waited = time.monotonic() - started
    assert response.status_code == 503, response.get_data(as_text=True)
    assert 0.25 < waited < 3  # it waited for the lock timeout, then gave up
    assert response.headers["Retry-After"]
    with app.app_context():
        assert db.session.get(User, person_id).name != "Renamed"
        assert client.post("/rename").status_code == 200  # the lock gone, the same write goes through


# --- Down: a signed-in person gets the portal's own page, never a bare one ------------------------


def test_with_the_database_down_a_signed_in_person_gets_the_portals_503_page(faulty: dict[str, Any]) -> None:
    client = _signed_in(faulty["app"])
    faulty["down"]()
    response = client.get("/dashboard")
    assert response.status_code == 503
    page = response.get_data(as_text=True)
    assert "We cannot reach our records" in page and "Try again in a few minutes" in page
    assert '<main id="main"' in page and 'class="skip-link" href="#main"' in page  # the portal's layout
    assert response.headers["Retry-After"] == "120"
    in_place = client.get("/dashboard", headers={"HX-Request": "true"})
    assert in_place.status_code == 503 and in_place.headers["HX-Retarget"] == "#main"
    missing = client.get("/no-such-page")  # the 404 page asks who is signed in: it becomes the 503 page
    assert missing.status_code == 503 and "We cannot reach our records" in missing.get_data(as_text=True)
    faulty["up"]()
    assert client.get("/dashboard").status_code == 200  # back as soon as the database is


def test_the_500_page_renders_without_the_database(faulty: dict[str, Any]) -> None:
    app = faulty["app"]

    @app.route("/broken")
    def broken() -> str:
        assert current_user.is_authenticated  # the person is loaded; then the database goes away
        faulty["down"]()
        raise RuntimeError("a bug, while the database is away")

    broken.permission = "public"  # type: ignore[attr-defined]
    client = _signed_in(app)
    response = client.get("/broken")
    assert response.status_code == 500
    page = response.get_data(as_text=True)
    assert "Sorry, something went wrong" in page and "nothing you sent was saved" in page
    assert '<main id="main"' in page and "Sign out" not in page  # the minimal layout: no account menu


def test_a_bug_in_a_query_is_still_a_500_not_an_outage(app_factory: Any) -> None:
    app = app_factory(PROPAGATE_EXCEPTIONS=False)

    @app.route("/typo")
    def typo() -> str:
        db.session.execute(sa.text("SELECT * FROM no_such_table"))
        return "never"

    typo.permission = "public"  # type: ignore[attr-defined]
    response = app.test_client().get("/typo")
    assert response.status_code == 500 and "Sorry, something went wrong" in response.get_data(as_text=True)


# --- Restarted: the first request after the database came back succeeds ---------------------------


def _pooled(app: Flask, how_many: int) -> list[Any]:
    """``how_many`` connections held at once and given back, so the pool keeps that many."""
    connections = [db.engine.connect() for _ in range(how_many)]
    found = []
    for connection in connections:
        if ON_POSTGRESQL:
            found.append(connection.exec_driver_sql("SELECT pg_backend_pid()").scalar())
        else:
            connection.exec_driver_sql("SELECT 1")
            found.append(connection.connection.dbapi_connection)
        connection.close()
    return found


@only_postgresql
def test_after_postgresql_drops_every_pooled_connection_the_next_requests_succeed(app: Flask) -> None:
    client = _signed_in(app)
    pids = _pooled(app, 3)
    killer = sa.create_engine(TEST_DATABASE_URL.replace("postgresql://", "postgresql+psycopg://", 1))
    try:
        with killer.connect() as connection:
            killed = connection.execute(
                sa.text(
                    "SELECT count(*) FILTER (WHERE pg_terminate_backend(pid)) FROM unnest(CAST(:pids AS int[])) AS pid"
                ),
                {"pids": pids},
            ).scalar()
    finally:
        killer.dispose()
    assert killed == 3
    for _ in range(4):  # each request takes a pooled connection whose backend is gone
        assert client.get("/dashboard").status_code == 200
    assert not set(_pooled(app, 3)) & set(pids)  # every one was replaced


@only_postgresql
def test_after_postgresql_restarts_behind_a_proxy_the_next_request_succeeds(faulty: dict[str, Any]) -> None:
    client = _signed_in(faulty["app"])
    faulty["down"]()  # every connection cut, as a restart does
    faulty["up"]()
    assert client.get("/dashboard").status_code == 200


@only_sqlite
def test_after_sqlite_connections_are_closed_under_the_pool_the_next_requests_succeed(app: Flask) -> None:
    client = _signed_in(app)
    for dbapi_connection in _pooled(app, 3):
        dbapi_connection.close()  # as if the file had gone away and come back
    for _ in range(4):
        assert client.get("/dashboard").status_code == 200


# --- /healthz: 503 within 2 s however the database fails -------------------------------------------


def _timed_healthz(app: Flask) -> tuple[int, dict[str, Any], float]:
    started = time.monotonic()
    response = app.test_client().get("/healthz?only=web")
    return response.status_code, response.get_json(), time.monotonic() - started


def test_healthz_answers_503_fast_when_the_database_is_down(faulty: dict[str, Any]) -> None:
    app = faulty["app"]
    assert _timed_healthz(app)[:2] == (200, {"status": "ok", "database": "ok"})
    faulty["down"]()
    status, body, took = _timed_healthz(app)
    assert status == 503 and body == {"status": "error", "database": "unreachable"} and took < 1
    faulty["up"]()
    assert _timed_healthz(app)[0] == 200


@only_postgresql
def test_healthz_and_pages_answer_503_fast_when_nothing_listens_on_postgresqls_port(
    tmp_path: Path, migrated_database: str
) -> None:
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))
    port = closed.getsockname()[1]
    closed.close()  # nothing listens there now: connecting is refused
    url = sa.engine.make_url(migrated_database).set(host="127.0.0.1", port=port)
    # not app_factory's: it would empty the tables through this app afterwards
    app = make_app(url.render_as_string(hide_password=False), tmp_path / "instance", PROPAGATE_EXCEPTIONS=False)
    status, body, took = _timed_healthz(app)
    assert status == 503 and body == {"status": "error", "database": "unreachable"} and took < 1
    started = time.monotonic()
    page = app.test_client().get("/stories")
    assert page.status_code == 503 and "We cannot reach our records" in page.get_data(as_text=True)
    assert time.monotonic() - started < 1


@only_postgresql
def test_healthz_answers_503_within_2_seconds_when_postgresql_hangs(faulty: dict[str, Any]) -> None:
    app = faulty["app"]
    client = _signed_in(app)  # the pool holds connections that will hang too
    assert _timed_healthz(app)[0] == 200
    faulty["proxy"].hang()
    for _ in range(2):  # and again: nothing the first probe left behind holds the second up
        status, body, took = _timed_healthz(app)
        assert status == 503 and body["database"] == "timed out" and took < 2
    faulty["proxy"].forward()
    assert _timed_healthz(app)[0] == 200
    assert client.get("/dashboard").status_code == 200


@only_sqlite
def test_healthz_does_not_wait_for_a_sqlite_file_another_connection_holds_locked(app: Flask) -> None:
    path = app.config["SQLALCHEMY_DATABASE_URI"].removeprefix("sqlite:///")
    assert _timed_healthz(app)[0] == 200
    holder = sqlite3.connect(path, isolation_level=None)
    try:
        holder.execute("PRAGMA locking_mode=EXCLUSIVE")
        holder.execute("BEGIN EXCLUSIVE")
        holder.execute("UPDATE users SET name = name")
        with pytest.raises(sqlite3.OperationalError, match="locked"):  # the lock keeps readers out
            sqlite3.connect(path, timeout=0).execute("SELECT count(*) FROM sqlite_master").fetchall()
        status, body, took = _timed_healthz(app)
        assert status == 503 and body["database"] in {"timed out", "unreachable"} and took < 2
    finally:
        holder.execute("ROLLBACK")
        holder.execute("PRAGMA locking_mode=NORMAL")
        holder.execute("SELECT count(*) FROM sqlite_master")  # NORMAL takes effect at the next access
        holder.close()
    assert _timed_healthz(app)[0] == 200


def test_healthz_reports_the_workers_once_the_database_answers(app: Flask) -> None:
    schedule.beat(utcnow())
    response = app.test_client().get("/healthz")
    assert response.status_code == 200 and response.get_json()["worker"] == "ok"


def test_database_unreachable_tells_an_outage_from_a_bug() -> None:
    locked = sa.exc.OperationalError("UPDATE", {}, sqlite3.OperationalError("database is locked"))
    missing = sa.exc.OperationalError("SELECT", {}, sqlite3.OperationalError("no such table: x"))
    assert database_unreachable(locked) and not database_unreachable(missing)
    assert database_unreachable(sa.exc.TimeoutError("QueuePool limit reached"))
    assert not database_unreachable(sa.exc.IntegrityError("INSERT", {}, Exception("duplicate")))
    assert not database_unreachable(RuntimeError("not the database"))

"""The declarative base, shared column types, and how the portal connects to its database.

``engine_options`` turns the ``PORTAL_DB_*`` settings into the engine's: a ping before a pooled
connection is used (so a restarted database costs no request), and connect, statement and lock
timeouts, so a slow or hung database gives a clear 503 instead of a worker that waits for ever.
``database_unreachable`` says whether an error means exactly that, and ``database_answers`` is
the bounded check ``/healthz`` makes.
"""

from __future__ import annotations

import contextlib
import enum
import os
import socket
import sqlite3
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlalchemy.orm import DeclarativeBase

# Every constraint gets a predictable name, so Alembic can alter and drop it on any database.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = sa.MetaData(naming_convention=NAMING_CONVENTION)


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(sa.TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on every database (SQLite forgets the zone)."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given; use timezone-aware UTC")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


def str_enum(enum_class: type[enum.StrEnum], name: str) -> sa.Enum:
    """A StrEnum stored as its value in a VARCHAR with a CHECK constraint (no PostgreSQL types)."""
    return sa.Enum(
        enum_class,
        name=name,
        native_enum=False,
        create_constraint=True,
        length=max(len(m.value) for m in enum_class),
        values_callable=lambda members: [m.value for m in members],
        validate_strings=True,
    )


@sa.event.listens_for(Engine, "connect")
def _sqlite_pragmas(dbapi_connection: Any, connection_record: Any) -> None:
    if isinstance(dbapi_connection, sqlite3.Connection):
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA journal_mode=WAL")
        # busy_timeout comes from ``sqlite3.connect(timeout=...)``: PORTAL_DB_LOCK_TIMEOUT_MS for the
        # app's engine (``engine_options``), sqlite3's own 5 s for any other.
        cursor.execute("PRAGMA synchronous=NORMAL")
        # Deleted content is overwritten with zeros in the file, not just marked free (see
        # core/compaction.py for the search index and the -wal file).
        cursor.execute("PRAGMA secure_delete=ON")
        cursor.close()


# --- Connecting, timeouts and telling "the database cannot be reached" apart ------------------


def _libpq_options(existing: str, statement_ms: int, lock_ms: int) -> str:
    """libpq's ``options`` (server settings for every new connection) with the two timeouts added
    after any the URL already gives (a ``search_path``, say), so neither replaces the other."""
    ours = f"-c statement_timeout={int(statement_ms)} -c lock_timeout={int(lock_ms)}"
    return f"{existing} {ours}".strip()


def engine_options(uri: str, config: dict[str, Any]) -> dict[str, Any]:
    """SQLAlchemy engine options from the ``PORTAL_DB_*`` settings (see core/config.py).

    Every pooled connection is pinged before use (``pool_pre_ping``): a connection the database
    dropped (a restart, ``pg_terminate_backend``) is replaced instead of failing the request.
    PostgreSQL gets ``connect_timeout`` and, through libpq's ``options``, ``statement_timeout`` and
    ``lock_timeout``; SQLite's lock timeout is its busy timeout. A value of 0 means no limit.
    """
    url = sa.engine.make_url(uri)
    lock_ms = int(config["DB_LOCK_TIMEOUT_MS"])
    options: dict[str, Any] = {"pool_pre_ping": True}
    if url.get_backend_name() == "postgresql":
        existing = url.query.get("options", "")
        existing = " ".join(existing) if isinstance(existing, tuple) else existing
        connect_seconds = int(config["DB_CONNECT_TIMEOUT"])
        options["connect_args"] = {
            "connect_timeout": connect_seconds,
            "options": _libpq_options(existing, int(config["DB_STATEMENT_TIMEOUT_MS"]), lock_ms),
            # A server that vanished from the network (no answer at all, not even the TCP
            # acknowledgement) is given up on: a query sent and not acknowledged within the
            # connect timeout, and an idle pooled connection whose keepalives go unanswered.
            "tcp_user_timeout": connect_seconds * 1000,
            "keepalives": 1,
            "keepalives_idle": 30,
            "keepalives_interval": 10,
            "keepalives_count": 3,
        }
    elif url.get_backend_name() == "sqlite":
        # sqlite3's ``timeout`` (seconds) is SQLite's busy timeout: how long a statement waits for
        # another connection's lock before "database is locked". 0 would not wait at all.
        options["connect_args"] = {"timeout": lock_ms / 1000}
    return options


@contextlib.contextmanager
def unlimited_statements(connection: sa.Connection) -> Iterator[None]:
    """Lift ``statement_timeout`` on one PostgreSQL connection while the block runs (VACUUM FULL,
    a migration): work an operator or a nightly job started may take longer than a page may. The
    connection's own value comes back afterwards, even from an autocommit connection."""
    if connection.dialect.name != "postgresql":
        yield
        return
    connection.exec_driver_sql("SET statement_timeout = 0")
    try:
        yield
    finally:
        connection.exec_driver_sql("RESET statement_timeout")


# SQLite's operational errors that mean the file cannot be used now, not a mistake in a query
# ("no such table" is an OperationalError too, and a bug: that one stays a 500).
SQLITE_UNREACHABLE = (
    "database is locked",
    "database table is locked",
    "unable to open database",
    "disk i/o error",
    "database or disk is full",
    "readonly database",
)


def database_unreachable(error: BaseException) -> bool:
    """Whether ``error`` means the database could not be reached or answered too late (a 503
    page, "try again in a few minutes"), rather than a bug (a 500)."""
    if isinstance(error, sa.exc.TimeoutError):  # no pooled connection came free in time
        return True
    if not isinstance(error, sa.exc.DBAPIError):
        return False
    if error.connection_invalidated or isinstance(error, sa.exc.InterfaceError):
        return True
    if not isinstance(error, sa.exc.OperationalError):
        return False
    if isinstance(error.orig, sqlite3.Error):
        message = str(error.orig).lower()
        return any(words in message for words in SQLITE_UNREACHABLE)
    # psycopg's OperationalError is the server's connection, resource, shutdown and cancel
    # classes (08, 53, 57, 58 and lock_not_available): a refused or lost connection, a
    # statement_timeout or lock_timeout, a server shutting down.
    return True


_probe_engines: dict[str, sa.Engine] = {}
_probe_engines_lock = threading.Lock()


def _probe_engine(url: sa.URL, connect_args: dict[str, Any], timeout_ms: int) -> sa.Engine:
    """An engine without a pool for the health check: each probe opens a new connection, so it
    never waits for, nor leaves behind, one of the pages' pooled connections."""
    args = dict(connect_args)
    if url.get_backend_name() == "postgresql":
        args["connect_timeout"] = max(2, -(-timeout_ms // 1000))  # libpq's smallest is 2 s
        options = url.query.get("options", "")
        existing = " ".join(options) if isinstance(options, tuple) else options
        args["options"] = _libpq_options(existing, timeout_ms, timeout_ms)
    elif url.get_backend_name() == "sqlite":
        args["timeout"] = timeout_ms / 1000
    key = url.render_as_string(hide_password=False) + repr(sorted(args.items()))
    with _probe_engines_lock:
        if key not in _probe_engines:
            _probe_engines[key] = sa.create_engine(url, poolclass=sa.pool.NullPool, connect_args=args)
        return _probe_engines[key]


def _cut_off(dbapi_connection: Any) -> None:
    """Make a probe stuck waiting for the database return now: SQLite is interrupted; a
    PostgreSQL socket that gets no answer is shut down (the waiting read then fails)."""
    if isinstance(dbapi_connection, sqlite3.Connection):
        dbapi_connection.interrupt()
        return
    pgconn = getattr(dbapi_connection, "pgconn", None)
    if pgconn is None:
        return
    with contextlib.suppress(Exception):
        duplicate = os.dup(pgconn.socket)
        with socket.socket(fileno=duplicate) as stuck:
            stuck.shutdown(socket.SHUT_RDWR)


def database_answers(url: sa.URL, connect_args: dict[str, Any], *, timeout_ms: int) -> str | None:
    """``None`` when a new connection to the database answers a query within ``timeout_ms``;
    otherwise why not ("unreachable", or "timed out" when it did not answer in time).

    The probe runs in a thread the caller waits for at most ``timeout_ms``: neither a database
    that accepts connections and then never answers, nor a SQLite file another connection holds
    locked, can keep the caller waiting longer. A probe still stuck then is cut off.
    """
    engine = _probe_engine(url, connect_args, timeout_ms)
    outcome: dict[str, Any] = {}

    def probe() -> None:
        try:
            with engine.connect() as connection:
                outcome["dbapi"] = connection.connection.dbapi_connection
                # Reads the file's schema on SQLite (a lock held on it is felt), a round trip on PostgreSQL.
                query = "SELECT count(*) FROM sqlite_master" if engine.dialect.name == "sqlite" else "SELECT 1"
                connection.exec_driver_sql(query).scalar()
            outcome["ok"] = True
        except Exception as error:  # anything at all: the check reports it, never raises
            outcome["error"] = error

    worker = threading.Thread(target=probe, name="healthz-database-probe", daemon=True)
    worker.start()
    worker.join(timeout_ms / 1000)
    if worker.is_alive():
        if "dbapi" in outcome:
            _cut_off(outcome["dbapi"])
        return "timed out"
    return None if outcome.get("ok") else "unreachable"

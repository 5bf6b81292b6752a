"""After an erasure the words leave the database files too, not only the tables.

Deleting a row hides it from every query, but copies of its words can stay in the files:

- **SQLite.** FTS5 keeps removed text in its index segments (``search_documents_fts_data``)
  until they are merged, and the ``-wal`` file keeps every page version written since the last
  checkpoint. The app sets ``PRAGMA secure_delete=ON`` on every connection (``core/db.py``), so
  space freed in the main file is overwritten with zeros. ``compact_sqlite`` runs FTS5
  ``optimize`` (which rewrites the index as one segment, without what was removed) and then
  ``PRAGMA wal_checkpoint(TRUNCATE)``, which copies the latest pages into the main file and
  empties the ``-wal`` file. A bounded ``merge`` would be cheaper but leaves a removed word in
  any large segment it does not reach, so it is not used; ``optimize`` on a 100,000-document
  index takes about 1.2 seconds here, off the request's path.
- **PostgreSQL.** A deleted or updated row stays in its table's file as a dead row version
  until ``VACUUM``. The ``erasure-purge`` job (every 60 minutes, only when an erasure happened
  since its last run) vacuums every table that held erased words, then runs ``CHECKPOINT`` when
  the database role may. Plain ``VACUUM`` makes dead rows unreachable and their space free, but
  need not overwrite the bytes; so the search index's table, where words are kept readable for
  searching, is also rewritten with ``VACUUM FULL`` by the nightly ``erasure-rewrite`` job
  (``VACUUM_FULL``): measured, after a plain VACUUM its GIN index still held erased words. It
  locks the table while it runs (20 to 30 seconds for 100,000 documents, measured here), which
  is why it is nightly; ``ERASURE_REWRITE_HOURLY`` does it every hour. A transaction older than
  the erasure (an open snapshot taken before it committed) holds VACUUM back: it must keep rows
  that transaction may see. The erasure records its transaction id, so the job compares it with
  the oldest open snapshot and keeps an erasure that is not clean yet for its next run.

``note(reason)`` is called in the transaction that erases something (``core.search.documents``
does it whenever a document leaves the public index; a domain erasing content of its own calls
it too). It records a ``PendingErasure`` and, on SQLite, queues ``compact_sqlite`` to run once
that transaction commits (never inside it: a checkpoint cannot finish while a transaction that
wrote is still open). The ``erasure-purge`` job also compacts SQLite, in case that task was lost.
"""

from __future__ import annotations

import logging
from datetime import datetime, time
from typing import Any

import sqlalchemy as sa
from flask import current_app
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Mapped, mapped_column

from portal.core.db import UTCDateTime, unlimited_statements, utcnow
from portal.core.extensions import Model, db
from portal.core.schedule import job
from portal.core.tasks import enqueue_after_commit, task

log = logging.getLogger("portal.compaction")

PURGE_EVERY_MINUTES = 60  # the longest an erased row waits for VACUUM on PostgreSQL (README)

# Tables that can hold erased words, vacuumed on PostgreSQL after an erasure. Core's own are
# here; a domain adds the tables it erases from with ``holds_erased_words``.
ERASED_FROM: set[str] = {"search_documents", "revisions", "outbox_messages", "outbox_mentions", "audit_entries"}
# Rewritten whole (an exclusive lock while it runs) so no dead copy of a word stays in the file.
VACUUM_FULL = frozenset({"search_documents"})

OPTIMIZE_INDEX = sa.text("INSERT INTO search_documents_fts(search_documents_fts) VALUES ('optimize')")


class PendingErasure(Model):
    """Something was erased and the files that held it have not been compacted since."""

    __tablename__ = "pending_erasures"

    id: Mapped[int] = mapped_column(primary_key=True)
    reason: Mapped[str] = mapped_column(sa.String(40))  # "story", "post" ...: never the words
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    # PostgreSQL: vacuumed by the hourly purge; the nightly rewrite of the search index's table
    # (VACUUM FULL) is still to come.
    vacuumed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    xid: Mapped[int | None] = mapped_column(sa.BigInteger)  # PostgreSQL: the erasing transaction's id


class CompactionBusy(RuntimeError):
    """The WAL could not be emptied because another connection was reading; retried."""


def holds_erased_words(*tables: str) -> None:
    ERASED_FROM.update(tables)


def note(reason: str) -> None:
    """Record an erasure in the current transaction; the files are compacted after it commits."""
    erasure = PendingErasure(reason=reason[:40])
    if db.engine.dialect.name == "sqlite":
        enqueue_after_commit(compact_sqlite)
    else:  # which transaction erased it: VACUUM can drop its dead rows once no older one is open
        erasure.xid = int(db.session.scalar(sa.text("SELECT CAST(pg_current_xact_id() AS TEXT)")) or 0)
    db.session.add(erasure)


def pending() -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(PendingErasure)) or 0


CHECKPOINT_WAIT_MS = 200  # not the connection's 5 s: a busy database is retried later instead


def checkpoint_sqlite() -> None:
    """Empty the ``-wal`` file; call outside any transaction."""
    with db.engine.connect() as connection:
        connection.exec_driver_sql(f"PRAGMA busy_timeout={CHECKPOINT_WAIT_MS}")
        try:
            busy, _log, _done = connection.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)").one()
        finally:
            # back to the connection's own (PORTAL_DB_LOCK_TIMEOUT_MS, core/db.py engine_options)
            connection.exec_driver_sql(f"PRAGMA busy_timeout={int(current_app.config['DB_LOCK_TIMEOUT_MS'])}")
    if busy:
        raise CompactionBusy("another connection was using the database; the WAL was not emptied")


@task(retries=5, retry_delay=10, retry_backoff=2)
def compact_sqlite(task: Any = None) -> None:
    """Merge the search index without what was removed, then empty the WAL (SQLite only)."""
    if db.engine.dialect.name != "sqlite":
        return
    last = db.session.scalar(sa.select(sa.func.max(PendingErasure.id)))
    db.session.execute(OPTIMIZE_INDEX)
    db.session.commit()
    checkpoint_sqlite()
    if last is not None:  # only once the WAL is empty: a failed checkpoint is retried
        db.session.execute(sa.delete(PendingErasure).where(PendingErasure.id <= last))
        db.session.commit()


def vacuum_postgresql(tables: list[str], *, rewrite: bool) -> str:
    """VACUUM each table (the search index's in full when ``rewrite``), then CHECKPOINT if
    allowed. VACUUM cannot run in a transaction, so this uses a connection of its own."""
    checkpointed = "checkpoint done"
    with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        preparer = db.engine.dialect.identifier_preparer
        for table in tables:
            full = "FULL " if rewrite and table in VACUUM_FULL else ""
            with unlimited_statements(connection):  # VACUUM FULL can take longer than a page may
                connection.exec_driver_sql(f"VACUUM {full}{preparer.quote(table)}")
        try:
            connection.exec_driver_sql("CHECKPOINT")
        except DBAPIError as error:  # needs superuser or pg_checkpoint
            log.info("CHECKPOINT skipped: the database role may not run it (%s)", type(error.orig).__name__)
            checkpointed = "checkpoint not allowed for this role"
    return checkpointed


# How old (in transaction ids) the oldest snapshot or transaction still open in this database
# is, other than ours; -1 when there is none. VACUUM, even FULL, must keep every dead row such a
# transaction could still see, so an erasure younger than it is not clean yet.
OPEN_HORIZON = sa.text(
    "SELECT COALESCE(MAX(GREATEST(age(backend_xmin), age(backend_xid))), -1) AS horizon FROM pg_stat_activity"
    " WHERE datname = current_database() AND pid <> pg_backend_pid()"
)
ERASURE_AGE: sa.ColumnClause[int] = sa.literal_column(
    "age(CAST(CAST(pending_erasures.xid % 4294967296 AS TEXT) AS xid))"
)


def _vacuum(erasures: sa.ColumnElement[bool], *, rewrite: bool, now: datetime) -> str:
    db.session.commit()  # VACUUM cannot remove what an open transaction could still see
    count = db.session.scalar(sa.select(sa.func.count()).where(erasures)) or 0
    # One statement, so both ages are counted from the same moment.
    horizon: sa.Select[int] = sa.select(sa.literal_column("horizon", sa.BigInteger)).select_from(
        OPEN_HORIZON.columns(horizon=sa.BigInteger).subquery()
    )
    clean_ids = list(
        db.session.scalars(sa.select(PendingErasure.id).where(erasures, ERASURE_AGE > horizon.scalar_subquery()))
    )
    cleaned = len(clean_ids)
    clean = PendingErasure.id.in_(clean_ids)
    db.session.commit()
    tables = sorted(ERASED_FROM)
    checkpointed = vacuum_postgresql(tables, rewrite=rewrite)
    # Only once the files are clean: if VACUUM failed or was held back, the next run tries again.
    if rewrite:
        db.session.execute(sa.delete(PendingErasure).where(clean))
    else:
        db.session.execute(sa.update(PendingErasure).where(clean).values(vacuumed_at=now))
    rewritten = f"; {', '.join(sorted(VACUUM_FULL))} rewritten in full" if rewrite else ""
    done = f"{count} erasures: vacuumed {len(tables)} tables{rewritten}; {checkpointed}"
    if cleaned < count:
        return f"{done}; {count - cleaned} kept for the next run, as older transactions were still open."
    return done + "."


@job("erasure-purge", "Remove erased words from the database files", every_minutes=PURGE_EVERY_MINUTES)
def erasure_purge(now: datetime) -> str:
    """Hourly: SQLite compacts everything; PostgreSQL vacuums (and rewrites the search index's
    table too when ``ERASURE_REWRITE_HOURLY`` is on; otherwise ``erasure-rewrite`` does that)."""
    last = db.session.scalar(sa.select(sa.func.max(PendingErasure.id)).where(PendingErasure.vacuumed_at.is_(None)))
    if last is None:
        return "Nothing erased since the last run."
    erasures = sa.and_(PendingErasure.id <= last, PendingErasure.vacuumed_at.is_(None))
    if db.engine.dialect.name == "sqlite":
        count = db.session.scalar(sa.select(sa.func.count()).where(erasures)) or 0
        db.session.execute(sa.delete(PendingErasure).where(erasures))
        db.session.execute(OPTIMIZE_INDEX)
        enqueue_after_commit(compact_sqlite)  # the checkpoint, once this run's transaction commits
        return f"{count} erasures: search index compacted; the WAL is emptied next."
    if current_app.config["ERASURE_REWRITE_HOURLY"]:
        erasures = PendingErasure.id <= last
    return _vacuum(erasures, rewrite=current_app.config["ERASURE_REWRITE_HOURLY"], now=now)


@job("erasure-rewrite", "Rewrite the search index's table after erasures (PostgreSQL)", daily_at=time(3, 50))
def erasure_rewrite(now: datetime) -> str:
    """Nightly on PostgreSQL: ``VACUUM FULL`` of the search index's table, which locks it while
    it runs (about 20 to 30 seconds for 100,000 documents, measured here), so not every hour."""
    if db.engine.dialect.name != "postgresql":
        return "Nothing to do on this database (each erasure compacts its files at once)."
    last = db.session.scalar(sa.select(sa.func.max(PendingErasure.id)))
    if last is None:
        return "Nothing erased since the last run."
    return _vacuum(PendingErasure.id <= last, rewrite=True, now=now)

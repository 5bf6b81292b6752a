"""The portal's own upkeep, as scheduled jobs: old heartbeats, the search index.

Finished job records are removed by the retention schedule (``core/retention.py``)."""

from __future__ import annotations

from datetime import datetime, time, timedelta

import sqlalchemy as sa

from portal.core import keystore
from portal.core.extensions import db
from portal.core.schedule import WorkerHeartbeat, job

KEEP_HEARTBEATS = timedelta(days=7)


@job("housekeeping", "Remove old worker heartbeats", daily_at=time(3, 30))
def housekeeping(now: datetime) -> str:
    beats = db.session.execute(sa.delete(WorkerHeartbeat).where(WorkerHeartbeat.seen_at < now - KEEP_HEARTBEATS))
    return f"Removed {getattr(beats, 'rowcount', 0)} heartbeats."


@job("search-upkeep", "Compact the search index", daily_at=time(3, 45))
def search_upkeep(now: datetime) -> str:
    """SQLite's FTS5 index grows in segments; ``optimize`` merges them into one (which also
    drops the old segments' copies of changed and removed text). PostgreSQL's GIN index is
    kept by autovacuum, so there is nothing to do there."""
    if db.engine.dialect.name != "sqlite":
        return "Nothing to do on this database (autovacuum keeps the index)."
    db.session.execute(sa.text("INSERT INTO search_documents_fts(search_documents_fts) VALUES ('optimize')"))
    return "Search index compacted."


KEEP_UNHELD_KEYS = timedelta(days=1)  # far longer than any transaction that made a key lasts


@job("key-sweep", "Destroy key files no story or email holds", daily_at=time(3, 55))
def key_sweep(now: datetime) -> str:
    removed = keystore.sweep(older_than_seconds=KEEP_UNHELD_KEYS.total_seconds())
    return f"Destroyed {removed} key files that nothing held."

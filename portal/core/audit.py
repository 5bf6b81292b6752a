"""Append-only audit records: who did what to which object, with before and after values.

Rows are only ever inserted. The ORM refuses to flush a change to or deletion of an entry,
and the migration adds database triggers that refuse UPDATE and DELETE as well. The one
exception is the retention schedule (``core/retention.py``): ``purge`` deletes entries older
than a cut-off, which the triggers allow only for rows older than a ``AuditPurgePermit``
written in the same transaction (and deleted before it commits, so no other transaction ever
sees one).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import datetime
from typing import Any, Protocol

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, Session, mapped_column, relationship

from portal.core.db import UTCDateTime, utcnow
from portal.core.extensions import Model, db


class AuditEntry(Model):
    __tablename__ = "audit_entries"
    __table_args__ = (
        sa.Index("ix_audit_entries_object", "object_type", "object_id"),
        # The audit log's pages, newest first, whole or filtered (portal/admin/views.py, keyset).
        sa.Index("ix_audit_entries_created_id", "created_at", "id"),
        sa.Index("ix_audit_entries_action_created_id", "action", "created_at", "id"),
        sa.Index("ix_audit_entries_actor_created_id", "actor_id", "created_at", "id"),
        sa.Index("ix_audit_entries_type_created_id", "object_type", "created_at", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)
    actor_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="RESTRICT"), index=True)
    action: Mapped[str] = mapped_column(sa.String(80), index=True)
    object_type: Mapped[str] = mapped_column(sa.String(60))
    object_id: Mapped[str] = mapped_column(sa.String(60))
    before: Mapped[dict[str, Any] | None] = mapped_column(sa.JSON)
    after: Mapped[dict[str, Any] | None] = mapped_column(sa.JSON)
    note: Mapped[str] = mapped_column(sa.String(500), default="")

    # The accounts package (above this one) owns User; the relationship names it.
    actor: Mapped[Any] = relationship("User", lazy="raise_on_sql")


class AuditPurgePermit(Model):
    """Lets the triggers delete entries created before ``before``, for one transaction only."""

    __tablename__ = "audit_purge_permits"

    id: Mapped[int] = mapped_column(primary_key=True)
    before: Mapped[datetime] = mapped_column(UTCDateTime())


def purge(before: datetime, which: sa.ColumnElement[bool]) -> int:
    """Delete the entries matching ``which`` created before ``before`` (the retention schedule)."""
    permit = db.session.execute(sa.insert(AuditPurgePermit).values(before=before).returning(AuditPurgePermit.id))
    permit_id = permit.scalar_one()
    removed = db.session.execute(
        sa.delete(AuditEntry).where(AuditEntry.created_at < before, which),
        execution_options={"synchronize_session": False},
    )
    db.session.execute(sa.delete(AuditPurgePermit).where(AuditPurgePermit.id == permit_id))
    return int(getattr(removed, "rowcount", 0) or 0)


class AuditRewrite(Model):
    """A permit to rewrite words in the audit log, held only inside the one transaction that
    pseudonymises an erased person (``pseudonymise``): while a row is here the database lets
    that transaction change an entry's before, after and note, never who, what or when. The
    row is deleted before the transaction commits, so no other transaction ever sees one."""

    __tablename__ = "audit_rewrites"

    id: Mapped[int] = mapped_column(primary_key=True)
    reference: Mapped[str] = mapped_column(sa.String(40))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class Actor(Protocol):
    """Whoever acted: a ``User`` (only its id is recorded)."""

    @property
    def id(self) -> int: ...


class AuditLogIsAppendOnly(RuntimeError):
    pass


@sa.event.listens_for(Session, "before_flush")
def _refuse_audit_changes(session: Session, flush_context: Any, instances: Any) -> None:
    for obj in list(session.dirty) + list(session.deleted):
        if isinstance(obj, AuditEntry) and (obj in session.deleted or session.is_modified(obj)):
            raise AuditLogIsAppendOnly("Audit entries cannot be changed or deleted.")


def record(
    action: str,
    obj: Any,
    *,
    actor: Actor | None,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
    note: str = "",
) -> AuditEntry:
    """Add an audit entry to the current transaction; it commits (or not) with the change."""
    entry = AuditEntry(
        action=action,
        object_type=type(obj).__name__,
        object_id=str(obj.id),
        actor_id=actor.id if actor is not None else None,
        before=before,
        after=after,
        note=note,
    )
    db.session.add(entry)
    return entry


def entries_query(*, action: str = "", object_type: str = "", actor_id: int | None = None) -> sa.Select[AuditEntry]:
    """Newest first, with actors loaded in the same query."""
    query = sa.select(AuditEntry).options(sa.orm.joinedload(AuditEntry.actor)).order_by(AuditEntry.id.desc())
    if action:
        query = query.where(AuditEntry.action == action)
    if object_type:
        query = query.where(AuditEntry.object_type == object_type)
    if actor_id is not None:
        query = query.where(AuditEntry.actor_id == actor_id)
    return query


# Each action once, in order, by stepping through the action index one value at a time (a loose
# index scan): a few dozen index probes however many entries there are, where DISTINCT reads them all.
_ACTIONS_IN_ORDER = sa.text(
    "WITH RECURSIVE found(action) AS ("
    " SELECT min(action) FROM audit_entries"
    " UNION ALL"
    " SELECT (SELECT min(action) FROM audit_entries WHERE action > found.action) FROM found"
    " WHERE found.action IS NOT NULL"
    ") SELECT action FROM found WHERE action IS NOT NULL"
)


def known_actions() -> list[str]:
    return list(db.session.scalars(_ACTIONS_IN_ORDER))


def _replaced(value: Any, patterns: list[tuple[re.Pattern[str], str]]) -> Any:
    if isinstance(value, str):
        for pattern, reference in patterns:
            value = pattern.sub(reference, value)
        return value
    if isinstance(value, dict):
        return {key: _replaced(item, patterns) for key, item in value.items()}
    if isinstance(value, list):
        return [_replaced(item, patterns) for item in value]
    return value


def pseudonymise(*, person_id: int, words: list[str], reference: str) -> int:
    """Replace ``words`` (an erased person's names and email addresses) with ``reference`` in
    every audit entry's before, after and note; ids, actions and times stay. Returns how many
    entries changed. Runs in the caller's transaction, under an ``AuditRewrite`` permit."""
    words = sorted({word.strip() for word in words if len(word.strip()) >= 2}, key=len, reverse=True)
    patterns = [(re.compile(re.escape(word), re.IGNORECASE), reference) for word in words]
    about = sa.or_(
        AuditEntry.actor_id == person_id,
        sa.and_(AuditEntry.object_type == "User", AuditEntry.object_id == str(person_id)),
        *(
            sa.func.lower(column).contains(word.lower(), autoescape=True)
            for word in words
            for column in (AuditEntry.note, sa.cast(AuditEntry.before, sa.Text), sa.cast(AuditEntry.after, sa.Text))
        ),
    )
    found = db.session.execute(
        sa.select(AuditEntry.id, AuditEntry.before, AuditEntry.after, AuditEntry.note).where(about)
    )
    changes = []
    for entry_id, before, after, note in found:
        new = (_replaced(before, patterns), _replaced(after, patterns), _replaced(note, patterns))
        if new != (before, after, note):
            changes.append({"id": entry_id, "before": new[0], "after": new[1], "note": new[2]})
    if not changes:
        return 0
    permit = AuditRewrite(reference=reference, created_at=utcnow())
    db.session.add(permit)
    db.session.flush()
    db.session.execute(sa.update(AuditEntry), changes)  # by primary key, one executemany
    db.session.delete(permit)
    db.session.flush()
    for entry in [obj for obj in db.session.identity_map.values() if isinstance(obj, AuditEntry)]:
        db.session.expire(entry)  # loaded copies would show the words the database no longer has
    return len(changes)


def record_many(
    action: str,
    object_type: str,
    entries: Iterable[tuple[int, dict[str, Any] | None, dict[str, Any] | None, str]],
    *,
    actor: Actor | None,
) -> int:
    """One entry per ``(object id, before, after, note)``, as ``record`` would write each, in one
    multi-row INSERT (a run of 10,000 claims keeps every claim's entry). Returns how many."""
    now = utcnow()
    rows = [
        {
            "created_at": now,
            "action": action,
            "object_type": object_type,
            "object_id": str(object_id),
            "actor_id": actor.id if actor is not None else None,
            "before": before,
            "after": after,
            "note": note,
        }
        for object_id, before, after, note in entries
    ]
    if rows:
        # RETURNING makes SQLAlchemy send multi-row VALUES (1,000 rows a statement) on every
        # driver, rather than one row at a time, which psycopg's executemany would do.
        db.session.execute(sa.insert(AuditEntry).returning(AuditEntry.id), rows)
    return len(rows)


def record_for_each(
    action: str,
    object_type: str,
    ids: sa.Select[Any],
    *,
    actor: Actor | None,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
    note: str = "",
) -> None:
    """One entry per id that ``ids`` (a one-column SELECT) finds, all with the same before, after
    and note: the database writes them itself (INSERT ... SELECT), sending nothing per row."""
    query = sa.select(
        sa.literal(utcnow(), UTCDateTime()),
        sa.literal(actor.id if actor is not None else None, sa.Integer),
        sa.literal(action, sa.String),
        sa.literal(object_type, sa.String),
        sa.cast(ids.subquery().c[0], sa.String(60)),
        sa.literal(before, sa.JSON),
        sa.literal(after, sa.JSON),
        sa.literal(note, sa.String),
    )
    columns = ["created_at", "actor_id", "action", "object_type", "object_id", "before", "after", "note"]
    db.session.execute(sa.insert(AuditEntry).from_select(columns, query))

"""The audit log is append-only, in the ORM and in the database itself."""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa

from portal.core import audit
from portal.core.audit import AuditEntry, AuditLogIsAppendOnly
from portal.core.extensions import db


def _one_entry(users: dict[str, Any]) -> AuditEntry:
    entry = audit.record("test.event", users["member"], actor=users["admin"], before={"a": 1}, after={"a": 2})
    db.session.commit()
    return entry


def test_record_keeps_who_what_which_and_when(users: dict[str, Any]) -> None:
    entry = _one_entry(users)
    assert (entry.action, entry.object_type, entry.object_id) == ("test.event", "User", str(users["member"].id))
    assert entry.actor_id == users["admin"].id and entry.created_at.tzinfo is not None


def test_orm_refuses_changes_and_deletes(users: dict[str, Any]) -> None:
    entry = _one_entry(users)
    entry.note = "rewritten"
    with pytest.raises(AuditLogIsAppendOnly):
        db.session.flush()
    db.session.rollback()
    db.session.delete(db.session.get(AuditEntry, entry.id))
    with pytest.raises(AuditLogIsAppendOnly):
        db.session.flush()
    db.session.rollback()


def test_database_refuses_changes_and_deletes(users: dict[str, Any]) -> None:
    entry = _one_entry(users)
    for statement in ("UPDATE audit_entries SET note = 'x'", "DELETE FROM audit_entries"):
        with pytest.raises(sa.exc.DatabaseError, match="append-only"):
            db.session.execute(sa.text(statement))
        db.session.rollback()
    assert db.session.get(AuditEntry, entry.id).note == ""


def test_an_entry_is_lost_with_a_rolled_back_change(users: dict[str, Any]) -> None:
    audit.record("test.event", users["member"], actor=users["admin"])
    db.session.rollback()
    assert db.session.scalar(sa.select(sa.func.count()).select_from(AuditEntry)) == 0

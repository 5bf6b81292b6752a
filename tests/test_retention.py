"""The retention schedule: each rule removes what is past its period and keeps what is not."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
import sqlalchemy as sa
import time_machine
from flask import Flask
from sqlalchemy.exc import DBAPIError

from portal.accounts.models import UserSession
from portal.core import audit, retention, schedule, uploads
from portal.core.audit import AuditEntry, AuditPurgePermit
from portal.core.extensions import db
from portal.core.outbox import MAX_ATTEMPTS, OutboxMessage
from portal.core.schedule import RunState, TaskRun
from portal.gatherings.models import Rsvp
from portal.notifications.models import Notification
from portal.remuneration import claims
from portal.remuneration.models import Claim, ExpenseCategory, ExpenseLine
from portal.remuneration.retention import RECEIPTS
from tests import factories
from tests.helpers import run_tasks

NOW = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)


def _at(moment: datetime) -> Any:
    return time_machine.travel(moment, tick=False)


def _apply() -> dict[str, int]:
    with _at(NOW):
        removed = retention.apply_all(NOW)
        db.session.commit()
    return removed


def test_every_kind_has_a_rule_and_a_setting(app: Flask) -> None:
    kinds = set(retention.RULES)
    assert {
        "sent emails",
        "notifications",
        "access needs after a gathering",
        "sign-in sessions",
        "draft claims",
        "audit entries",
        "audit entries about money, consent and decisions",
        "finished job records",
    } <= kinds
    for found in retention.RULES.values():
        assert app.config[found.setting] >= 1  # each has a default in core/config.py


def test_sent_emails(app: Flask) -> None:
    old, recent = NOW - timedelta(days=91), NOW - timedelta(days=89)

    def message(**fields: Any) -> OutboxMessage:
        made = OutboxMessage(kind="test", to_email="a@example.org", subject="", body="", **fields)
        db.session.add(made)
        return made

    message(created_at=old, sent_at=old)
    message(created_at=old, withheld_at=old)
    message(created_at=old, attempts=MAX_ATTEMPTS)  # given up on
    kept = [
        message(created_at=old, sent_at=recent),
        message(created_at=old, attempts=1),  # still to be retried: never removed while waiting
        message(created_at=recent, withheld_at=recent),
    ]
    db.session.commit()
    kept_ids = {m.id for m in kept}
    assert _apply()["sent emails"] == 3
    assert set(db.session.scalars(sa.select(OutboxMessage.id))) == kept_ids


def test_notifications(app: Flask, users: dict[str, Any]) -> None:
    member = users["member"]
    for days in (366, 364):
        db.session.add(
            Notification(recipient_id=member.id, kind="test", subject=f"{days}", created_at=NOW - timedelta(days=days))
        )
    db.session.commit()
    assert _apply()["notifications"] == 1
    assert db.session.scalars(sa.select(Notification.subject)).all() == ["364"]


def test_access_needs_are_erased_after_the_gathering(app: Flask, users: dict[str, Any]) -> None:
    ended_long_ago = factories.make_gathering(users["staff"], title="Long ago")
    ended_lately = factories.make_gathering(users["staff"], title="Lately")
    for gathering in (ended_long_ago, ended_lately):
        factories.book(gathering, users["member"], access_needs="A quiet room and a hearing loop")
    ended_long_ago.ends_at = NOW - timedelta(days=31)
    ended_long_ago.starts_at = ended_long_ago.ends_at - timedelta(hours=3)
    ended_lately.ends_at = NOW - timedelta(days=29)
    ended_lately.starts_at = ended_lately.ends_at - timedelta(hours=3)
    db.session.commit()

    assert _apply()["access needs after a gathering"] == 1
    needs = {
        row.gathering_id: row.access_needs
        for row in db.session.execute(sa.select(Rsvp.gathering_id, Rsvp.access_needs))
    }
    assert needs == {ended_long_ago.id: "", ended_lately.id: "A quiet room and a hearing loop"}
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Rsvp)) == 2  # the bookings stay
    assert _apply()["access needs after a gathering"] == 0  # nothing left to erase


def test_sign_in_sessions(app: Flask, users: dict[str, Any]) -> None:
    member = users["member"]
    rows = {
        "ended long ago": {"ended_at": NOW - timedelta(days=91), "last_seen_at": NOW - timedelta(days=91)},
        "idle long ago": {"last_seen_at": NOW - timedelta(days=91)},
        "ended lately": {"ended_at": NOW - timedelta(days=89), "last_seen_at": NOW - timedelta(days=89)},
        "in use": {"last_seen_at": NOW - timedelta(hours=1)},
    }
    for name, fields in rows.items():
        db.session.add(UserSession(user_id=member.id, token_hash=name.ljust(64, "x"), user_agent=name, **fields))
    db.session.commit()
    assert _apply()["sign-in sessions"] == 2
    assert set(db.session.scalars(sa.select(UserSession.user_agent))) == {"ended lately", "in use"}


def _draft(claimant: Any, activity_id: int, on: datetime) -> Claim:
    with _at(on):
        claim = claims.create_claim(
            claimant,
            claims.ClaimDetails(activity_id, (on - timedelta(days=1)).date(), Decimal("1"), None),
            today=on.date(),
        )
        db.session.commit()
    return claim


def test_draft_claims_untouched_for_months_go_with_their_receipts(app: Flask, users: dict[str, Any]) -> None:
    member = users["member"]
    meeting = factories.rate_card()["Meeting"]
    stale = _draft(member, meeting.id, NOW - timedelta(days=200))
    receipt = uploads.write(RECEIPTS, b"%PDF-1.4 a receipt", "application/pdf")
    db.session.add(
        ExpenseLine(claim_id=stale.id, category=ExpenseCategory.TRAVEL, amount_pence=350, receipt_stored_name=receipt)
    )
    db.session.commit()
    edited = _draft(member, meeting.id, NOW - timedelta(days=200))
    with _at(NOW - timedelta(days=10)):
        edited.notes = "Added the meeting's notes"  # touched lately: kept
        db.session.commit()
    fresh = _draft(member, meeting.id, NOW - timedelta(days=20))
    submitted = factories.submitted(member, meeting)  # not a draft: never removed by this rule
    submitted.updated_at = NOW - timedelta(days=400)
    db.session.commit()
    kept = {edited.id, fresh.id, submitted.id}

    assert _apply()["draft claims"] == 1
    assert set(db.session.scalars(sa.select(Claim.id))) == kept
    assert db.session.scalar(sa.select(sa.func.count()).select_from(ExpenseLine)) == 0
    assert uploads.path_of(RECEIPTS, receipt).is_file()  # the file waits for the commit ...
    run_tasks()
    assert not uploads.path_of(RECEIPTS, receipt).exists()  # ... and then goes


def _entry(action: str, years_ago: float, actor: Any) -> None:
    with _at(NOW - timedelta(days=365 * years_ago)):
        audit.record(action, actor, actor=actor)
        db.session.commit()


def test_audit_entries_are_kept_longer_for_money_consent_and_decisions(app: Flask, users: dict[str, Any]) -> None:
    admin = users["admin"]
    _entry("user.role_changed", 4, admin)  # past 3 years: goes
    _entry("user.role_changed", 2, admin)
    _entry("claim.paid", 4, admin)  # money: 7 years
    _entry("story.consent_recorded", 4, admin)  # consent
    _entry("application.decided", 4, admin)  # a funding decision
    _entry("batch.paid", 8, admin)  # past 7 years: goes
    removed = _apply()
    assert removed["audit entries"] == 1
    assert removed["audit entries about money, consent and decisions"] == 1
    left = db.session.execute(sa.select(AuditEntry.action, AuditEntry.created_at).order_by(AuditEntry.id)).all()
    assert [action for action, _ in left] == [
        "user.role_changed",
        "claim.paid",
        "story.consent_recorded",
        "application.decided",
    ]
    assert db.session.scalar(sa.select(sa.func.count()).select_from(AuditPurgePermit)) == 0  # none outlives it


def test_the_audit_log_still_refuses_any_other_delete(app: Flask, users: dict[str, Any]) -> None:
    _entry("user.role_changed", 10, users["admin"])
    with pytest.raises(DBAPIError, match="append-only"):
        db.session.execute(sa.delete(AuditEntry))
    db.session.rollback()
    assert db.session.scalar(sa.select(sa.func.count()).select_from(AuditEntry)) == 1


def test_finished_job_records(app: Flask) -> None:
    for slot, state, days in (
        ("old", RunState.SUCCEEDED, 91),
        ("old-failed", RunState.FAILED, 91),
        ("old-running", RunState.RUNNING, 91),
        ("recent", RunState.SUCCEEDED, 89),
    ):
        db.session.add(TaskRun(job="emails", slot=slot, state=state, created_at=NOW - timedelta(days=days)))
    db.session.commit()
    assert _apply()["finished job records"] == 2
    assert set(db.session.scalars(sa.select(TaskRun.slot))) == {"old-running", "recent"}


def test_a_period_is_set_in_the_config(app_factory: Any, users: dict[str, Any]) -> None:
    app = app_factory(RETENTION_NOTIFICATION_DAYS=7)
    with app.app_context():
        member = factories.user()
        db.session.add(Notification(recipient_id=member.id, kind="t", subject="x", created_at=NOW - timedelta(days=8)))
        db.session.commit()
        assert _apply()["notifications"] == 1


def test_a_bad_period_is_refused_with_a_clear_message(app_factory: Any) -> None:
    app = app_factory(RETENTION_SESSION_DAYS=0)
    with app.app_context(), pytest.raises(ValueError, match="PORTAL_RETENTION_SESSION_DAYS must be a whole number"):
        retention.apply_all(NOW)


def test_the_daily_job_reports_each_kind_and_shows_on_the_jobs_page(
    app: Flask, as_role: Any, users: dict[str, Any]
) -> None:
    db.session.add(
        Notification(recipient_id=users["member"].id, kind="t", subject="x", created_at=NOW - timedelta(days=400))
    )
    db.session.commit()
    with _at(NOW):
        run_id = schedule.run_now("retention", NOW).id
        db.session.commit()
        run_tasks()
    run = db.session.get(TaskRun, run_id)
    assert run is not None and run.state == RunState.SUCCEEDED, run.error if run else ""
    assert run.result.startswith("Removed ") and "notifications: 1" in run.result and "draft claims: 0" in run.result
    page = as_role("staff").get("/admin/jobs").get_data(as_text=True)
    assert "Apply the retention schedule" in page and "notifications: 1" in page

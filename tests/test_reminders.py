"""Reminders, with a frozen clock: each is sent once at its time and never again, and not at all
to a person who switched that kind off."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
import sqlalchemy as sa
import time_machine
from flask import Flask

from portal.core import outbox, schedule
from portal.core.extensions import db
from portal.core.formatting import LONDON
from portal.core.outbox import OutboxMessage
from portal.gatherings.models import Rsvp
from portal.grants.models import ProgressReport, ReportState
from portal.notifications.models import Notification, NotificationSetting
from portal.remuneration import claims
from portal.remuneration.models import BatchState, PaymentBatch
from tests import factories
from tests.helpers import run_tasks


def at(day: date, hour: int = 8, minute: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=LONDON)


def tick_at(moment: datetime) -> None:
    with time_machine.travel(moment, tick=False):
        schedule.tick(moment.astimezone(UTC))
        run_tasks()
    db.session.expire_all()


def subjects(person: Any) -> list[str]:
    return list(
        db.session.scalars(
            sa.select(Notification.subject).where(Notification.recipient_id == person.id).order_by(Notification.id)
        )
    )


SENT: list[tuple[str, str, str]] = []  # (to, subject, body) of each email as it left


@pytest.fixture(autouse=True)
def _mailbox(monkeypatch: pytest.MonkeyPatch) -> None:
    """A sent email keeps no subject or body in the outbox; read them as they were sent."""
    SENT.clear()
    monkeypatch.setattr(
        outbox, "_write_to_log", lambda _config, message: SENT.append((message.to_email, message.subject, message.body))
    )


def emails_to(person: Any) -> list[str]:
    waiting = db.session.scalars(
        sa.select(OutboxMessage)
        .where(OutboxMessage.to_email == person.email, OutboxMessage.sent_at.is_(None))
        .order_by(OutboxMessage.id)
    )
    return [subject for to, subject, _body in SENT if to == person.email] + [m.subject for m in waiting]


DUE = date(2026, 12, 21)


def _report(lead: Any, *members: Any) -> ProgressReport:
    project = factories.project(title="Recovery cafés", lead=lead, members=members)
    report = ProgressReport(project_id=project.id, due_on=DUE, state=ReportState.DUE)
    db.session.add(report)
    db.session.commit()
    return report


def test_report_reminders_7_days_before_on_the_day_and_overdue_each_once(app: Flask, users: dict[str, Any]) -> None:
    lead, member, staff = users["member"], users["finance"], users["staff"]
    _report(lead, member)
    tick_at(at(DUE - timedelta(days=8)))
    assert subjects(lead) == []
    tick_at(at(DUE - timedelta(days=7)))
    tick_at(at(DUE - timedelta(days=7), 15))
    tick_at(at(DUE - timedelta(days=6)))
    week = "The report for 'Recovery cafés' is due in 7 days"
    assert subjects(lead) == [week] and subjects(member) == [week]
    assert emails_to(lead) == [week]
    tick_at(at(DUE))
    tick_at(at(DUE + timedelta(days=1)))
    tick_at(at(DUE + timedelta(days=2)))
    assert subjects(lead) == [
        week,
        "The report for 'Recovery cafés' is due today",
        "The report for 'Recovery cafés' is overdue by 1 day",
    ]
    staff_subjects = [s for s in subjects(staff) if "Recovery" in s]
    assert staff_subjects == []
    tick_at(at(DUE + timedelta(days=14)))
    tick_at(at(DUE + timedelta(days=15)))
    assert [s for s in subjects(staff) if "Recovery" in s] == ["The report for 'Recovery cafés' is 14 days overdue"]
    assert len(subjects(lead)) == 3  # the team is not told again


def test_a_sent_report_is_not_reminded(app: Flask, users: dict[str, Any]) -> None:
    report = _report(users["member"])
    report.state = ReportState.SUBMITTED
    db.session.commit()
    tick_at(at(DUE - timedelta(days=7)))
    tick_at(at(DUE + timedelta(days=20)))
    assert subjects(users["member"]) == []


def test_reminders_switched_off_are_not_sent_and_in_portal_only_sends_no_email(
    app: Flask, users: dict[str, Any]
) -> None:
    lead, member = users["member"], users["finance"]
    db.session.add(NotificationSetting(user_id=lead.id, kind="report_reminder", enabled=False, email=False))
    db.session.add(NotificationSetting(user_id=member.id, kind="report_reminder", enabled=True, email=False))
    db.session.commit()
    _report(lead, member)
    tick_at(at(DUE - timedelta(days=7)))
    tick_at(at(DUE))
    assert subjects(lead) == [] and emails_to(lead) == []
    assert len(subjects(member)) == 2 and emails_to(member) == []


def test_the_reminder_names_the_report_and_links_to_it(app: Flask, users: dict[str, Any]) -> None:
    report = _report(users["member"])
    tick_at(at(DUE - timedelta(days=7)))
    (notification,) = db.session.scalars(sa.select(Notification).where(Notification.recipient_id == users["member"].id))
    assert notification.url_path == f"/projects/{report.project_id}/reports/{report.id}"
    [body] = [body for to, _subject, body in SENT if to == users["member"].email]
    assert f"/projects/{report.project_id}/reports/{report.id}" in body


def test_gathering_tomorrow_with_access_arrangements_and_joining_details(app: Flask, users: dict[str, Any]) -> None:
    gathering = factories.make_gathering(
        users["staff"], title="Co-design workshop", online_link="https://meet.example.test/cafe"
    )
    factories.book(gathering, users["member"], access_needs="A quiet room to take breaks")
    start = gathering.starts_at.astimezone(LONDON)
    tick_at(at(start.date() - timedelta(days=2), 9, 30))
    assert not [s for s in subjects(users["member"]) if s.startswith("Tomorrow")]
    tick_at(at(start.date() - timedelta(days=1), 9, 30))
    tick_at(at(start.date() - timedelta(days=1), 10, 30))
    reminders = list(
        db.session.scalars(
            sa.select(Notification).where(
                Notification.recipient_id == users["member"].id, Notification.kind == "gathering_reminder"
            )
        )
    )
    assert len(reminders) == 1 and reminders[0].subject == "Tomorrow: 'Co-design workshop'"
    assert "A quiet room to take breaks" in reminders[0].body
    assert "https://meet.example.test/cafe" in reminders[0].body
    assert "Step-free; hearing loop." in reminders[0].body
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Rsvp)) == 1


def test_draft_claims_and_unpaid_batches(app: Flask, users: dict[str, Any]) -> None:
    cards = factories.rate_card()
    start = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)
    with time_machine.travel(start, tick=False):
        draft = claims.create_claim(
            users["member"],
            claims.ClaimDetails(cards["Meeting"].id, date(2026, 11, 30), Decimal("2"), None),
            today=date(2026, 12, 1),
        )
        db.session.add(
            PaymentBatch(reference="BATCH-1", state=BatchState.AWAITING_PAYMENT, created_by_id=users["finance"].id)
        )
        db.session.commit()
    assert draft.id
    tick_at(at(date(2026, 12, 3), 9))
    assert subjects(users["member"]) == [] and subjects(users["finance"]) == []
    tick_at(at(date(2026, 12, 8), 9))
    tick_at(at(date(2026, 12, 9), 9))
    assert subjects(users["member"]) == ["Your claim 'Meeting, 30 Nov 2026' is not sent yet"]
    batch = [s for s in subjects(users["finance"]) if "BATCH-1" in s]
    assert batch == ["Payment batch 'BATCH-1' is not marked paid after 5 days"]
    assert [s for s in subjects(users["admin"]) if "BATCH-1" in s] == batch
    assert not [s for s in subjects(users["staff"]) if "BATCH-1" in s]  # finance only


def test_claims_waiting_for_approval_are_named_to_staff_once(app: Flask, users: dict[str, Any]) -> None:
    cards = factories.rate_card()
    sent = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)
    first = factories.submitted(users["member"], cards["Meeting"], sent=sent)
    second = factories.submitted(users["finance"], cards["Meeting"], sent=sent)
    tick_at(at(date(2026, 11, 29), 9))
    assert not [s for s in subjects(users["staff"]) if "approval" in s]
    tick_at(at(date(2026, 12, 1), 9))
    tick_at(at(date(2026, 12, 2), 9))
    waiting = [s for s in subjects(users["staff"]) if "approval" in s]
    assert waiting == ["2 claims have waited more than 10 days for approval"]
    body = db.session.scalars(
        sa.select(Notification.body).where(
            Notification.recipient_id == users["staff"].id, Notification.subject == waiting[0]
        )
    ).one()
    assert users["member"].name in body and users["finance"].name in body
    assert first.id and second.id

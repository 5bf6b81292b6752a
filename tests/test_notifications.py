"""In-app notifications, email through the outbox, per-kind switches, and the weekly digest."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from portal import digest
from portal.core.extensions import db
from portal.core.outbox import OutboxMessage
from portal.core.search import documents
from portal.notifications.models import Notification
from portal.notifications.service import notify
from tests.factories import make_post
from tests.helpers import count_queries


def _emails(to: str, kind: str = "") -> list[OutboxMessage]:
    query = sa.select(OutboxMessage).where(OutboxMessage.to_email == to)
    if kind:
        query = query.where(OutboxMessage.kind == kind)
    return list(db.session.scalars(query))


def test_notify_writes_the_notification_and_the_email_together(app: Any, users: dict[str, Any]) -> None:
    member = users["member"]
    notify(member, "claim", "Your claim was approved", "Claim 12 was approved.", "/payments/claims/12")
    db.session.rollback()  # nothing is kept unless the change that caused it commits
    assert db.session.scalar(sa.select(sa.func.count(Notification.id))) == 0 and _emails(member.email) == []
    notify(member, "claim", "Your claim was approved", "Claim 12 was approved.", "/payments/claims/12")
    db.session.commit()
    note = db.session.scalar(sa.select(Notification))
    assert note.recipient_id == member.id and note.read_at is None
    [email] = _emails(member.email, "notification.claim")
    assert email.subject == "Your claim was approved" and "http://portal.test/payments/claims/12" in email.body
    with pytest.raises(ValueError):
        notify(member, "nonsense", "s", "b", "/")


def test_each_kind_of_email_can_be_switched_off(app: Any, as_role: Any, users: dict[str, Any]) -> None:
    member = users["member"]
    client = as_role("member")
    page = client.get("/notifications/settings").get_data(as_text=True)
    assert (
        'id="email_comment" name="email_comment" checked' in page and 'id="email_digest" name="email_digest">' in page
    )
    kept = ["email_claim", "email_digest"]
    assert client.post("/notifications/settings", data={k: "on" for k in kept}).status_code == 303
    notify(member, "comment", "A comment", "Someone commented.", "/learning/1")
    notify(member, "claim", "A claim", "Approved.", "/payments")
    db.session.commit()
    assert [e.kind for e in _emails(member.email)] == ["notification.claim"]
    assert db.session.scalar(sa.select(sa.func.count(Notification.id))) == 2  # in-app always


def test_the_inbox_counts_unread_and_opening_marks_read(app: Any, as_role: Any, users: dict[str, Any]) -> None:
    member = users["member"]
    for number in range(3):
        notify(member, "validation", f"Note {number}", "b", f"/learning/{number}")
    notify(users["staff"], "validation", "Not yours", "b", "/learning/9")
    db.session.commit()
    client = as_role("member")
    page = client.get("/notifications").get_data(as_text=True)
    assert "3 unread" in page and "Not yours" not in page
    mine = db.session.scalar(sa.select(Notification).where(Notification.subject == "Note 1"))
    theirs = db.session.scalar(sa.select(Notification).where(Notification.subject == "Not yours"))
    response = client.get(f"/notifications/{mine.id}")
    assert response.status_code == 303 and response.headers["Location"] == "/learning/1"
    assert client.get(f"/notifications/{theirs.id}").status_code == 404
    assert "2 unread" in client.get("/notifications").get_data(as_text=True)
    client.post("/notifications/read")
    assert "0 unread" in client.get("/notifications").get_data(as_text=True)


def test_inbox_queries_do_not_grow(app: Any, as_role: Any, users: dict[str, Any]) -> None:
    app.config["PAGE_SIZE"] = 100
    client = as_role("member")

    def add(count: int) -> None:
        for number in range(count):
            notify(users["member"], "comment", f"Note {number}", "b", "/learning/1")
        db.session.commit()

    def queries() -> int:
        client.get("/notifications")
        with count_queries() as statements:
            client.get("/notifications")
        return len(statements)

    add(5)
    few = queries()
    add(45)
    assert queries() == few


def test_the_digest_goes_to_people_who_opted_in_with_public_things_only(
    app: Any, as_role: Any, users: dict[str, Any]
) -> None:
    reader = users["staff"]
    as_role("staff").post("/notifications/settings", data={"email_digest": "on"})
    make_post(users["member"], title="Public post for the digest")
    make_post(users["member"], title="Members-only post", visibility="members")
    documents.upsert(
        kind="story", object_id=1, title="A public story", body="b", audience="public", url_path="/stories/1"
    )
    documents.upsert(
        kind="story", object_id=2, title="A network story", body="b", audience="members", url_path="/stories/2"
    )
    db.session.commit()
    result = app.test_cli_runner().invoke(args=["send-digest"])
    assert result.exit_code == 0 and "for 1 people" in result.output
    [email] = _emails(reader.email, "digest")
    assert "Public post for the digest" in email.body and "A public story" in email.body
    assert "Members-only post" not in email.body and "A network story" not in email.body
    assert _emails(users["member"].email, "digest") == []  # did not opt in


def test_no_digest_when_nothing_is_new(app: Any, users: dict[str, Any]) -> None:
    from portal.notifications import inbox

    inbox.save_email_choices(users["member"], {"digest"})
    make_post(users["member"], title="Old news")
    db.session.commit()
    assert digest.send_digest(now=datetime.now(UTC) + timedelta(days=8)) == 0
    assert digest.send_digest() == 1


def test_claim_and_application_changes_reach_the_inbox_and_claim_emails_can_be_switched_off(
    app: Any, users: dict[str, Any]
) -> None:
    from datetime import date
    from decimal import Decimal

    import sqlalchemy as sa

    from portal.core.db import utcnow
    from portal.core.extensions import db
    from portal.core.outbox import OutboxMessage
    from portal.notifications.models import Notification, NotificationSetting
    from portal.remuneration import claims
    from portal.remuneration.models import ActivityType, Rate, Unit

    activity = ActivityType(name="Meeting", unit=Unit.HOUR)
    db.session.add(activity)
    db.session.flush()
    db.session.add(Rate(activity_type_id=activity.id, amount_pence=2000, effective_from=date(2025, 1, 1)))
    member = users["member"]
    db.session.add(NotificationSetting(user_id=member.id, kind="claim", email=False))
    claim = claims.create_claim(
        member, claims.ClaimDetails(activity.id, date(2026, 11, 2), Decimal("1"), None), today=date(2026, 11, 23)
    )
    assert claims.submit_claim(claim, by=member, now=utcnow()) == []
    claims.approve_claim(claim, by=users["staff"], now=utcnow())
    db.session.commit()
    inbox = db.session.scalars(
        sa.select(Notification).where(Notification.recipient_id == member.id).order_by(Notification.id)
    ).all()
    assert [n.subject for n in inbox] == ["We have your claim", inbox[1].subject] and len(inbox) == 2
    assert all(n.kind == "claim" and n.url_path == f"/claims/{claim.id}" for n in inbox)
    assert (
        db.session.scalar(
            sa.select(sa.func.count()).select_from(OutboxMessage).where(OutboxMessage.to_email == member.email)
        )
        == 0
    )  # switched off
    from portal.grants import applications
    from tests.factories import make_application, make_phase

    application = make_application(make_phase(), member)
    applications.withdraw_application(application, by=member)
    db.session.commit()
    told = db.session.scalars(sa.select(Notification).where(Notification.kind == "application")).all()
    assert [(n.recipient_id, n.url_path) for n in told] == [(member.id, f"/applications/{application.id}")]
    assert db.session.scalars(sa.select(OutboxMessage.subject).where(OutboxMessage.to_email == member.email)).all() == [
        "Your application is withdrawn"
    ]  # still wanted

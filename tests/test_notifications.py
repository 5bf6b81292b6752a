"""In-app notifications, email through the outbox, per-kind switches, and the weekly digest."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
import sqlalchemy as sa

from portal import digest
from portal.core.extensions import db
from portal.core.outbox import OutboxMessage
from portal.core.search import documents
from portal.notifications import inbox
from portal.notifications.models import KINDS, Notification
from portal.notifications.service import Group, grouped_subject, notify, wanted
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


def _levels(**chosen: str) -> dict[str, str]:
    """The settings form as a browser sends it: every kind by email, the digest off, then ``chosen``."""
    data = {f"level_{kind}": "email" for kind in KINDS}
    data["digest"] = "off"
    data.update({key if key == "digest" else f"level_{key}": value for key, value in chosen.items()})
    return data


def test_each_kind_can_be_off_in_the_portal_or_by_email_too(app: Any, as_role: Any, users: dict[str, Any]) -> None:
    member = users["member"]
    client = as_role("member")
    page = client.get("/notifications/settings").get_data(as_text=True)
    assert "<legend>Someone comments on your post</legend>" in page
    assert 'id="level_comment-2" name="level_comment" value="email" checked' in page
    assert 'id="digest" name="digest" value="off" checked' in page
    assert "Payment batches not yet marked paid" not in page  # for finance only
    assert "Payment batches not yet marked paid" in as_role("finance").get("/notifications/settings").get_data(
        as_text=True
    )
    response = client.post("/notifications/settings", data=_levels(comment="off", validation="portal", digest="daily"))
    assert response.status_code == 303
    assert wanted(member.id, "comment") == (False, False)
    assert wanted(member.id, "validation") == (True, False)
    assert wanted(member.id, "claim") == (True, True)
    assert wanted(member.id, "digest") == (False, True)
    page = client.get("/notifications/settings").get_data(as_text=True)
    assert 'name="level_comment" value="off" checked' in page and 'name="digest" value="daily" checked' in page

    notify(member, "comment", "A comment", "Someone commented.", "/learning/1")
    notify(member, "validation", "It resonates", "Someone says so.", "/learning/1")
    notify(member, "claim", "A claim", "Approved.", "/payments")
    db.session.commit()
    assert [e.kind for e in _emails(member.email)] == ["notification.claim"]  # off: none; portal: none
    kinds = db.session.scalars(sa.select(Notification.kind).order_by(Notification.id)).all()
    assert kinds == ["validation", "claim"]  # off: nothing written at all


@pytest.mark.parametrize(
    "bad",
    [
        {"level_comment": "sometimes"},
        {"digest": "hourly"},
        {"level_claim": ""},
    ],
)
def test_bad_settings_change_nothing(app: Any, as_role: Any, users: dict[str, Any], bad: dict[str, str]) -> None:
    client = as_role("member")
    assert client.post("/notifications/settings", data=_levels(claim="portal", digest="weekly")).status_code == 303
    before = wanted(users["member"].id, "claim"), wanted(users["member"].id, "digest")
    response = client.post("/notifications/settings", data={**_levels(claim="off", digest="daily"), **bad})
    assert response.status_code == 422 and "There is a problem" in response.get_data(as_text=True)
    db.session.expire_all()
    assert (wanted(users["member"].id, "claim"), wanted(users["member"].id, "digest")) == before
    assert inbox.choices(users["member"])["digest"] == "weekly"
    missing = _levels(claim="off")
    del missing["level_comment"]
    assert client.post("/notifications/settings", data=missing).status_code == 422
    assert wanted(users["member"].id, "claim") == (True, False)


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
    shown = client.get(f"/notifications/{mine.id}")  # looking changes nothing
    assert shown.status_code == 200 and "Note 1" in shown.get_data(as_text=True)
    assert "3 unread" in client.get("/notifications").get_data(as_text=True)
    response = client.post(f"/notifications/{mine.id}")  # the subject is a button: opening marks read
    assert response.status_code == 303 and response.headers["Location"] == "/learning/1"
    assert client.get(f"/notifications/{theirs.id}").status_code == 404
    assert client.post(f"/notifications/{theirs.id}").status_code == 404
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
    as_role("staff").post("/notifications/settings", data=_levels(digest="weekly"))
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
    assert [n.subject for n in inbox] == [
        "We have your claim 'Meeting, 2 Nov 2026'",
        "Your claim 'Meeting, 2 Nov 2026' was approved",
    ]
    assert all(n.kind == "claim" and n.url_path == f"/claims/{claim.id}" and n.count == 1 for n in inbox)
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
    assert [
        m.subject for m in db.session.scalars(sa.select(OutboxMessage).where(OutboxMessage.to_email == member.email))
    ] == ["Your application 'Peer-led recovery cafés' is withdrawn"]  # still wanted


# --- grouping -------------------------------------------------------------------------------------


def _claims(member: Any, days: list[int]) -> list[Any]:
    """Claims for meetings on these days of November 2026, each sent for checking."""
    from portal.core.db import utcnow
    from portal.remuneration import claims
    from tests.factories import rate_card

    meeting = rate_card()["Meeting"]
    made = []
    for day in days:
        claim = claims.create_claim(
            member, claims.ClaimDetails(meeting.id, date(2026, 11, day), Decimal("1")), today=date(2026, 11, 23)
        )
        assert claims.submit_claim(claim, by=member, now=utcnow()) == []
        made.append(claim)
    db.session.commit()
    return made


def _notes(person: Any, *, group_key: str) -> list[Notification]:
    return list(
        db.session.scalars(
            sa.select(Notification)
            .where(Notification.recipient_id == person.id, Notification.group_key == group_key)
            .order_by(Notification.id)
        )
    )


def test_five_approvals_give_one_notification_naming_the_five_claims(
    app: Any, as_role: Any, users: dict[str, Any]
) -> None:
    from portal.core.db import utcnow
    from portal.remuneration import claims

    member = users["member"]
    made = _claims(member, [2, 3, 4, 5, 6])
    for claim in made:
        claims.approve_claim(claim, by=users["staff"], now=utcnow())
        db.session.commit()
    [approved] = _notes(member, group_key="claims.approved")
    assert approved.count == 5 and approved.read_at is None and approved.url_path == "/payments"
    assert approved.subject == (
        "5 claims approved: 'Meeting, 2 Nov 2026', 'Meeting, 3 Nov 2026', 'Meeting, 4 Nov 2026', "
        "'Meeting, 5 Nov 2026' and 'Meeting, 6 Nov 2026'"
    )
    assert approved.item_names == [f"Meeting, {day} Nov 2026" for day in range(2, 7)]
    [sent] = _notes(member, group_key="claims.submitted")
    assert sent.count == 5 and sent.subject.startswith("We have 5 of your claims: 'Meeting, 2 Nov 2026'")
    # Email still goes for each event, naming the one claim.
    subjects = [e.subject for e in _emails(member.email, "claim_approved")]
    assert subjects == [f"Your claim 'Meeting, {day} Nov 2026' was approved" for day in range(2, 7)]
    # The inbox shows the grouped one first, with its claims, its link, and "Mark all as read".
    page = as_role("member").get("/notifications").get_data(as_text=True)
    assert page.index("5 claims approved") < page.index("We have 5 of your claims")
    assert "<li>Meeting, 6 Nov 2026</li>" in page and f'action="/notifications/{approved.id}"' in page
    assert "Mark all as read" in page
    response = as_role("member").post(f"/notifications/{approved.id}")
    assert response.headers["Location"] == "/payments"


def test_a_read_notification_is_never_merged_into(app: Any, users: dict[str, Any]) -> None:
    from portal.core.db import utcnow
    from portal.remuneration import claims

    member = users["member"]
    first, second = _claims(member, [9, 10])
    claims.approve_claim(first, by=users["staff"], now=utcnow())
    db.session.commit()
    inbox.mark_all_read(member)
    db.session.commit()
    claims.approve_claim(second, by=users["staff"], now=utcnow())
    db.session.commit()
    old, new = _notes(member, group_key="claims.approved")
    assert (old.count, old.subject, old.url_path) == (
        1,
        "Your claim 'Meeting, 9 Nov 2026' was approved",
        f"/claims/{first.id}",
    )
    assert old.read_at is not None
    assert (new.count, new.subject, new.url_path) == (
        1,
        "Your claim 'Meeting, 10 Nov 2026' was approved",
        f"/claims/{second.id}",
    )
    assert new.read_at is None


def test_a_grouped_subject_fits_and_says_how_many_more(app: Any, users: dict[str, Any]) -> None:
    member = users["member"]
    for number in range(14):
        group = Group(
            key="claims.paid",
            item=f"A long activity name number {number:02}, 1 Nov 2026",
            plural="{count} claims paid",
            url_path="/payments",
        )
        notify(member, "claim", f"Claim {number} paid", "Paid.", f"/claims/{number}", group=group)
    db.session.commit()
    [note] = _notes(member, group_key="claims.paid")
    assert (
        note.count == 14
        and len(note.item_names) == 10
        and note.item_names[-1].startswith("A long activity name number 13")
    )
    assert len(note.subject) <= 200 and note.subject.startswith("14 claims paid: ")
    assert note.subject.endswith("more") and "number 13" in note.subject and "number 00" not in note.subject
    assert grouped_subject("{count} claims approved", 3, ["A", "B", "C"]) == "3 claims approved: 'A', 'B' and 'C'"
    assert grouped_subject("{count} claims approved", 2, ["A", "B"]) == "2 claims approved: 'A' and 'B'"


def test_off_writes_nothing_and_portal_only_sends_no_email(app: Any, users: dict[str, Any]) -> None:
    member = users["member"]
    group = Group(
        key="claims.approved", item="Meeting, 2 Nov 2026", plural="{count} claims approved", url_path="/payments"
    )
    inbox.save_choices(member, {"claim": "off", "gathering": "portal"})
    db.session.commit()
    notify(member, "claim", "Approved", "b", "/claims/1", group=group)
    notify(member, "gathering", "Your place at Values workshop", "b", "/gatherings/1")
    db.session.commit()
    assert [n.kind for n in db.session.scalars(sa.select(Notification))] == ["gathering"]
    assert _emails(member.email) == []
    assert wanted(member.id, "report_reminder") == (True, True)  # no choice stored: the default

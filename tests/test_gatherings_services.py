"""Gathering rules at the service level: places and the waiting list, attendance and claims,
the calendar file and the digest section."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
import sqlalchemy as sa

from portal.accounts.models import User
from portal.core.db import utcnow
from portal.core.errors import NotAllowed, RuleBroken
from portal.core.extensions import db
from portal.core.outbox import OutboxMessage
from portal.gatherings import calendar, services
from portal.gatherings.digest import upcoming_for_digest
from portal.gatherings.models import Gathering, Rsvp, RsvpState
from portal.notifications.models import Notification
from portal.remuneration.models import Claim, ClaimState
from tests import factories
from tests.factories import book, make_gathering

# --- helpers ---------------------------------------------------------------------------------


def states(gathering: Gathering) -> dict[int, RsvpState]:
    db.session.expire_all()
    return dict(db.session.execute(sa.select(Rsvp.user_id, Rsvp.state).where(Rsvp.gathering_id == gathering.id)).all())


def notifications_for(person: User) -> list[Notification]:
    return list(
        db.session.scalars(
            sa.select(Notification).where(Notification.recipient_id == person.id).order_by(Notification.id)
        )
    )


# --- making gatherings ----------------------------------------------------------------------


def test_staff_and_pilot_leads_organise_members_do_not(app: Any, users: dict[str, User]) -> None:
    lead = factories.user()
    factories.project(lead=lead)
    assert make_gathering(users["staff"]).organiser_id == users["staff"].id
    assert make_gathering(lead).organiser_id == lead.id
    with pytest.raises(NotAllowed):
        make_gathering(users["member"])


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"title": "  "}, "title"),
        ({"ends_at": utcnow() + timedelta(hours=1)}, "ends_at"),
        ({"starts_at": utcnow() - timedelta(hours=1)}, "starts_at"),
        ({"place": "", "online_link": ""}, "place"),
        ({"online_link": "javascript:alert(1)"}, "online_link"),
        ({"capacity": 0}, "capacity"),
        ({"paid": True, "activity_type_id": None, "units": Decimal(1)}, "activity_type_id"),
    ],
)
def test_bad_details_are_refused_and_nothing_is_saved(
    app: Any, users: dict[str, User], change: dict[str, Any], field: str
) -> None:
    start = utcnow() + timedelta(days=2)
    details = services.GatheringDetails(
        title="Meet-up",
        description="Talk.",
        starts_at=start,
        ends_at=start + timedelta(hours=2),
        place="Hall",
        capacity=5,
    )
    with pytest.raises(RuleBroken) as refused:
        services.create_gathering(services.GatheringDetails(**{**details.__dict__, **change}), by=users["staff"])
    assert refused.value.field == field
    db.session.rollback()
    assert db.session.scalar(sa.select(sa.func.count(Gathering.id))) == 0


def test_a_lead_may_only_attach_their_own_project(app: Any, users: dict[str, User]) -> None:
    lead = factories.user()
    own = factories.project(lead=lead)
    other = factories.project(title="Someone else's", lead=factories.user())
    assert make_gathering(lead, project_id=own.id).project_id == own.id
    with pytest.raises(RuleBroken) as refused:
        make_gathering(lead, project_id=other.id)
    assert refused.value.field == "project_id"


# --- places and the waiting list -------------------------------------------------------------


def test_full_gathering_puts_people_on_the_waiting_list_in_order(app: Any, users: dict[str, User]) -> None:
    gathering = make_gathering(users["staff"], capacity=1)
    first, second, third = factories.user(), factories.user(), factories.user()
    assert book(gathering, first).state == RsvpState.GOING
    assert book(gathering, second).state == RsvpState.WAITING
    assert book(gathering, third).state == RsvpState.WAITING
    assert services.waiting_position(services.rsvp_of(gathering.id, third.id)) == 2
    with pytest.raises(RuleBroken):
        services.book(gathering, first)  # booking twice gives one booking
    db.session.rollback()
    assert db.session.scalar(sa.select(sa.func.count(Rsvp.id)).where(Rsvp.user_id == first.id)) == 1


def test_cancelling_moves_the_first_on_the_waiting_list_up_and_tells_them(app: Any, users: dict[str, User]) -> None:
    gathering = make_gathering(users["staff"], capacity=1, title="Peer support circle")
    first, second, third = factories.user(), factories.user(), factories.user()
    for person in (first, second, third):
        book(gathering, person)

    promoted = services.cancel(gathering, first)
    db.session.commit()

    assert promoted == [second]
    assert states(gathering) == {first.id: RsvpState.CANCELLED, second.id: RsvpState.GOING, third.id: RsvpState.WAITING}
    told = notifications_for(second)
    assert [n.subject for n in told][-1] == "A place came free: you are going to Peer support circle"
    assert told[-1].url_path == f"/gatherings/{gathering.id}"
    to_second = db.session.scalars(sa.select(OutboxMessage).where(OutboxMessage.to_email == second.email))
    assert sum(m.subject.startswith("A place came free") for m in to_second) == 1
    assert not any(n.subject.startswith("A place came free") for n in notifications_for(third))

    # Leaving the waiting list moves nobody up; the place count stays at capacity.
    services.cancel(gathering, third)
    db.session.commit()
    assert services.going_count(gathering.id) == 1


def test_more_places_move_people_up(app: Any, users: dict[str, User]) -> None:
    gathering = make_gathering(users["staff"], capacity=1)
    people = [factories.user() for _ in range(3)]
    for person in people:
        book(gathering, person)
    details = services.GatheringDetails(
        title=gathering.title,
        description=gathering.description,
        starts_at=gathering.starts_at,
        ends_at=gathering.ends_at,
        place=gathering.place,
        capacity=2,
    )
    promoted = services.update_gathering(gathering, details, by=users["staff"])
    db.session.commit()
    assert promoted == [people[1]]
    assert states(gathering)[people[2].id] == RsvpState.WAITING
    with pytest.raises(RuleBroken) as refused:  # fewer places than people already going
        services.update_gathering(
            gathering, services.GatheringDetails(**{**details.__dict__, "capacity": 1}), by=users["staff"]
        )
    assert refused.value.field == "capacity"


def test_booking_confirms_by_notification_and_records_consent(app: Any, users: dict[str, User]) -> None:
    gathering = make_gathering(users["staff"], title="Values workshop")
    member = users["member"]
    book(gathering, member, access_needs="Wheelchair space, please.")
    assert [n.subject for n in notifications_for(member)] == ["Your place at Values workshop"]
    from portal.core.audit import AuditEntry

    entry = db.session.scalar(sa.select(AuditEntry).where(AuditEntry.action == "gathering.rsvp"))
    assert entry.after["shares_access_needs"] is True and entry.actor_id == member.id


def test_no_booking_once_started(app: Any, users: dict[str, User]) -> None:
    gathering = make_gathering(users["staff"], starts_in=timedelta(hours=-1))
    with pytest.raises(RuleBroken):
        services.book(gathering, users["member"])


# --- attendance and claims -------------------------------------------------------------------


def test_marking_attendance_twice_drafts_exactly_one_claim_per_paid_attendee(app: Any, users: dict[str, User]) -> None:
    organiser = users["staff"]
    gathering = make_gathering(organiser, paid=True, title="Paid workshop")
    paid_one, paid_two, unpaid = factories.user(), factories.user(), factories.user()
    rsvps = [
        book(gathering, paid_one, lived_experience=True),
        book(gathering, paid_two, lived_experience=True),
        book(gathering, unpaid),
    ]
    gathering.starts_at = utcnow() - timedelta(hours=4)  # it has happened
    gathering.ends_at = utcnow() - timedelta(hours=1)
    db.session.commit()
    ids = [r.id for r in rsvps]

    first = services.mark_attendance(gathering, ids, by=organiser)
    db.session.commit()
    again = services.mark_attendance(gathering, ids, by=organiser)
    db.session.commit()

    assert (first.marked, first.claims_drafted) == (3, 2)
    assert (again.marked, again.claims_drafted) == (0, 0)
    claims = db.session.scalars(sa.select(Claim).order_by(Claim.claimant_id)).all()
    assert [c.claimant_id for c in claims] == [paid_one.id, paid_two.id]
    for claim in claims:
        assert claim.state == ClaimState.DRAFT
        assert claim.activity_date == services.activity_date(gathering)
        assert claim.units == Decimal("1.00") and claim.fee_pence == 8250
        assert "Paid workshop" in claim.notes
    stored = dict(db.session.execute(sa.select(Rsvp.user_id, Rsvp.claim_id)).all())
    assert stored[paid_one.id] == next(c.id for c in claims if c.claimant_id == paid_one.id)
    assert stored[unpaid.id] is None
    assert any(n.kind == "claim" for n in notifications_for(paid_one))


def test_claim_goes_to_the_project_only_for_its_team(app: Any, users: dict[str, User]) -> None:
    lead, teammate, outsider = factories.user(), factories.user(), factories.user()
    project = factories.project(lead=lead, members=(teammate,))
    gathering = make_gathering(lead, paid=True, project_id=project.id)
    ids = [book(gathering, person, lived_experience=True).id for person in (teammate, outsider)]
    gathering.starts_at = utcnow() - timedelta(hours=2)
    db.session.commit()
    services.mark_attendance(gathering, ids, by=lead)
    db.session.commit()
    by_person = dict(db.session.execute(sa.select(Claim.claimant_id, Claim.project_id)).all())
    assert by_person == {teammate.id: project.id, outsider.id: None}


def test_attendance_only_by_organisers_and_after_the_start(app: Any, users: dict[str, User]) -> None:
    gathering = make_gathering(users["staff"])
    rsvp = book(gathering, users["member"])
    with pytest.raises(RuleBroken):
        services.mark_attendance(gathering, [rsvp.id], by=users["staff"])
    db.session.rollback()
    with pytest.raises(NotAllowed):
        services.mark_attendance(gathering, [rsvp.id], by=users["member"])


# --- the calendar file and the digest ---------------------------------------------------------


def test_ics_follows_rfc_5545(app: Any, users: dict[str, User]) -> None:
    gathering = make_gathering(
        users["staff"], title="Tea, talk; and \\ planning", accessibility="Quiet room.\nBSL interpreter booked."
    )
    gathering.starts_at = datetime(2027, 7, 1, 9, 30, tzinfo=UTC)  # 10:30 in London (BST)
    gathering.ends_at = datetime(2027, 7, 1, 12, 0, tzinfo=UTC)
    gathering.description = "Café – “co-production” in practice. " * 8
    db.session.commit()

    text = calendar.gathering_ics(
        gathering, base_url="https://portal.example.org", now=datetime(2027, 6, 1, 8, 0, 5, tzinfo=UTC)
    )
    raw = text.encode("utf-8")
    assert raw.endswith(b"\r\n") and b"\n" not in raw.replace(b"\r\n", b"")
    physical = raw.split(b"\r\n")[:-1]
    assert all(len(line) <= 75 for line in physical)
    for line in physical:
        line.decode("utf-8")  # no character is split across a fold
    unfolded = text.replace("\r\n ", "").split("\r\n")
    assert unfolded[0] == "BEGIN:VCALENDAR" and unfolded[-2] == "END:VCALENDAR"
    assert "VERSION:2.0" in unfolded
    assert f"UID:gathering-{gathering.id}@portal.example.org" in unfolded
    assert "DTSTAMP:20270601T080005Z" in unfolded
    assert "DTSTART:20270701T093000Z" in unfolded and "DTEND:20270701T120000Z" in unfolded
    assert "SUMMARY:Tea\\, talk\\; and \\\\ planning" in unfolded
    description = next(line for line in unfolded if line.startswith("DESCRIPTION:"))
    assert "Accessibility: Quiet room.\\nBSL interpreter booked." in description
    assert "“co-production”" in description
    assert any(len(line) > 75 for line in unfolded)  # the long description really was folded


def test_fold_never_splits_a_character(app: Any, users: dict[str, User]) -> None:
    gathering = make_gathering(users["staff"], title="é" * 100)
    text = calendar.gathering_ics(gathering, base_url="http://portal.test", now=utcnow())
    folded = text.encode("utf-8").split(b"\r\n")
    assert all(len(part) <= 75 for part in folded)
    unfolded = b"".join(part.removeprefix(b" ") if part.startswith(b" ") else b"\n" + part for part in folded)
    assert b"\nSUMMARY:" + ("é" * 100).encode("utf-8") + b"\n" in unfolded


def test_digest_lists_new_upcoming_gatherings(app: Any, users: dict[str, User]) -> None:
    since = utcnow() - timedelta(minutes=1)
    soon = make_gathering(users["staff"], title="Soon", starts_in=timedelta(days=2))
    later = make_gathering(users["staff"], title="Later", starts_in=timedelta(days=9))
    make_gathering(users["staff"], title="Already over", starts_in=timedelta(days=-3))
    items = upcoming_for_digest(since, 10)
    assert [item.title for item in items] == ["Soon", "Later"]
    assert items[0].url_path == f"/gatherings/{soon.id}" and later.id
    assert upcoming_for_digest(since, 1)[0].title == "Soon"
    assert upcoming_for_digest(utcnow() + timedelta(minutes=1), 10) == []

    # The weekly digest's gatherings section comes from here.
    from portal.digest import sections
    from portal.gatherings.digest import digest_items

    assert [path for _title, path in digest_items(since)] == [f"/gatherings/{soon.id}", f"/gatherings/{later.id}"]
    found = {section.heading: section.items for section in sections(since)}
    assert [title.split(":")[0] for title, _path in found["Gatherings coming up"]] == ["Soon", "Later"]

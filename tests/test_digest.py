"""The digest: daily or weekly (on Mondays, UK time), each person's own "Due for you", and nothing
sent to someone with nothing in it."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import sqlalchemy as sa

from portal import digest
from portal.core.extensions import db
from portal.core.formatting import london_today
from portal.core.outbox import OutboxMessage
from portal.grants.models import ApplicationState, PhaseState, ProgressReport, ReportState, ReviewerAssignment
from portal.notifications import inbox
from portal.remuneration import claims
from tests import factories
from tests.factories import make_application, make_phase, make_post, rate_card, submitted
from tests.helpers import count_queries

MONDAY = datetime(2026, 12, 7, 7, 0, tzinfo=UTC)  # 07:00 in London (GMT in December)
TUESDAY = MONDAY + timedelta(days=1)


def _digests(to: str | None = None) -> list[OutboxMessage]:
    query = sa.select(OutboxMessage).where(OutboxMessage.kind == "digest").order_by(OutboxMessage.id)
    if to is not None:
        query = query.where(OutboxMessage.to_email == to)
    return list(db.session.scalars(query))


def _subscriber(frequency: str, **kwargs: Any) -> Any:
    person = factories.user(**kwargs)
    inbox.save_choices(person, {"digest": frequency})
    db.session.commit()
    return person


def _post_at(author: Any, when: datetime, title: str) -> None:
    post = make_post(author, title=title)
    post.created_at = when
    db.session.commit()


def test_daily_every_morning_and_weekly_on_mondays(app: Any, users: dict[str, Any]) -> None:
    daily, weekly = _subscriber("daily"), _subscriber("weekly")
    _subscriber("off")
    _post_at(users["member"], TUESDAY - timedelta(hours=3), "Yesterday evening's post")
    _post_at(users["member"], TUESDAY - timedelta(days=3), "A post from last week")
    assert digest.send_due_digests(TUESDAY) == 1  # not Monday: the daily only
    [email] = _digests()
    assert email.to_email == daily.email and email.subject == "Today in the Co-Production Portal"
    assert "Yesterday evening's post" in email.body and "A post from last week" not in email.body
    assert "daily digest" in email.body

    db.session.execute(sa.delete(OutboxMessage))
    next_monday = MONDAY + timedelta(days=7)
    _post_at(users["member"], next_monday - timedelta(days=5), "Wednesday's post")
    assert digest.send_due_digests(next_monday) == 1  # the daily has nothing new since yesterday
    [email] = _digests()
    assert email.to_email == weekly.email and "Wednesday's post" in email.body
    assert email.subject == "This week in the Co-Production Portal"


def test_monday_is_monday_in_the_uk(app: Any, users: dict[str, Any]) -> None:
    weekly = _subscriber("weekly")
    sunday_night_utc = datetime(2026, 6, 7, 23, 30, tzinfo=UTC)  # 00:30 on Monday 8 June in London (BST)
    _post_at(users["member"], sunday_night_utc - timedelta(days=1), "A summer post")
    assert digest.send_due_digests(datetime(2026, 6, 7, 22, 30, tzinfo=UTC)) == 0  # still Sunday in London
    assert digest.send_due_digests(sunday_night_utc) == 1
    assert [e.to_email for e in _digests()] == [weekly.email]


def test_due_for_you_is_personal(app: Any, users: dict[str, Any]) -> None:
    today = MONDAY.date()
    lead = _subscriber("weekly", name="Lena Lead")
    reviewer = _subscriber("weekly", name="Rui Reviewer")
    nobody = _subscriber("weekly", name="Nobody Due")
    member = factories.user(name="Mo Member")
    pilot = factories.project(title="Peer-led recovery cafés", lead=lead, members=(member,))
    other = factories.project(title="Someone else's pilot", lead=factories.user())
    for project_id, due_on, state in [
        (pilot.id, today + timedelta(days=3), ReportState.DUE),
        (pilot.id, today - timedelta(days=2), ReportState.CHANGES_REQUESTED),
        (pilot.id, today + timedelta(days=30), ReportState.DUE),  # too far off
        (pilot.id, today - timedelta(days=40), ReportState.ACCEPTED),  # done
        (other.id, today, ReportState.DUE),  # not their project
    ]:
        db.session.add(ProgressReport(project_id=project_id, due_on=due_on, state=state))
    phase = make_phase(state=PhaseState.ASSESSING, name="Phase 4")
    phase.reviews_close_on = today + timedelta(days=5)
    application = make_application(phase, factories.user(), state=ApplicationState.UNDER_REVIEW, title="Cafés")
    make_application(phase, reviewer, state=ApplicationState.UNDER_REVIEW, title="Rui's own")
    db.session.add(
        ReviewerAssignment(
            phase_id=phase.id, application_id=None, reviewer_id=reviewer.id, assigned_by_id=users["staff"].id
        )
    )
    activities = rate_card()
    claims.create_claim(
        reviewer, claims.ClaimDetails(activities["Meeting"].id, date(2026, 11, 20), Decimal("2")), today=london_today()
    )
    waiting = submitted(member, activities["Meeting"], project=pilot)
    db.session.commit()

    assert digest.send_due_digests(MONDAY) == 2  # nothing new for everyone, so only those with something due
    assert _digests(nobody.email) == []
    [mine] = _digests(lead.email)
    due = mine.body.split("Due for you")[1]
    assert f"The progress report for 'Peer-led recovery cafés' is due on {today + timedelta(days=3):%-d %B %Y}" in due
    assert f"is overdue since {today - timedelta(days=2):%-d %B %Y}" in due
    assert "Someone else's pilot" not in due and due.count("The progress report") == 2
    assert f"Confirm Mo Member's claim 'Meeting, {waiting.activity_date:%-d %b %Y}'" in due
    assert f"/claims/{waiting.id}" in due
    [theirs] = _digests(reviewer.email)
    assert f"Your review of 'Cafés' (Phase 4), by {today + timedelta(days=5):%-d %B %Y}" in theirs.body
    assert f"/applications/{application.id}/review" in theirs.body and "Rui's own" not in theirs.body
    assert "Your claim 'Meeting, 20 Nov 2026' is not sent yet" in theirs.body
    assert "progress report" not in theirs.body


def test_digest_queries_do_not_grow_with_subscribers(app: Any, users: dict[str, Any]) -> None:
    activities = rate_card()

    def add(count: int) -> None:
        for _ in range(count):
            person = _subscriber("daily")
            factories.project(lead=person)
            claims.create_claim(
                person,
                claims.ClaimDetails(activities["Meeting"].id, date(2026, 11, 20), Decimal("1")),
                today=london_today(),
            )
        db.session.commit()

    def queries() -> int:
        db.session.execute(sa.delete(OutboxMessage))
        with count_queries() as statements:
            digest.send_due_digests(TUESDAY)
        return len(statements)

    add(2)
    few = queries()
    add(8)
    assert queries() == few
    assert len(_digests()) == 10

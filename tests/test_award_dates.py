"""Dates that make sense: an award's start (today or later, or up to AWARD_BACKDATE_DAYS ago with
a reason), claims and spending within their project's dates, and decisions only while the phase
takes them."""

from __future__ import annotations

import html
import re
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import pytest
import sqlalchemy as sa

from portal.core.audit import AuditEntry
from portal.core.db import utcnow
from portal.core.errors import RuleBroken, RulesBroken
from portal.core.extensions import db
from portal.core.formatting import london_today
from portal.grants import decisions, projects
from portal.grants.models import Application, ApplicationState, BudgetCategory, Decision, Outcome, PhaseState
from portal.remuneration import claims, rates
from portal.remuneration.models import ActivityType, Claim, Unit
from portal.teams.models import Project
from tests import factories
from tests.factories import make_application, make_phase
from tests.helpers import count

NOW = factories.APPLICATION_SENT_AT  # 23 November 2026, noon
TODAY = factories.PHASE_TODAY


def page_of(response: Any) -> str:
    return html.unescape(response.get_data(as_text=True))


def error_for(page: str, field: str) -> str:
    match = re.search(rf'<p class="field-error" id="{field}-error">(.*?)</p>', page, re.S)
    return re.sub(r"<[^>]+>", "", match.group(1)).strip() if match else ""


@pytest.fixture
def application(app: Any) -> Application:
    phase = make_phase(state=PhaseState.ASSESSING)
    return make_application(phase, factories.user(), state=ApplicationState.UNDER_REVIEW)


def award(application: Application, staff: Any, start: date, reason: str = "") -> Decision:
    return decisions.record_decision(
        application,
        by=staff,
        outcome=Outcome.AWARD,
        rationale="Strong co-production.",
        now=NOW,
        amount_pence=1_000_00,
        start_date=start,
        backdate_reason=reason,
    )


def problems(error: pytest.ExceptionInfo[RuleBroken]) -> dict[str, str]:
    return {problem.field: problem.message for problem in getattr(error.value, "problems", [error.value])}


# --- an award's start date --------------------------------------------------------------------


def test_the_default_window_is_90_days(app: Any) -> None:
    assert app.config["AWARD_BACKDATE_DAYS"] == 90


@pytest.mark.parametrize("start", [TODAY, TODAY + timedelta(days=30)])
def test_an_award_starting_today_or_later_needs_no_reason(
    application: Application, users: dict[str, Any], start: date
) -> None:
    award(application, users["staff"], start)
    db.session.commit()
    assert db.session.scalars(sa.select(Project)).one().start_date == start
    entry = db.session.scalars(sa.select(AuditEntry).where(AuditEntry.action == "application.decided")).one()
    assert entry.after["start_date"] == start.isoformat() and "backdate_reason" not in entry.after


def test_a_start_in_the_past_needs_a_reason(application: Application, users: dict[str, Any]) -> None:
    with pytest.raises(RulesBroken) as refused:
        award(application, users["staff"], TODAY - timedelta(days=1))
    assert list(problems(refused)) == ["backdate_reason"]
    assert "The start date is in the past. Say why" in problems(refused)["backdate_reason"]
    db.session.rollback()
    assert count(Decision) == 0 and count(Project) == 0


def test_a_start_in_the_window_with_a_reason_is_recorded_with_it(
    application: Application, users: dict[str, Any]
) -> None:
    start = TODAY - timedelta(days=90)  # the earliest the window allows
    award(application, users["staff"], start, reason="  Recording the June panel's award.  ")
    db.session.commit()
    assert db.session.scalars(sa.select(Project)).one().start_date == start
    entry = db.session.scalars(sa.select(AuditEntry).where(AuditEntry.action == "application.decided")).one()
    assert entry.after["backdate_reason"] == "Recording the June panel's award."
    assert entry.after["start_date"] == start.isoformat()


def test_a_start_before_the_window_is_refused_even_with_a_reason(
    application: Application, users: dict[str, Any]
) -> None:
    with pytest.raises(RulesBroken) as refused:
        award(application, users["staff"], TODAY - timedelta(days=91), reason="History.")
    assert problems(refused) == {
        "start_date": "The start date cannot be before 25 August 2026. To record an award made earlier, "
        "a project can start at most 90 days ago."
    }


def test_a_reason_for_a_future_start_is_not_kept(application: Application, users: dict[str, Any]) -> None:
    award(application, users["staff"], TODAY + timedelta(days=1), reason="Not needed.")
    db.session.commit()
    entry = db.session.scalars(sa.select(AuditEntry).where(AuditEntry.action == "application.decided")).one()
    assert "backdate_reason" not in entry.after


def test_the_window_is_a_setting(app_factory: Any) -> None:
    with app_factory(AWARD_BACKDATE_DAYS=10).app_context():
        staff = factories.user(role="staff")
        application = make_application(
            make_phase(state=PhaseState.ASSESSING), factories.user(), state=ApplicationState.UNDER_REVIEW
        )
        with pytest.raises(RulesBroken) as refused:
            award(application, staff, TODAY - timedelta(days=11), reason="History.")
        assert "at most 10 days ago" in problems(refused)["start_date"]
        db.session.rollback()
        award(application, staff, TODAY - timedelta(days=10), reason="History.")
        db.session.commit()
        db.session.remove()


def test_the_decision_form_asks_for_the_reason_by_its_field(
    application: Application, users: dict[str, Any], as_role: Any
) -> None:
    staff = as_role("staff")
    url = f"/staff/applications/{application.id}/decision"
    form = page_of(staff.get(url))
    assert 'name="backdate_reason"' in form and "a project can start up to 90 days ago" in form
    data = {"outcome": "award", "rationale": "Good.", "amount": "1000", "start_date": ""}
    yesterday = (london_today() - timedelta(days=1)).isoformat()
    refused = staff.post(url, data={**data, "start_date": yesterday})
    assert refused.status_code == 422
    assert "The start date is in the past. Say why" in error_for(page_of(refused), "backdate_reason")
    too_early = (london_today() - timedelta(days=91)).isoformat()
    refused = staff.post(url, data={**data, "start_date": too_early, "backdate_reason": "History."})
    assert "The start date cannot be before" in error_for(page_of(refused), "start_date")
    assert count(Decision) == 0
    done = staff.post(url, data={**data, "start_date": yesterday, "backdate_reason": "Recording June's award."})
    assert done.status_code == 303
    assert db.session.scalars(sa.select(Project.start_date)).one() == london_today() - timedelta(days=1)


# --- decisions only while the phase takes them ------------------------------------------------


@pytest.mark.parametrize("state", [PhaseState.DRAFT, PhaseState.OPEN, PhaseState.CLOSED])
def test_decisions_are_not_offered_or_taken_while_the_phase_cannot_take_them(
    app: Any, users: dict[str, Any], as_role: Any, state: PhaseState
) -> None:
    phase = make_phase(state=state)
    application = make_application(phase, factories.user(), state=ApplicationState.SUBMITTED)
    assert not decisions.can_decide(phase)
    staff = as_role("staff")
    assert "Record the panel's decision" not in page_of(staff.get(f"/applications/{application.id}"))
    assert "Record the decision" not in page_of(staff.get(f"/staff/phases/{phase.id}/applications"))
    page = page_of(staff.get(f"/staff/applications/{application.id}/decision"))
    assert f"This phase is {state.label.lower()}. Decisions are recorded once the phase is with the panel" in page
    assert 'name="outcome"' not in page
    refused = staff.post(
        f"/staff/applications/{application.id}/decision",
        data={"outcome": "decline", "rationale": "Not this time."},
    )
    assert refused.status_code == 422
    assert "Move the phase to “panel assessing” first." in page_of(refused)
    assert count(Decision) == 0
    db.session.expire_all()
    assert db.session.get_one(Application, application.id).state == ApplicationState.SUBMITTED


@pytest.mark.parametrize("state", [PhaseState.ASSESSING, PhaseState.ACTIVE])
def test_decisions_are_offered_while_the_panel_is_deciding(
    app: Any, users: dict[str, Any], as_role: Any, state: PhaseState
) -> None:
    phase = make_phase(state=state)
    application = make_application(phase, factories.user(), state=ApplicationState.SUBMITTED)
    staff = as_role("staff")
    assert "Record the panel's decision" in page_of(staff.get(f"/applications/{application.id}"))
    assert "Record the decision" in page_of(staff.get(f"/staff/phases/{phase.id}/applications"))
    assert 'name="outcome"' in page_of(staff.get(f"/staff/applications/{application.id}/decision"))


# --- claims and spending within the project's dates --------------------------------------------


@pytest.fixture
def meeting(app: Any, users: dict[str, Any]) -> ActivityType:
    activity = rates.add_activity_type(name="Meeting", unit=Unit.HOUR, by=users["admin"])
    rates.set_rate(activity, amount_pence=2000, effective_from=date(2020, 1, 1), by=users["admin"])
    db.session.commit()
    return activity


@pytest.fixture
def running(app: Any, users: dict[str, Any]) -> Project:
    """The member's project, from 30 days ago to 30 days from now."""
    project = factories.project(title="Allotment pilot", lead=factories.user(), members=(users["member"],))
    project.start_date, project.end_date = london_today() - timedelta(days=30), london_today() + timedelta(days=30)
    db.session.commit()
    return project


def _details(meeting: ActivityType, on: date, project: Project | None) -> claims.ClaimDetails:
    return claims.ClaimDetails(meeting.id, on, Decimal(1), project.id if project else None)


def test_a_claim_on_a_project_must_fall_within_its_dates(
    meeting: ActivityType, running: Project, users: dict[str, Any]
) -> None:
    before = running.start_date - timedelta(days=1)
    with pytest.raises(RuleBroken) as refused:
        claims.create_claim(users["member"], _details(meeting, before, running), today=london_today())
    assert refused.value.field == "activity_date"
    assert refused.value.message == (
        f"Allotment pilot runs from {running.start_date:%-d %B %Y} to {running.end_date:%-d %B %Y}. "
        "Choose a date in that time, or claim for the programme instead."
    )
    db.session.rollback()
    claims.create_claim(users["member"], _details(meeting, running.start_date, running), today=london_today())
    claims.create_claim(users["member"], _details(meeting, before, None), today=london_today())  # the programme
    db.session.commit()
    assert count(Claim) == 2


def test_a_claim_form_outside_the_dates_gets_the_message_by_the_date(
    meeting: ActivityType, running: Project, as_role: Any
) -> None:
    response = as_role("member").post(
        "/claims/new",
        data={
            "activity_type_id": str(meeting.id),
            "activity_date": (running.start_date - timedelta(days=2)).isoformat(),
            "units": "1",
            "project_id": str(running.id),
        },
    )
    assert response.status_code == 422
    assert "Allotment pilot runs from" in error_for(page_of(response), "activity_date")
    assert count(Claim) == 0


def test_a_draft_left_outside_moved_dates_is_not_sent(
    meeting: ActivityType, running: Project, users: dict[str, Any]
) -> None:
    claim = claims.create_claim(
        users["member"], _details(meeting, london_today() - timedelta(days=3), running), today=london_today()
    )
    running.start_date = london_today() - timedelta(days=2)  # staff moved the start
    db.session.commit()
    with pytest.raises(RuleBroken, match="Allotment pilot runs from"):
        claims.submit_claim(claim, by=users["member"], now=utcnow())
    db.session.rollback()
    assert db.session.get_one(Claim, claim.id).submitted_at is None


def test_an_activity_outside_the_dates_is_drafted_for_the_programme(
    meeting: ActivityType, running: Project, users: dict[str, Any]
) -> None:
    inside = claims.draft_claim_for_activity(
        users["member"], activity_name="Meeting", activity_date=london_today(), units=Decimal(1), project=running
    )
    outside = claims.draft_claim_for_activity(
        users["member"],
        activity_name="Meeting",
        activity_date=running.start_date - timedelta(days=1),
        units=Decimal(1),
        project=running,
    )
    assert inside is not None and inside.project_id == running.id
    assert outside is not None and (outside.project_id, outside.cost_code) == (None, claims.PROGRAMME_COST_CODE)


def test_project_spending_must_fall_within_its_dates(running: Project, users: dict[str, Any]) -> None:
    lead = db.session.get_one(Project, running.id)
    team_lead = next(p for p in projects.team_members(lead.id) if p.id != users["member"].id)
    spend = {"category": BudgetCategory.LIVED_EXPERIENCE, "description": "Room hire", "amount_pence": 45_00}
    with pytest.raises(RuleBroken) as refused:
        projects.add_expense(
            running, spent_on=running.start_date - timedelta(days=1), by=team_lead, today=london_today(), **spend
        )
    assert refused.value.field == "spent_on"
    assert refused.value.message.endswith("Choose a date in that time.")
    assert refused.value.message.startswith("Allotment pilot runs from")
    db.session.rollback()
    projects.add_expense(running, spent_on=running.start_date, by=team_lead, today=london_today(), **spend)
    db.session.commit()

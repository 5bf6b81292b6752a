"""Pilot projects and progress reports: schedules, awards, budgets, report rules, and who sees what."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
import sqlalchemy as sa

from portal.core.audit import AuditEntry
from portal.core.errors import NotAllowed, RuleBroken
from portal.core.extensions import db
from portal.core.formatting import london_today
from portal.core.outbox import OutboxMessage
from portal.grants import projects, reports
from portal.grants.models import (
    Application,
    ApplicationMember,
    ApplicationState,
    BudgetCategory,
    Milestone,
    Phase,
    PhaseState,
    ProgressReport,
    ProjectExpense,
    ProjectStatus,
    ReportState,
)
from portal.remuneration import claims, rates
from portal.remuneration.models import ClaimState, Unit
from portal.teams.models import Project, ProjectState, ReportingSchedule, TeamMembership, TeamRole
from tests import factories
from tests.helpers import client_for, sign_in

TODAY = date(2026, 3, 10)
NOW = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)


# --- test data ------------------------------------------------------------------------------


def make_phase(**overrides: Any) -> Phase:
    values: dict[str, Any] = dict(
        name="Phase 2",
        summary="Seven-month pilots",
        max_award_pence=15_000_00,
        delivery_months=7,
        pot_pence=60_000_00,
        target_awards=4,
        opens_on=date(2025, 10, 1),
        closes_on=date(2025, 11, 30),
        state=PhaseState.ACTIVE,
    )
    values.update(overrides)
    phase = Phase(**values)
    db.session.add(phase)
    db.session.commit()
    return phase


def awarded_application(
    phase: Phase,
    lead: Any,
    members: tuple[Any, ...] = (),
    title: str = "Hearing Birdsong",
) -> Application:
    application = Application(
        phase_id=phase.id, lead_id=lead.id, title=title, summary="Birdsong walks", state=ApplicationState.AWARDED
    )
    db.session.add(application)
    db.session.flush()
    db.session.add(ApplicationMember(application_id=application.id, user_id=lead.id, role=TeamRole.LEAD))
    for member in members:
        db.session.add(ApplicationMember(application_id=application.id, user_id=member.id, role=TeamRole.MEMBER))
    db.session.commit()
    return application


def funded_project(
    staff: Any,
    lead: Any,
    members: tuple[Any, ...] = (),
    *,
    start: date = date(2026, 1, 31),
    award: int = 12_000_00,
    title: str = "Hearing Birdsong",
    phase: Phase | None = None,
) -> Project:
    application = awarded_application(phase or make_phase(), lead, members, title=title)
    project = projects.create_project_from_award(application, amount_pence=award, start_date=start, by=staff)
    db.session.commit()
    return project


def due_reports(project: Project) -> list[ProgressReport]:
    return list(
        db.session.scalars(
            sa.select(ProgressReport).where(ProgressReport.project_id == project.id).order_by(ProgressReport.due_on)
        )
    )


FULL = reports.ReportContent(
    period_start=date(2026, 2, 1),
    period_end=date(2026, 2, 28),
    what_happened="Two co-design workshops.",
    what_changed="Members chose the venue.",
    what_we_learned="Pay people on the day.",
    challenges="Travel costs.",
    stages=["co_design", "co_delivery"],
    values=["respect", "accessibility"],
    status=ProjectStatus.ON_TRACK,
)


@pytest.fixture
def team(users: dict[str, Any]) -> dict[str, Any]:
    lead, member = factories.user(name="Lead Person"), factories.user(name="Team Member")
    project = funded_project(users["staff"], lead, (member,))
    return {"lead": lead, "member": member, "project": project}


# --- schedule dates -------------------------------------------------------------------------


def test_monthly_schedule_clamps_to_month_ends_and_ends_with_the_final_report() -> None:
    start = date(2026, 1, 31)
    end = projects.add_months(start, 7)
    assert end == date(2026, 8, 31)
    assert projects.report_due_dates(ReportingSchedule.MONTHLY, start, end) == [
        date(2026, 2, 28),
        date(2026, 3, 31),
        date(2026, 4, 30),
        date(2026, 5, 31),
        date(2026, 6, 30),
        date(2026, 7, 31),
        date(2026, 8, 31),
    ]
    assert projects.add_months(date(2024, 1, 31), 1) == date(2024, 2, 29)  # leap year
    assert projects.add_months(date(2025, 11, 30), 3) == date(2026, 2, 28)  # across a year


def test_midpoint_and_final_schedule() -> None:
    start, end = date(2026, 1, 31), date(2026, 8, 31)
    assert projects.report_due_dates(ReportingSchedule.MIDPOINT_FINAL, start, end) == [date(2026, 5, 17), end]
    assert projects.report_due_dates(ReportingSchedule.MIDPOINT_FINAL, date(2026, 1, 1), date(2026, 5, 1)) == [
        date(2026, 3, 2),
        date(2026, 5, 1),
    ]


def test_custom_dates_are_validated_sorted_and_end_with_the_final_report() -> None:
    start, end = date(2026, 1, 31), date(2026, 8, 31)
    chosen = [date(2026, 6, 1), date(2026, 3, 15), date(2026, 6, 1)]
    assert projects.report_due_dates(ReportingSchedule.CUSTOM, start, end, chosen) == [
        date(2026, 3, 15),
        date(2026, 6, 1),
        end,
    ]
    assert projects.report_due_dates(ReportingSchedule.CUSTOM, start, end, [end]) == [end]
    for bad in ([], None, [start], [date(2026, 9, 1)], [date(2025, 12, 1), date(2026, 4, 1)]):
        with pytest.raises(RuleBroken) as error:
            projects.report_due_dates(ReportingSchedule.CUSTOM, start, end, bad)
        assert error.value.field == "custom_dates"
    with pytest.raises(RuleBroken) as error:
        projects.report_due_dates(ReportingSchedule.MONTHLY, end, start)
    assert error.value.field == "end_date"


# --- projects from awards -------------------------------------------------------------------


def test_an_award_creates_the_project_with_its_team_dates_and_schedule(users: dict[str, Any]) -> None:
    lead, member = factories.user(), factories.user()
    project = funded_project(users["staff"], lead, (member,), start=date(2026, 1, 31), award=12_000_00)
    assert (project.start_date, project.end_date) == (date(2026, 1, 31), date(2026, 8, 31))
    assert project.award_pence == 12_000_00 and project.state == ProjectState.ACTIVE
    assert project.reporting_schedule == ReportingSchedule.MIDPOINT_FINAL
    roles = dict(
        db.session.execute(
            sa.select(TeamMembership.user_id, TeamMembership.role).where(TeamMembership.project_id == project.id)
        ).all()
    )
    assert roles == {lead.id: TeamRole.LEAD, member.id: TeamRole.MEMBER}
    made = due_reports(project)
    assert [(r.due_on, r.is_final, r.state) for r in made] == [
        (date(2026, 5, 17), False, ReportState.DUE),
        (date(2026, 8, 31), True, ReportState.DUE),
    ]
    assert (made[0].period_start, made[0].period_end) == (date(2026, 1, 31), date(2026, 5, 17))
    assert (made[1].period_start, made[1].period_end) == (date(2026, 5, 18), date(2026, 8, 31))
    actions = set(db.session.scalars(sa.select(AuditEntry.action).where(AuditEntry.object_type == "Project")))
    assert {"project.created", "project.schedule_set"} <= actions


def test_staff_set_a_schedule_keeping_written_reports_and_the_team_is_told(
    users: dict[str, Any], team: dict[str, Any]
) -> None:
    project, lead = team["project"], team["lead"]
    first = due_reports(project)[0]
    reports.save_draft(first, reports.ReportContent(what_happened="Started"), by=lead)
    db.session.commit()
    with pytest.raises(NotAllowed):
        projects.set_schedule(project, ReportingSchedule.MONTHLY, by=lead)
    projects.set_schedule(project, ReportingSchedule.MONTHLY, by=users["staff"])
    db.session.commit()
    made = due_reports(project)
    assert [r.due_on for r in made] == [
        date(2026, 2, 28),
        date(2026, 3, 31),
        date(2026, 4, 30),
        date(2026, 5, 17),
        date(2026, 5, 31),
        date(2026, 6, 30),
        date(2026, 7, 31),
        date(2026, 8, 31),
    ]
    assert [r.is_final for r in made].count(True) == 1 and made[-1].is_final
    assert db.session.get(ProgressReport, first.id).what_happened == "Started"  # kept
    told = set(db.session.scalars(sa.select(OutboxMessage.to_email).where(OutboxMessage.kind == "project_schedule")))
    assert told == {lead.email, team["member"].email}


def test_changing_dates_works_the_schedule_out_again(users: dict[str, Any], team: dict[str, Any]) -> None:
    project, staff = team["project"], users["staff"]
    projects.set_schedule(project, ReportingSchedule.CUSTOM, by=staff, custom=[date(2026, 3, 1), date(2026, 7, 1)])
    db.session.commit()
    with pytest.raises(RuleBroken) as error:
        projects.change_dates(project, start_date=date(2026, 2, 1), end_date=date(2026, 2, 1), by=staff)
    assert error.value.field == "end_date"
    with pytest.raises(NotAllowed):
        projects.change_dates(project, start_date=date(2026, 2, 1), end_date=date(2026, 6, 30), by=team["lead"])
    projects.change_dates(project, start_date=date(2026, 2, 1), end_date=date(2026, 6, 30), by=staff)
    db.session.commit()
    assert (project.start_date, project.end_date) == (date(2026, 2, 1), date(2026, 6, 30))
    # the custom date that no longer fits (1 July) is dropped; the final report moves to the new end
    assert [(r.due_on, r.is_final) for r in due_reports(project)] == [
        (date(2026, 3, 1), False),
        (date(2026, 6, 30), True),
    ]
    entry = db.session.scalar(sa.select(AuditEntry).where(AuditEntry.action == "project.dates_changed"))
    assert entry.before == {"start_date": "2026-01-31", "end_date": "2026-08-31"}


def test_a_written_final_report_stops_being_final_when_the_end_date_moves(
    users: dict[str, Any], team: dict[str, Any]
) -> None:
    project = team["project"]
    final = due_reports(project)[-1]
    reports.save_draft(final, reports.ReportContent(what_happened="Nearly done"), by=team["lead"])
    projects.change_dates(project, start_date=project.start_date, end_date=date(2026, 9, 30), by=users["staff"])
    db.session.commit()
    finals = [r for r in due_reports(project) if r.is_final]
    assert [r.due_on for r in finals] == [date(2026, 9, 30)]
    assert not db.session.get(ProgressReport, final.id).is_final


# --- milestones, expenses and the budget panel ----------------------------------------------


def test_team_adds_and_marks_milestones(users: dict[str, Any], team: dict[str, Any]) -> None:
    project, member = team["project"], team["member"]
    with pytest.raises(RuleBroken) as error:
        projects.add_milestone(project, title="  ", due_on=date(2026, 3, 1), by=member)
    assert error.value.field == "title"
    with pytest.raises(RuleBroken) as error:
        projects.add_milestone(project, title="Too late", due_on=date(2027, 1, 1), by=member)
    assert error.value.field == "due_on"
    with pytest.raises(NotAllowed):
        projects.add_milestone(project, title="Staff are not the team", due_on=date(2026, 3, 1), by=users["staff"])
    milestone = projects.add_milestone(project, title="First workshop", due_on=date(2026, 3, 1), by=member)
    projects.mark_milestone(project, milestone, done=True, by=member, today=TODAY)
    assert milestone.done_on == TODAY
    projects.mark_milestone(project, milestone, done=False, by=member, today=TODAY)
    assert milestone.done_on is None
    other = funded_project(users["staff"], factories.user(), title="Another pilot")
    with pytest.raises(NotAllowed):
        projects.mark_milestone(other, milestone, done=True, by=member, today=TODAY)


def test_expense_rules(team: dict[str, Any]) -> None:
    project, lead = team["project"], team["lead"]

    def add(**changes: Any) -> ProjectExpense:
        values: dict[str, Any] = dict(
            spent_on=date(2026, 2, 3), category=BudgetCategory.VENUE, description="Room hire", amount_pence=4550
        )
        values.update(changes)
        return projects.add_expense(project, by=lead, today=TODAY, **values)

    for changes, field in (
        ({"spent_on": None}, "spent_on"),
        ({"spent_on": TODAY + timedelta(days=1)}, "spent_on"),
        ({"category": None}, "category"),
        ({"description": " "}, "description"),
        ({"amount_pence": 0}, "amount"),
        ({"amount_pence": None}, "amount"),
    ):
        with pytest.raises(RuleBroken) as error:
            add(**changes)
        assert error.value.field == field
    expense = add()
    assert expense.amount_pence == 4550
    projects.remove_expense(project, expense, by=lead)
    db.session.commit()
    assert db.session.scalar(sa.select(sa.func.count()).select_from(ProjectExpense)) == 0
    actions = list(db.session.scalars(sa.select(AuditEntry.action).where(AuditEntry.object_type == "ProjectExpense")))
    assert actions == ["project_expense.added", "project_expense.removed"]


def charged_claim(project: Project, claimant: Any, lead: Any, staff: Any, admin: Any) -> int:
    """An approved claim for 3 hours at £20 charged to the project; returns its fee."""
    activity = rates.add_activity_type(name="Meeting", unit=Unit.HOUR, by=admin)
    rates.set_rate(activity, amount_pence=2000, effective_from=date(2025, 1, 1), by=admin)
    db.session.commit()
    claim = claims.create_claim(
        claimant, claims.ClaimDetails(activity.id, date(2026, 2, 10), Decimal("3"), project.id), today=TODAY
    )
    assert claims.submit_claim(claim, by=claimant, now=NOW) == []
    claims.confirm_claim(claim, by=lead, now=NOW)
    claims.approve_claim(claim, by=staff, now=NOW)
    db.session.commit()
    assert claim.state == ClaimState.APPROVED
    return claim.fee_pence


def test_budget_panel_counts_expenses_and_remuneration(
    users: dict[str, Any], team: dict[str, Any], as_role: Any
) -> None:
    project, lead = team["project"], team["lead"]
    for amount in (1_000_00, 234_50):
        projects.add_expense(
            project,
            spent_on=date(2026, 2, 3),
            category=BudgetCategory.MATERIALS,
            description="Sound recorders",
            amount_pence=amount,
            by=lead,
            today=TODAY,
        )
    db.session.commit()
    fee = charged_claim(project, team["member"], lead, users["staff"], users["admin"])
    assert fee == 6000
    budget = projects.budget(project)
    assert (budget.award_pence, budget.expenses_pence, budget.remuneration_pence) == (12_000_00, 1_234_50, 60_00)
    assert budget.spent_pence == 1_294_50 and budget.remaining_pence == 10_705_50
    assert budget.percent_used == 10  # 129450 * 100 // 1200000 = 10 (10.79 rounded down, no floats)
    assert projects.percent_used(1, 3) == 33 and projects.percent_used(5, None) is None
    page = as_role("staff").get(f"/projects/{project.id}").get_data(as_text=True)
    for shown in ("£12,000.00", "£1,234.50", "£60.00", "£1,294.50", "£10,705.50", "10% of the award"):
        assert shown in page


# --- progress reports -----------------------------------------------------------------------


def test_days_late_counts_whole_days_for_reports_not_yet_sent(team: dict[str, Any]) -> None:
    report = due_reports(team["project"])[0]  # due 17 May 2026
    assert reports.days_late(report, date(2026, 5, 17)) == 0
    assert reports.days_late(report, date(2026, 5, 16)) == 0
    assert reports.days_late(report, date(2026, 5, 18)) == 1
    assert reports.days_late(report, date(2026, 6, 17)) == 31
    for state, late in (
        (ReportState.DRAFT, 31),
        (ReportState.CHANGES_REQUESTED, 31),
        (ReportState.SUBMITTED, 0),
        (ReportState.ACCEPTED, 0),
    ):
        report.state = state
        assert reports.days_late(report, date(2026, 6, 17)) == late
        assert reports.is_overdue(report, date(2026, 6, 17)) == bool(late)


def test_a_draft_may_be_empty_but_sending_needs_every_field(team: dict[str, Any]) -> None:
    report, lead = due_reports(team["project"])[0], team["lead"]
    reports.save_draft(report, reports.ReportContent(what_happened="So far"), by=lead)
    db.session.commit()
    assert report.state == ReportState.DRAFT and report.what_happened == "So far"
    with pytest.raises(reports.ReportIncomplete) as error:
        reports.submit_report(report, reports.ReportContent(what_happened="Changed text"), by=lead, now=NOW)
    assert set(error.value.errors) == {
        "period_start",
        "period_end",
        "what_changed",
        "what_we_learned",
        "challenges",
        "status",
    }
    db.session.rollback()
    db.session.refresh(report)
    assert report.state == ReportState.DRAFT and report.what_happened == "So far"  # nothing changed
    with pytest.raises(RuleBroken) as wrong:
        reports.save_draft(report, reports.ReportContent(stages=["co_lunch"]), by=lead)
    assert wrong.value.field == "stages"
    with pytest.raises(NotAllowed):
        reports.submit_report(report, FULL, by=factories.user(), now=NOW)
    reports.submit_report(report, FULL, by=team["member"], now=NOW)
    db.session.commit()
    assert report.state == ReportState.SUBMITTED and report.submitted_at == NOW
    assert report.values == ["accessibility", "respect"]  # stored in the vocabulary's order
    with pytest.raises(RuleBroken):
        reports.save_draft(report, FULL, by=lead)  # sent reports are no longer edited
    assert (
        db.session.scalar(sa.select(AuditEntry.action).where(AuditEntry.object_type == "ProgressReport"))
        == "report.submitted"
    )


def test_staff_accept_or_ask_for_changes(users: dict[str, Any], team: dict[str, Any]) -> None:
    staff, lead = users["staff"], team["lead"]
    report = due_reports(team["project"])[0]
    with pytest.raises(RuleBroken):
        reports.accept_report(report, by=staff, now=NOW)  # not sent yet
    reports.submit_report(report, FULL, by=lead, now=NOW)
    with pytest.raises(NotAllowed):
        reports.accept_report(report, by=lead, now=NOW)
    with pytest.raises(RuleBroken) as error:
        reports.request_changes(report, by=staff, now=NOW, feedback="  ")
    assert error.value.field == "feedback" and report.state == ReportState.SUBMITTED
    reports.request_changes(report, by=staff, now=NOW, feedback="Say more about what changed.")
    db.session.commit()
    assert report.state == ReportState.CHANGES_REQUESTED and report.decided_by_id == staff.id
    asked = db.session.scalars(sa.select(OutboxMessage).where(OutboxMessage.kind == "report_changes")).all()
    assert {m.to_email for m in asked} == {lead.email, team["member"].email}
    assert "Say more about what changed." in asked[0].body
    reports.save_draft(report, FULL, by=lead)
    assert report.state == ReportState.CHANGES_REQUESTED  # the feedback stays in view until sent again
    reports.submit_report(report, FULL, by=lead, now=NOW)
    reports.accept_report(report, by=staff, now=NOW, feedback="Thank you")
    db.session.commit()
    assert report.state == ReportState.ACCEPTED and team["project"].state == ProjectState.ACTIVE  # not final
    with pytest.raises(RuleBroken):
        reports.request_changes(report, by=staff, now=NOW, feedback="Too late")
    actions = list(
        db.session.scalars(
            sa.select(AuditEntry.action).where(AuditEntry.object_type == "ProgressReport").order_by(AuditEntry.id)
        )
    )
    assert actions == ["report.submitted", "report.changes_requested", "report.submitted", "report.accepted"]


def test_accepting_the_final_report_closes_the_project_and_learning_can_be_published(
    users: dict[str, Any], team: dict[str, Any], client: Any
) -> None:
    project, lead, staff = team["project"], team["lead"], users["staff"]
    first, final = due_reports(project)
    reports.submit_report(final, FULL, by=lead, now=NOW)
    with pytest.raises(RuleBroken):
        reports.set_learning_published(final, published=True, by=lead)  # not accepted yet
    reports.accept_report(final, by=staff, now=NOW)
    db.session.commit()
    assert project.state == ProjectState.CLOSED
    assert (
        db.session.scalar(sa.select(AuditEntry.note).where(AuditEntry.action == "project.closed"))
        == f"final report {final.id} accepted"
    )
    with pytest.raises(NotAllowed):
        reports.save_draft(first, FULL, by=lead)  # a closed project takes no more reports
    with pytest.raises(NotAllowed):
        reports.set_learning_published(final, published=True, by=factories.user())
    reports.set_learning_published(final, published=True, by=team["member"])
    db.session.commit()
    page = client.get(f"/pilots/{project.id}").get_data(as_text=True)
    assert "Pay people on the day." in page and "Travel costs." not in page  # challenges stay private
    reports.set_learning_published(final, published=False, by=lead)
    db.session.commit()
    assert "Pay people on the day." not in client.get(f"/pilots/{project.id}").get_data(as_text=True)


# --- pages and who may see them -------------------------------------------------------------


@pytest.fixture
def two_teams(users: dict[str, Any], team: dict[str, Any]) -> dict[str, Any]:
    other_lead = factories.user(name="Other Lead")
    other = funded_project(users["staff"], other_lead, title="Voices in Maternity Care")
    return {**team, "other": other, "other_lead": other_lead}


def test_a_team_sees_only_its_own_projects_and_reports(app: Any, two_teams: dict[str, Any]) -> None:
    project, other = two_teams["project"], two_teams["other"]
    mine, theirs = due_reports(project)[0], due_reports(other)[0]
    client = client_for(app, two_teams["member"])
    listing = client.get("/projects").get_data(as_text=True)
    assert "Hearing Birdsong" in listing and "Voices in Maternity Care" not in listing
    assert client.get(f"/projects/{project.id}").status_code == 200
    assert client.get(f"/projects/{project.id}/reports/{mine.id}").status_code == 200
    assert client.get(f"/projects/{project.id}/reports/{mine.id}/edit").status_code == 200
    for url in (
        f"/projects/{other.id}",
        f"/projects/{other.id}/reports/{theirs.id}",
        f"/projects/{other.id}/reports/{theirs.id}/edit",
    ):
        assert client.get(url).status_code == 403, url
    for url in (
        f"/projects/{other.id}/milestones",
        f"/projects/{other.id}/expenses",
        f"/projects/{other.id}/reports/{theirs.id}/edit",
        f"/projects/{other.id}/reports/{theirs.id}/publish",
    ):
        assert client.post(url, data={"title": "x", "publish": "1"}).status_code == 403, url
    # another project's report through our own project's address is simply not found
    assert client.get(f"/projects/{project.id}/reports/{theirs.id}").status_code == 404
    assert client.get("/projects/99999").status_code == 404
    assert client.get(f"/projects/{project.id}/reports/99999").status_code == 404
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Milestone)) == 0


def test_members_cannot_reach_staff_pages_or_staff_actions(app: Any, as_role: Any, two_teams: dict[str, Any]) -> None:
    project = two_teams["project"]
    report = due_reports(project)[0]
    lead = client_for(app, two_teams["lead"])
    for client in (lead, as_role("member")):
        for url in (
            "/staff/grants",
            "/staff/reports",
            "/staff/exports/applications.csv",
            "/staff/exports/projects.csv",
        ):
            assert client.get(url).status_code == 403, url
    assert (
        lead.post(
            f"/projects/{project.id}/dates", data={"start_date": "2026-02-01", "end_date": "2026-03-01"}
        ).status_code
        == 403
    )
    assert lead.post(f"/projects/{project.id}/schedule", data={"kind": "monthly"}).status_code == 403
    assert (
        lead.post(f"/projects/{project.id}/reports/{report.id}/decision", data={"decision": "accept"}).status_code
        == 403
    )
    anonymous = app.test_client()
    for url in ("/projects", f"/projects/{project.id}", "/staff/grants"):
        response = anonymous.get(url)
        assert response.status_code in (302, 303) and "/account/sign-in" in response.headers["Location"]
    assert as_role("member").get(f"/projects/{project.id}").status_code == 403  # not on the team
    staff = as_role("staff")
    assert staff.get(f"/projects/{project.id}").status_code == 200
    assert staff.get(f"/projects/{project.id}/reports/{report.id}/edit").status_code == 403  # staff don't write


def test_the_team_runs_its_project_through_the_forms(app: Any, team: dict[str, Any]) -> None:
    project, client = team["project"], client_for(app, team["lead"])
    url = f"/projects/{project.id}"
    bad = client.post(f"{url}/milestones", data={"title": "", "due_on": "2026-02-30"})
    assert bad.status_code == 422
    page = bad.get_data(as_text=True)
    assert "There is a problem" in page and "Enter what the milestone is" in page and "Enter a real date" in page
    assert client.post(f"{url}/milestones", data={"title": "Walk one", "due_on": "2026-03-01"}).status_code == 303
    milestone = db.session.scalar(sa.select(Milestone))
    done = client.post(f"{url}/milestones/{milestone.id}/done", data={"done": "1"}, headers={"HX-Request": "true"})
    fragment = done.get_data(as_text=True)
    # What goes inside the section, not a page: the section stays, and so does focus on the button.
    assert done.status_code == 200 and "<html" not in fragment and "<section" not in fragment
    assert 'id="milestones-title"' in fragment and f'id="milestone-{milestone.id}-toggle"' in fragment
    assert "Mark as not done" in fragment and "1 of 1 done" in fragment
    db.session.refresh(milestone)
    assert milestone.done_on == london_today()

    bad = client.post(
        f"{url}/expenses",
        data={"spent_on": "2026-02-03", "category": "venue", "description": "Hall", "amount": "12.345"},
    )
    assert bad.status_code == 422 and "like 45.50" in bad.get_data(as_text=True)
    assert (
        client.post(
            f"{url}/expenses",
            data={"spent_on": "2026-02-03", "category": "venue", "description": "Hall", "amount": "£1,012.50"},
        ).status_code
        == 303
    )
    expense = db.session.scalar(sa.select(ProjectExpense))
    assert expense.amount_pence == 1_012_50
    assert client.post(f"{url}/expenses/{expense.id}/remove").status_code == 303
    assert db.session.scalar(sa.select(ProjectExpense)) is None


def test_writing_and_sending_a_report_through_the_form(
    app: Any, users: dict[str, Any], as_role: Any, team: dict[str, Any]
) -> None:
    project = team["project"]
    report = due_reports(project)[0]
    client = client_for(app, team["member"])
    url = f"/projects/{project.id}/reports/{report.id}/edit"
    form = client.get(url).get_data(as_text=True)
    assert "Co-design: shaping what the work is" in form and "Mutual respect and trust" in form
    assert 'type="checkbox"' in form and "deciding what the work is" in form
    missing = client.post(url, data={"action": "submit", "what_happened": "A walk", "stages": ["co_design"]})
    assert missing.status_code == 422
    page = missing.get_data(as_text=True)
    assert "Say what you learned." in page and "Choose how the project is going" in page
    db.session.refresh(report)
    # A refused send keeps what was typed as the draft (issue 11), and on the page.
    assert report.state == ReportState.DRAFT and report.what_happened == "A walk"
    assert report.stages == ["co_design"]
    assert 'value="co_design" checked' in page
    assert client.post(url, data={"action": "save", "what_happened": "A walk"}).status_code == 303
    db.session.refresh(report)
    assert report.state == ReportState.DRAFT
    full = {
        "action": "submit",
        "period_start": "2026-01-31",
        "period_end": "2026-05-17",
        "what_happened": "A walk",
        "what_changed": "More voices",
        "what_we_learned": "Go slowly",
        "challenges": "Rain",
        "stages": ["co_design", "co_evaluation"],
        "values": ["respect"],
        "status": "at_risk",
    }
    assert client.post(url, data=full).status_code == 303
    db.session.refresh(report)
    assert report.state == ReportState.SUBMITTED and report.status == ProjectStatus.AT_RISK
    assert report.stages == ["co_design", "co_evaluation"]

    staff = as_role("staff")
    decide = f"/projects/{project.id}/reports/{report.id}/decision"
    refused = staff.post(decide, data={"decision": "changes", "feedback": ""})
    assert refused.status_code == 422 and "Say what needs to change" in refused.get_data(as_text=True)
    assert staff.post(decide, data={"decision": "accept"}).status_code == 303
    db.session.refresh(report)
    assert report.state == ReportState.ACCEPTED


def test_staff_set_the_schedule_with_custom_dates_blank_inputs_ignored(as_role: Any, team: dict[str, Any]) -> None:
    project, staff = team["project"], as_role("staff")
    url = f"/projects/{project.id}/schedule"
    data = {
        "kind": "custom",
        "custom_dates-0": "",
        "custom_dates-1": "2026-04-01",
        "custom_dates-2": "",
        "custom_dates-3": "2026-03-01",
    }
    assert staff.post(url, data=data).status_code == 303
    assert [r.due_on for r in due_reports(project)] == [date(2026, 3, 1), date(2026, 4, 1), date(2026, 8, 31)]
    outside = staff.post(url, data={"kind": "custom", "custom_dates-0": "2027-01-01"})
    assert outside.status_code == 422 and "no later than the end date" in outside.get_data(as_text=True)
    none = staff.post(url, data={"kind": "custom"})
    assert none.status_code == 422 and "Enter at least one date" in none.get_data(as_text=True)
    assert len(due_reports(project)) == 3  # unchanged
    dates = staff.post(f"/projects/{project.id}/dates", data={"start_date": "2026-02-01", "end_date": "2026-01-01"})
    assert dates.status_code == 422 and "must be after the start date" in dates.get_data(as_text=True)


def test_project_forms_carry_the_csrf_token(app_factory: Any) -> None:
    app = app_factory(WTF_CSRF_ENABLED=True)
    with app.app_context():
        staff = factories.user(role="staff")
        lead = factories.user()
        project = funded_project(staff, lead)
        client = app.test_client()
        token = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"')
        sign_in_page = client.get("/account/sign-in").get_data(as_text=True)
        sign_in(client, lead.email, csrf_token=token.search(sign_in_page).group(1))
        page = client.get(f"/projects/{project.id}").get_data(as_text=True)
        assert len(token.findall(page)) >= 2  # the spending and milestone forms
        refused = client.post(f"/projects/{project.id}/milestones", data={"title": "Walk", "due_on": "2026-03-01"})
        assert refused.status_code == 400
        added = client.post(
            f"/projects/{project.id}/milestones",
            data={"title": "Walk", "due_on": "2026-03-01", "csrf_token": token.search(page).group(1)},
        )
        assert added.status_code == 303
        assert db.session.scalar(sa.select(Milestone.title)) == "Walk"

"""Grants dashboards, public pilot pages and CSV exports: their figures, and no N+1 queries."""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
import sqlalchemy as sa
from flask_login import login_user

from portal.core.extensions import db
from portal.core.formatting import london_today
from portal.grants import dashboards, exports
from portal.grants.models import (
    Application,
    ApplicationState,
    BudgetCategory,
    BudgetLine,
    Criterion,
    Decision,
    Milestone,
    Outcome,
    Phase,
    PhaseState,
    ProgressReport,
    ProjectExpense,
    ProjectStatus,
    Recommendation,
    ReportState,
    Review,
    ReviewState,
    Score,
)
from portal.teams.models import Project, ProjectState, TeamMembership, TeamRole
from tests import factories
from tests.helpers import count_queries, queries_for, sign_in

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


# --- test data ------------------------------------------------------------------------------


def make_phase(name: str = "Phase 2", **overrides: Any) -> Phase:
    values: dict[str, Any] = dict(
        name=name,
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


def make_project(
    *,
    lead: Any,
    phase: Phase | None,
    title: str = "A pilot",
    award: int | None = 10_000_00,
    state: ProjectState = ProjectState.ACTIVE,
    summary: str = "A short summary",
) -> Project:
    """A project straight into the tables, as quickly as a 50-row test needs."""
    project = Project(
        title=title,
        summary=summary,
        award_pence=award,
        phase_id=phase.id if phase else None,
        start_date=date(2026, 1, 1),
        end_date=date(2026, 8, 1),
        state=state,
    )
    db.session.add(project)
    db.session.flush()
    db.session.add(TeamMembership(project_id=project.id, user_id=lead.id, role=TeamRole.LEAD))
    db.session.commit()
    return project


def add_report(
    project: Project,
    due_on: date,
    state: ReportState = ReportState.DUE,
    status: ProjectStatus | None = None,
    submitted_at: datetime | None = None,
    **extra: Any,
) -> ProgressReport:
    extra = {"stages": [], "values": [], **extra}
    report = ProgressReport(
        project_id=project.id,
        due_on=due_on,
        state=state,
        status=status,
        submitted_at=submitted_at or (NOW if state in (ReportState.SUBMITTED, ReportState.ACCEPTED) else None),
        **extra,
    )
    db.session.add(report)
    db.session.commit()
    return report


def busy_project(lead: Any, phase: Phase | None, number: int, today: date) -> Project:
    """A project with spending, milestones and reports in every state, so every figure has rows."""
    project = make_project(lead=lead, phase=phase, title=f"Pilot {number:03d}")
    db.session.add_all(
        [
            ProjectExpense(
                project_id=project.id,
                spent_on=date(2026, 1, 5),
                category=BudgetCategory.VENUE,
                description="Room",
                amount_pence=100_00,
                recorded_by_id=lead.id,
            ),
            Milestone(project_id=project.id, title="One", due_on=date(2026, 2, 1), done_on=date(2026, 2, 1)),
            Milestone(project_id=project.id, title="Two", due_on=date(2026, 3, 1)),
        ]
    )
    db.session.commit()
    add_report(project, today - timedelta(days=3))
    add_report(project, today + timedelta(days=3))
    add_report(project, date(2026, 2, 1), ReportState.SUBMITTED, ProjectStatus.AT_RISK)
    return project


def make_application(
    phase: Phase,
    lead: Any,
    *,
    title: str = "An application",
    state: ApplicationState = ApplicationState.SUBMITTED,
    lines: tuple[int, ...] = (1_000_00,),
) -> Application:
    application = Application(phase_id=phase.id, lead_id=lead.id, title=title, state=state)
    db.session.add(application)
    db.session.flush()
    for amount in lines:
        db.session.add(
            BudgetLine(
                application_id=application.id, category=BudgetCategory.VENUE, description="Venue", amount_pence=amount
            )
        )
    db.session.commit()
    return application


def review(
    application: Application,
    reviewer: Any,
    scores: dict[Criterion, int],
    recommendation: Recommendation,
    state: ReviewState = ReviewState.SUBMITTED,
) -> Review:
    made = Review(
        application_id=application.id,
        reviewer_id=reviewer.id,
        state=state,
        recommendation=recommendation,
        submitted_at=NOW if state == ReviewState.SUBMITTED else None,
    )
    db.session.add(made)
    db.session.flush()
    for criterion, score in scores.items():
        db.session.add(Score(review_id=made.id, criterion_id=criterion.id, score=score))
    db.session.commit()
    return made


def rows_of(response: Any) -> list[list[str]]:
    return list(csv.reader(io.StringIO(response.get_data(as_text=True))))


# --- staff dashboard ------------------------------------------------------------------------


def test_staff_dashboard_figures(users: dict[str, Any], as_role: Any) -> None:
    today = london_today()
    lead = factories.user()
    phase = make_phase("Phase 2", pot_pence=60_000_00)
    make_phase("Phase 1", pot_pence=25_000_00, opens_on=date(2018, 1, 1), closes_on=date(2018, 2, 1))
    risky = make_project(lead=lead, phase=phase, title="Authentistic", award=15_000_00)
    calm = make_project(lead=lead, phase=phase, title="Hearing Birdsong", award=5_000_00)
    db.session.add(
        ProjectExpense(
            project_id=calm.id,
            spent_on=date(2026, 1, 5),
            category=BudgetCategory.VENUE,
            description="Room",
            amount_pence=250_00,
            recorded_by_id=lead.id,
        )
    )
    db.session.commit()
    # Authentistic's latest sent report says at risk; an older one said on track.
    add_report(
        risky,
        date(2026, 1, 1),
        ReportState.ACCEPTED,
        ProjectStatus.ON_TRACK,
        submitted_at=datetime(2026, 1, 2, tzinfo=UTC),
    )
    add_report(
        risky,
        date(2026, 2, 1),
        ReportState.SUBMITTED,
        ProjectStatus.AT_RISK,
        submitted_at=datetime(2026, 2, 2, tzinfo=UTC),
    )
    # Hearing Birdsong's latest says on track; an earlier one said at risk.
    add_report(
        calm,
        date(2026, 1, 1),
        ReportState.ACCEPTED,
        ProjectStatus.AT_RISK,
        submitted_at=datetime(2026, 1, 2, tzinfo=UTC),
    )
    add_report(
        calm,
        date(2026, 2, 1),
        ReportState.ACCEPTED,
        ProjectStatus.ON_TRACK,
        submitted_at=datetime(2026, 2, 2, tzinfo=UTC),
    )
    first, last = dashboards.month_bounds(today)
    add_report(calm, last)  # due this month
    add_report(calm, today - timedelta(days=40))  # overdue (before this month)
    closed = make_project(lead=lead, phase=phase, title="Finished pilot", award=1_000_00, state=ProjectState.CLOSED)
    add_report(closed, today - timedelta(days=10))  # a closed project's unwritten report is not chased
    for state in (
        ApplicationState.SUBMITTED,
        ApplicationState.UNDER_REVIEW,
        ApplicationState.DRAFT,
        ApplicationState.AWARDED,
    ):
        make_application(phase, lead, state=state)

    money = {row.phase.name: row for row in dashboards.phase_money()}
    assert money["Phase 2"].awarded_pence == 21_000_00 and money["Phase 2"].spent_pence == 250_00
    assert money["Phase 2"].unawarded_pence == 39_000_00 and money["Phase 2"].awaiting_review == 2
    assert (money["Phase 1"].awarded_pence, money["Phase 1"].spent_pence) == (0, 0)
    counts = dashboards.report_counts(today)
    assert counts.due_this_month == 1 + (1 if (today - timedelta(days=40)) >= first else 0)
    assert counts.overdue == 1 and counts.waiting_for_decision == 1
    assert [p.title for p in db.session.scalars(dashboards.at_risk_query())] == ["Authentistic"]

    page = as_role("staff").get("/staff/grants")
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    for shown in ("Phase 2", "£60,000.00", "£21,000.00", "£39,000.00", "£250.00", "Authentistic"):
        assert shown in text
    assert text.index("Projects at risk") < text.index("Authentistic")
    assert "Hearing Birdsong</a>" not in text


def test_staff_report_list_filters(users: dict[str, Any], as_role: Any) -> None:
    today = london_today()
    project = make_project(lead=factories.user(), phase=make_phase(), title="Voices in Maternity Care")
    add_report(project, today - timedelta(days=5))
    add_report(project, today + timedelta(days=5), ReportState.DRAFT)
    add_report(project, today - timedelta(days=50), ReportState.SUBMITTED, ProjectStatus.SOME_CONCERNS)
    add_report(project, today - timedelta(days=90), ReportState.ACCEPTED, ProjectStatus.ON_TRACK)
    staff = as_role("staff")
    expectations = {
        "": "4 reports found",
        "due": "1 report found",
        "overdue": "1 report found",
        "submitted": "1 report found",
    }
    for show, found in expectations.items():
        page = staff.get(f"/staff/reports?show={show}").get_data(as_text=True)
        assert found in page, show
    overdue = staff.get("/staff/reports?show=overdue").get_data(as_text=True)
    assert "Overdue by 5 days" in overdue
    fragment = staff.get("/staff/reports?show=due", headers={"HX-Request": "true"})
    assert fragment.get_data(as_text=True).lstrip().startswith('<div id="results">')
    assert "HX-Request" in fragment.headers["Vary"]
    unknown = staff.get("/staff/reports?show=nonsense").get_data(as_text=True)
    assert "4 reports found" in unknown  # an unknown filter shows everything rather than failing


def test_my_projects_shows_next_report_budget_used_and_milestones(app: Any, users: dict[str, Any]) -> None:
    today = london_today()
    lead = factories.user()
    project = busy_project(lead, make_phase(), 1, today)
    add_report(
        project,
        today - timedelta(days=30),
        ReportState.ACCEPTED,
        ProjectStatus.ON_TRACK,
        submitted_at=datetime(2026, 1, 1, tzinfo=UTC),
    )
    figures = dashboards.project_figures([project.id], today=today)[project.id]
    assert figures.next_due == today - timedelta(days=3)
    assert (figures.spent_pence, figures.percent_used, figures.remaining_pence) == (100_00, 1, 9_900_00)
    assert (figures.milestones_done, figures.milestones_total) == (1, 2)
    assert (figures.reports_due, figures.reports_overdue, figures.reports_submitted, figures.reports_accepted) == (
        1,
        1,
        1,
        1,
    )
    assert figures.latest_status == ProjectStatus.AT_RISK  # sent most recently (NOW) vs. the accepted one
    client = app.test_client()
    sign_in(client, lead.email)
    page = client.get("/projects").get_data(as_text=True)
    assert "Pilot 001" in page and "£100.00 of £10,000.00 (1%)" in page and "1 of 2" in page
    assert "1 overdue" in page


# --- public pilot pages ---------------------------------------------------------------------


def test_public_pilot_pages_show_funded_pilots_and_published_learning(client: Any, users: dict[str, Any]) -> None:
    lead = factories.user()
    phase = make_phase("Phase 1")
    pilot = make_project(lead=lead, phase=phase, title="Hearing Birdsong", summary="Walks with birdsong")
    internal = make_project(lead=lead, phase=None, title="Internal project")
    add_report(
        pilot,
        date(2026, 2, 1),
        ReportState.ACCEPTED,
        ProjectStatus.AT_RISK,
        learning_published=True,
        what_we_learned="Listening together builds trust.",
        challenges="Secret challenge",
        values=["respect"],
        stages=["co_design"],
    )
    add_report(pilot, date(2026, 3, 1), ReportState.ACCEPTED, learning_published=False, what_we_learned="Not shared")
    add_report(pilot, date(2026, 4, 1), ReportState.SUBMITTED, learning_published=True, what_we_learned="Not accepted")
    listing = client.get("/pilots")
    assert listing.status_code == 200
    text = listing.get_data(as_text=True)
    assert "Hearing Birdsong" in text and "Walks with birdsong" in text and "Phase 1" in text
    assert "Internal project" not in text
    page = client.get(f"/pilots/{pilot.id}").get_data(as_text=True)
    assert "Listening together builds trust." in page and "Mutual respect and trust" in page
    assert "Co-design" in page
    for private in ("Not shared", "Not accepted", "Secret challenge", "At risk"):
        assert private not in page
    assert client.get(f"/pilots/{internal.id}").status_code == 404
    assert client.get("/pilots/99999").status_code == 404


# --- exports --------------------------------------------------------------------------------


def test_weighted_average_is_exact_and_rounds_half_up() -> None:
    assert exports.weighted_average([]) is None
    assert exports.weighted_average([(10, 3)]) == Decimal("3.33")
    # review one: (4x1 + 2x3) / 4 = 2.5; review two: (5x1 + 5x3) / 4 = 5 -> (2.5 + 5) / 2 = 3.75
    assert exports.weighted_average([(10, 4), (20, 4)]) == Decimal("3.75")
    assert exports.weighted_average([(1, 8), (0, 1)]) == Decimal("0.06")  # 0.0625 -> 0.06
    assert exports.weighted_average([(5, 8)]) == Decimal("0.63")  # 0.625 -> 0.63 (half up)


def test_applications_export(users: dict[str, Any], as_role: Any) -> None:
    phase = make_phase("Phase 2")
    light = Criterion(phase_id=phase.id, name="Co-production", weight=1, position=1)
    heavy = Criterion(phase_id=phase.id, name="Difference it makes", weight=3, position=2)
    db.session.add_all([light, heavy])
    db.session.commit()
    lead = factories.user(name="=Lead Person")  # a formula-looking name is made safe
    application = make_application(
        phase, lead, title="Voices in Maternity Care", state=ApplicationState.AWARDED, lines=(5_000_00, 2_500_50)
    )
    review(application, factories.user(), {light: 4, heavy: 2}, Recommendation.FUND)
    review(application, factories.user(), {light: 5, heavy: 5}, Recommendation.MAYBE)
    review(application, factories.user(), {light: 1, heavy: 1}, Recommendation.DO_NOT_FUND, ReviewState.DRAFT)
    review(application, factories.user(), {}, Recommendation.DO_NOT_FUND, ReviewState.CONFLICT)
    db.session.add(
        Decision(
            application_id=application.id,
            outcome=Outcome.AWARD,
            amount_pence=7_000_00,
            rationale="Strong plan",
            decided_by_id=users["staff"].id,
        )
    )
    db.session.commit()
    make_application(phase, factories.user(), title="Unreviewed")

    response = as_role("staff").get("/staff/exports/applications.csv", buffered=True)
    assert response.status_code == 200
    assert response.mimetype == "text/csv" and "attachment" in response.headers["Content-Disposition"]
    header, *rows = rows_of(response)
    assert header == exports.APPLICATION_HEADER
    assert rows[0] == [
        str(application.id),
        "Voices in Maternity Care",
        "Phase 2",
        "'=Lead Person",
        "Awarded",
        "7500.50",
        "2",
        "3.75",
        "1",
        "1",
        "0",
        "Awarded",
        "7000.00",
    ]
    assert rows[1][1:] == ["Unreviewed", "Phase 2", rows[1][3], "Submitted", "1000.00", "0", "", "0", "0", "0", "", ""]


def test_projects_export(users: dict[str, Any], as_role: Any) -> None:
    today = london_today()
    lead = factories.user()
    project = busy_project(lead, make_phase("Phase 1"), 7, today)
    add_report(
        project,
        today - timedelta(days=60),
        ReportState.ACCEPTED,
        ProjectStatus.ON_TRACK,
        submitted_at=datetime(2026, 1, 1, tzinfo=UTC),
    )
    make_project(lead=lead, phase=None, title="No award", award=None)
    response = as_role("finance").get("/staff/exports/projects.csv", buffered=True)
    assert response.status_code == 200
    header, *rows = rows_of(response)
    assert header == exports.PROJECT_HEADER
    assert rows[0] == [
        str(project.id),
        "Pilot 007",
        "Phase 1",
        "Running",
        "2026-01-01",
        "2026-08-01",
        "10000.00",
        "100.00",
        "9900.00",
        "1",
        "1",
        "1",
        "1",
        "At risk",
    ]
    assert rows[1][1:] == [
        "No award",
        "",
        "Running",
        "2026-01-01",
        "2026-08-01",
        "",
        "0.00",
        "",
        "0",
        "0",
        "0",
        "0",
        "",
    ]


def test_exports_stream_in_batches_without_loading_every_row(app: Any, users: dict[str, Any], as_role: Any) -> None:
    """1,200 projects: more than two fetch batches, fetched in one query with a bounded buffer."""
    phase = make_phase()
    db.session.execute(
        sa.insert(Project),
        [
            {
                "title": f"Pilot {n}",
                "summary": "",
                "award_pence": 1000,
                "phase_id": phase.id,
                "state": ProjectState.ACTIVE,
            }
            for n in range(1_200)
        ],
    )
    db.session.commit()
    staff = as_role("staff")
    with count_queries() as statements:
        rows = rows_of(staff.get("/staff/exports/projects.csv", buffered=True))
    assert len(rows) == 1_201 and rows[-1][1] == "Pilot 1199"
    assert sum("FROM projects" in s for s in statements) == 1  # one streamed query, not one per row or batch


@pytest.mark.parametrize("endpoint", ["grants.export_applications_csv", "grants.export_projects_csv"])
def test_exports_are_streamed_responses(app: Any, users: dict[str, Any], endpoint: str) -> None:
    make_project(lead=factories.user(), phase=make_phase())
    with app.test_request_context():
        login_user(users["staff"])
        response = app.view_functions[endpoint]()
        assert response.is_streamed  # the body is made line by line as it is sent
        body = "".join(response.response)
    assert body.startswith(("Application ID,", "Project ID,")) and body.endswith("\r\n")


# --- no N+1: 5 rows and 50 rows take the same number of queries ------------------------------


@pytest.mark.parametrize("url", ["/projects", "/staff/reports?show=overdue", "/staff/grants", "/pilots"])
def test_list_pages_do_not_grow_queries_with_rows(app: Any, users: dict[str, Any], url: str) -> None:
    app.config["PAGE_SIZE"] = 100
    today = london_today()
    lead = factories.user()
    client = app.test_client()
    who = lead if url == "/projects" else users["staff"]
    sign_in(client, who.email)
    phases = [make_phase(f"Phase {n}") for n in range(1, 3)]

    def add(start: int, count: int) -> None:
        for number in range(start, start + count):
            busy_project(lead, phases[number % 2], number, today)
            make_application(phases[number % 2], lead)

    add(0, 5)
    with_few = queries_for(client, url)
    add(5, 45)
    page = client.get(url).get_data(as_text=True)
    assert "Pilot 049" in page
    assert "Page 1 of" not in page
    assert queries_for(client, url) == with_few

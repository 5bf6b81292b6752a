"""Grants demo data: the seed programme's two phases and nine pilots, a running phase with
reports submitted, due and overdue, and an open round that reviewer@demo.test is reviewing."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import sqlalchemy as sa

from portal.accounts import services as accounts
from portal.accounts.models import User
from portal.core.extensions import db
from portal.core.formatting import london_today
from portal.grants.models import (
    Application,
    ApplicationMember,
    ApplicationState,
    BudgetCategory,
    BudgetLine,
    Criterion,
    Decision,
    Outcome,
    Phase,
    PhaseState,
    ProgressReport,
    ProjectStatus,
    ReportState,
    ReviewerAssignment,
)
from portal.grants.projects import add_months, create_project_from_award, schedule_reports
from portal.teams.models import Project, ProjectState, ReportingSchedule, TeamMembership, TeamRole

CRITERIA = [
    ("Lived experience leads", "People with lived experience share power at every stage.", 40),
    ("Difference it will make", "Outcomes that matter to the people involved.", 35),
    ("Realistic plan and budget", "Can be done well with the time and money asked for.", 25),
]

HISTORY = [
    # phase name, year window, delivery months, max £, pot £, pilots (title, summary)
    (
        "Phase 1 (2018)",
        (date(2018, 1, 8), date(2018, 2, 28)),
        4,
        5_000,
        25_000,
        [
            (
                "Voices in Maternity Care",
                "Parents who had difficult births co-design better maternity conversations with midwives.",
            ),
            (
                "Hearing Birdsong",
                "People living with dementia and their carers co-create nature walks and sound archives.",
            ),
            ("Authentistic", "Autistic adults co-produce guidance on authentic, accessible research."),
            ("Kitchen Table Conversations", "Carers shape how their local council listens to them."),
            ("Young Voices in Care", "Care-experienced young people co-deliver training for social workers."),
        ],
    ),
    (
        "Phase 2 (2019–2020)",
        (date(2019, 5, 1), date(2019, 6, 30)),
        7,
        15_000,
        60_000,
        [
            ("Recovery Stories", "People in recovery co-evaluate a peer mentoring service."),
            ("Open Doors Housing", "People with experience of homelessness co-design a housing advice service."),
            ("Community Research Circles", "Local residents train as co-researchers on neighbourhood health."),
            ("Second Chances", "People with convictions co-produce support on leaving prison."),
        ],
    ),
]


def _phase(
    name: str,
    window: tuple[date, date],
    months: int,
    max_pounds: int,
    pot_pounds: int,
    state: PhaseState,
    target: int,
    summary: str = "",
) -> tuple[Phase, bool]:
    phase = db.session.scalar(sa.select(Phase).where(Phase.name == name))
    if phase is not None:
        return phase, False
    phase = Phase(
        name=name,
        summary=summary or f"Funding for pilots that build co-production in, up to £{max_pounds:,}.",
        eligibility="Community groups, charities and public services working with people with lived experience.",
        max_award_pence=max_pounds * 100,
        delivery_months=months,
        pot_pence=pot_pounds * 100,
        target_awards=target,
        opens_on=window[0],
        closes_on=window[1],
        state=state,
    )
    db.session.add(phase)
    db.session.flush()
    for position, (criterion, description, weight) in enumerate(CRITERIA):
        db.session.add(
            Criterion(phase_id=phase.id, name=criterion, description=description, weight=weight, position=position)
        )
    return phase, True


def _application(
    phase: Phase,
    lead: User,
    title: str,
    summary: str,
    amount_pounds: int,
    state: ApplicationState,
    submitted: datetime | None,
) -> Application:
    application = Application(
        phase_id=phase.id,
        lead_id=lead.id,
        title=title,
        summary=summary,
        state=state,
        submitted_at=submitted,
        lived_experience="People with lived experience of the issue make up half of the steering group.",
        co_design="We shape the questions and methods together in paid workshops.",
        co_decision="Decisions are made by the steering group, one person one vote.",
        co_delivery="Peer researchers and facilitators with lived experience run the sessions.",
        co_evaluation="We judge success together, using measures the group chose.",
    )
    db.session.add(application)
    db.session.flush()
    db.session.add(ApplicationMember(application_id=application.id, user_id=lead.id, role=TeamRole.LEAD))
    half = amount_pounds * 50
    db.session.add_all(
        [
            BudgetLine(
                application_id=application.id,
                category=BudgetCategory.LIVED_EXPERIENCE,
                description="Paying co-producers for their time",
                amount_pence=half,
            ),
            BudgetLine(
                application_id=application.id,
                category=BudgetCategory.VENUE,
                description="Accessible venues and lunches",
                amount_pence=amount_pounds * 100 - half,
            ),
        ]
    )
    return application


def _award(application: Application, staff: User, amount_pounds: int, start: date) -> Project:
    application.state = ApplicationState.AWARDED
    db.session.add(
        Decision(
            application_id=application.id,
            outcome=Outcome.AWARD,
            amount_pence=amount_pounds * 100,
            rationale="The panel scored this highly for sharing power at every stage.",
            decided_by_id=staff.id,
        )
    )
    return create_project_from_award(application, amount_pence=amount_pounds * 100, start_date=start, by=staff)


def _finish(project: Project, lead_learning: str) -> None:
    for report in db.session.scalars(sa.select(ProgressReport).where(ProgressReport.project_id == project.id)):
        report.state = ReportState.ACCEPTED
        report.what_happened = "We ran the sessions we planned, with everyone paid for their time."
        report.what_changed = "Professionals changed how they ask for and use lived experience."
        report.what_we_learned = lead_learning
        report.challenges = "Finding accessible venues took longer than planned."
        report.stages = ["co_design", "co_delivery", "co_evaluation"]
        report.values = ["equality", "reciprocity", "accessibility"]
        report.status = ProjectStatus.ON_TRACK
        report.submitted_at = datetime.combine(report.due_on, datetime.min.time(), UTC)
        report.learning_published = report.is_final
    project.state = ProjectState.CLOSED


def seed(people: dict[str, User]) -> int:
    staff, lead, reviewer, member = (
        people[e] for e in ("staff@demo.test", "lead@demo.test", "reviewer@demo.test", "member@demo.test")
    )
    created = 0
    pilot_leads = {}
    for number in range(1, 10):
        email = f"pilot{number}@demo.test"
        user = accounts.find_by_email(email)
        if user is None:
            user = accounts.create_user(
                email=email, name=f"Pilot lead {number}", password="demo-password-2026", verified=True
            )
            created += 1
        pilot_leads[number] = user
    number = 0
    for name, window, months, max_pounds, pot_pounds, pilots in HISTORY:
        phase, new = _phase(name, window, months, max_pounds, pot_pounds, PhaseState.CLOSED, len(pilots))
        if not new:
            number += len(pilots)
            continue
        created += 1
        start = add_months(window[1], 1).replace(day=1)
        for title, summary in pilots:
            number += 1
            application = _application(
                phase,
                pilot_leads[number],
                title,
                summary,
                max_pounds,
                ApplicationState.AWARDED,
                datetime.combine(window[1], datetime.min.time(), UTC),
            )
            project = _award(application, staff, max_pounds, start)
            _finish(project, f"{title}: paying people properly and meeting access needs early made the difference.")
            created += 2

    today = london_today()
    running, new = _phase(
        "Phase 3 (2026)",
        (add_months(today, -7), add_months(today, -6)),
        7,
        15_000,
        45_000,
        PhaseState.ACTIVE,
        3,
        "Pilots running now.",
    )
    if new:
        created += 1
        cafe = db.session.scalar(sa.select(Project).where(Project.title == "Peer-led recovery cafés"))
        application = _application(
            running,
            lead,
            "Peer-led recovery cafés",
            "People in recovery co-design and run community cafés.",
            15_000,
            ApplicationState.AWARDED,
            datetime.now(UTC) - timedelta(days=200),
        )
        start = add_months(today, -4)
        if cafe is None:
            cafe = _award(application, staff, 15_000, start)
        else:  # the foundation's demo project becomes this award's pilot
            application.state = ApplicationState.AWARDED
            db.session.add(
                Decision(
                    application_id=application.id,
                    outcome=Outcome.AWARD,
                    amount_pence=15_000_00,
                    rationale="Strong, paid peer leadership throughout.",
                    decided_by_id=staff.id,
                )
            )
            cafe.award_pence, cafe.phase_id, cafe.application_id = 15_000_00, running.id, application.id
            cafe.start_date, cafe.end_date = start, add_months(start, 7)
        schedule_reports(cafe, ReportingSchedule.MONTHLY, by=staff)
        reports = list(
            db.session.scalars(
                sa.select(ProgressReport).where(ProgressReport.project_id == cafe.id).order_by(ProgressReport.due_on)
            )
        )
        # Months 1-2 accepted, month 3 submitted and waiting, month 4 overdue, the rest still to come.
        for report, state in zip(
            reports, (ReportState.ACCEPTED, ReportState.ACCEPTED, ReportState.SUBMITTED), strict=False
        ):
            report.state = state
            report.what_happened = "Two cafés opened; twelve peer volunteers trained and paid."
            report.what_changed = "The council now asks the café group before changing drop-in hours."
            report.what_we_learned = "Paying people on the day, in vouchers if they prefer, keeps people coming back."
            report.challenges = "One venue was not step-free; we moved."
            report.stages = ["co_design", "co_decision", "co_delivery"]
            report.values = ["reciprocity", "accessibility", "relationships"]
            report.status = ProjectStatus.SOME_CONCERNS if state == ReportState.SUBMITTED else ProjectStatus.ON_TRACK
            report.submitted_at = datetime.combine(report.due_on, datetime.min.time(), UTC)
        # Exactly one overdue report: the fourth, five days late.
        reports[3].due_on = reports[3].period_end = max(
            reports[2].due_on + timedelta(days=1), today - timedelta(days=5)
        )
        if not db.session.scalar(
            sa.select(TeamMembership.id).where(
                TeamMembership.project_id == cafe.id, TeamMembership.user_id == member.id
            )
        ):
            db.session.add(TeamMembership(project_id=cafe.id, user_id=member.id, role=TeamRole.MEMBER))
        second = _application(
            running,
            pilot_leads[9],
            "Listening Posts",
            "Young carers co-design a listening service in schools.",
            12_000,
            ApplicationState.AWARDED,
            datetime.now(UTC) - timedelta(days=200),
        )
        at_risk = _award(second, staff, 12_000, start)
        first_report = db.session.scalars(
            sa.select(ProgressReport).where(ProgressReport.project_id == at_risk.id).order_by(ProgressReport.due_on)
        ).first()
        assert first_report is not None  # the award scheduled its reports
        first_report.due_on = min(first_report.due_on, today - timedelta(days=1))
        first_report.state = ReportState.SUBMITTED
        first_report.what_happened = "Recruitment was slower than planned."
        first_report.what_changed = "Schools asked for shorter sessions."
        first_report.what_we_learned = "Young carers need sessions outside school hours."
        first_report.challenges = "Two schools withdrew."
        first_report.stages, first_report.values = ["co_design"], ["flexibility"]
        first_report.status = ProjectStatus.AT_RISK
        first_report.submitted_at = datetime.now(UTC) - timedelta(days=1)
        created += 4

    open_round, new = _phase(
        "Phase 4 (open round)",
        (today - timedelta(days=14), today + timedelta(days=30)),
        7,
        15_000,
        60_000,
        PhaseState.OPEN,
        4,
        "Open now: funding for new co-produced pilots.",
    )
    if new:
        created += 1
        db.session.flush()
        for title, applicant in (("Peer Advocacy Network", pilot_leads[1]), ("Art for Recovery", pilot_leads[2])):
            _application(
                open_round,
                applicant,
                title,
                f"{title}: a pilot built with people with lived experience.",
                9_500,
                ApplicationState.SUBMITTED,
                datetime.now(UTC) - timedelta(days=2),
            )
        _application(
            open_round,
            lead,
            "Recovery cafés in two more towns",
            "Taking the cafés further.",
            14_000,
            ApplicationState.DRAFT,
            None,
        )
        db.session.add(
            ReviewerAssignment(
                phase_id=open_round.id, application_id=None, reviewer_id=reviewer.id, assigned_by_id=staff.id
            )
        )
        created += 4
    db.session.flush()
    return created

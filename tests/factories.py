"""Test data builders. Each commits what it makes, like a real request would.

Builders that more than one test module uses live here (stories have theirs in
``tests/stories_factories.py``); a builder only one module needs stays in that module.
"""

from __future__ import annotations

import itertools
import time
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pyotp
import sqlalchemy as sa

from portal.accounts import services
from portal.accounts import two_factor as two_factor_service
from portal.accounts.models import Role, User
from portal.core import audit
from portal.core.db import utcnow
from portal.core.extensions import db
from portal.core.formatting import london_today
from portal.gatherings import services as gathering_services
from portal.gatherings.models import Gathering, Rsvp
from portal.grants.applications import ApplicationDetails
from portal.grants.models import (
    Application,
    ApplicationMember,
    ApplicationState,
    BudgetCategory,
    BudgetLine,
    Criterion,
    Phase,
    PhaseState,
)
from portal.learning import posts
from portal.learning.models import LearningPost
from portal.remuneration import claims, rates
from portal.remuneration.models import ActivityType, Claim, ExpenseCategory, Rate, Unit
from portal.teams.models import Project, TeamMembership, TeamRole

PASSWORD = "correct horse battery staple"
# Every test account with two-factor sign-in (all staff, finance and admins, unless a test says
# otherwise) has this TOTP secret, so the sign-in helpers can work out its current code.
TOTP_SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"
_numbers = itertools.count(1)


def user(
    *,
    role: Role | str = Role.MEMBER,
    name: str | None = None,
    email: str | None = None,
    password: str = PASSWORD,
    verified: bool = True,
    two_factor: bool | None = None,
    **profile: Any,
) -> User:
    """A person; staff, finance and admins get two-factor sign-in (``TOTP_SECRET``) as the portal
    requires, and anyone else when ``two_factor=True``. ``two_factor=False`` makes a staff member
    who has not set it up yet."""
    number = next(_numbers)
    person = services.create_user(
        email=email or f"person{number}@example.test",
        name=name or f"Person {number}",
        password=password,
        role=Role(role),
        verified=verified,
    )
    for field, value in profile.items():
        setattr(person, field, value)
    if two_factor if two_factor is not None else person.must_have_two_factor:
        two_factor_service.store_secret(person, TOTP_SECRET)
    db.session.commit()
    return person


def totp_code(*, step_offset: int = 0) -> str:
    """The code an authenticator app with ``TOTP_SECRET`` shows now (or ``step_offset`` steps on)."""
    return pyotp.TOTP(TOTP_SECRET).at(time.time() + step_offset * 30)


def one_of_each_role() -> dict[str, User]:
    return {
        role.value: user(role=role, name=f"{role.label} Person", email=f"{role.value}@example.test") for role in Role
    }


def project(*, title: str = "A pilot project", lead: User | None = None, members: tuple[User, ...] = ()) -> Project:
    made = Project(title=title)
    db.session.add(made)
    db.session.flush()
    if lead is not None:
        db.session.add(TeamMembership(project_id=made.id, user_id=lead.id, role=TeamRole.LEAD))
    for member in members:
        db.session.add(TeamMembership(project_id=made.id, user_id=member.id, role=TeamRole.MEMBER))
    db.session.commit()
    return made


def audit_entries(count: int, *, actor: User, target: User) -> None:
    for number in range(count):
        audit.record("test.event", target, actor=actor, after={"n": number})
    db.session.commit()


# --- grants: a phase and an application (tests/test_grants_*.py, the browser tests) -----------

PHASE_TODAY = date(2026, 11, 23)  # the grants tests' "today": the phase is open on it
APPLICATION_SENT_AT = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
COMPLETE_APPLICATION = ApplicationDetails(
    title="Peer-led recovery cafés",
    summary="Weekly cafés run by people in recovery.",
    lived_experience="Six people in recovery lead the project.",
    co_design="They design the cafés.",
    co_decision="They hold the budget.",
    co_delivery="They run the cafés, paid.",
    co_evaluation="They run the evaluation.",
)


def make_phase(
    *,
    state: PhaseState = PhaseState.OPEN,
    today: date = PHASE_TODAY,
    opens: date | None = None,
    closes: date | None = None,
    max_award: int = 5_000_00,
    pot: int = 20_000_00,
    criteria: tuple[tuple[str, int], ...] = (("Lived experience leads", 60), ("Realistic plan", 40)),
    name: str = "Phase 3",
) -> Phase:
    phase = Phase(
        name=name,
        summary="Pilots that build co-production in.",
        eligibility="Community groups.",
        max_award_pence=max_award,
        pot_pence=pot,
        delivery_months=6,
        target_awards=4,
        opens_on=opens or today - timedelta(days=10),
        closes_on=closes or today + timedelta(days=10),
        state=state,
    )
    db.session.add(phase)
    db.session.flush()
    for position, (criterion, weight) in enumerate(criteria):
        db.session.add(Criterion(phase_id=phase.id, name=criterion, weight=weight, position=position))
    db.session.commit()
    return phase


def make_application(
    phase: Phase,
    lead: User,
    *,
    state: ApplicationState = ApplicationState.DRAFT,
    title: str = "Peer-led recovery cafés",
    lines: tuple[int, ...] = (1_000_00, 500_00),
    members: tuple[User, ...] = (),
    complete: bool = True,
) -> Application:
    details = COMPLETE_APPLICATION if complete else ApplicationDetails()
    application = Application(
        phase_id=phase.id, lead_id=lead.id, state=state, **{**details.__dict__, "title": title if complete else ""}
    )
    if state != ApplicationState.DRAFT:
        application.submitted_at = APPLICATION_SENT_AT
    db.session.add(application)
    db.session.flush()
    db.session.add(ApplicationMember(application_id=application.id, user_id=lead.id, role=TeamRole.LEAD))
    for member in members:
        db.session.add(ApplicationMember(application_id=application.id, user_id=member.id, role=TeamRole.MEMBER))
    for amount in lines:
        db.session.add(
            BudgetLine(
                application_id=application.id,
                category=BudgetCategory.LIVED_EXPERIENCE,
                description="Paying co-researchers",
                amount_pence=amount,
            )
        )
    db.session.commit()
    return application


# --- learning: a post (tests/test_learning_*.py, search, notifications) ------------------------


def make_post(
    author: Any,
    *,
    title: str = "Paying people promptly",
    body: str = "We paid within a week.",
    visibility: str = "public",
    **extra: Any,
) -> LearningPost:
    post = posts.create_post(author=author, title=title, body=body, visibility=visibility, **extra)
    db.session.commit()
    return post


# --- gatherings (tests/test_gatherings_*.py) ---------------------------------------------------


def workshop_activity() -> ActivityType:
    """The rate card's "Workshop", paid by the half day, with a rate since 2025."""
    activity = db.session.scalar(sa.select(ActivityType).where(ActivityType.name == "Workshop"))
    if activity is None:
        admin = user(role=Role.ADMIN)
        activity = rates.add_activity_type(name="Workshop", unit=Unit.HALF_DAY, by=admin)
        rates.set_rate(activity, amount_pence=8250, effective_from=date(2025, 4, 1), by=admin)
        db.session.commit()
    return activity


def make_gathering(
    organiser: User,
    *,
    starts_in: timedelta = timedelta(days=7),
    capacity: int = 10,
    paid: bool = False,
    title: str = "Co-design workshop",
    project_id: int | None = None,
    **extra: Any,
) -> Gathering:
    """A gathering made through the service (so its rules apply), then moved in time if asked:
    the service refuses a start in the past, but tests need past gatherings too."""
    activity = workshop_activity() if paid else None
    fields: dict[str, Any] = {
        "title": title,
        "description": "We plan the next stage together.",
        "starts_at": utcnow() + timedelta(days=1),
        "ends_at": utcnow() + timedelta(days=1, hours=3),
        "place": "Community hall, 1 High Street",
        "accessibility": "Step-free; hearing loop.",
        "capacity": capacity,
        "paid": paid,
        "activity_type_id": activity.id if activity else None,
        "units": Decimal("1") if paid else None,
        "project_id": project_id,
        **extra,
    }
    details = gathering_services.GatheringDetails(**fields)
    gathering = gathering_services.create_gathering(details, by=organiser)
    gathering.starts_at = utcnow() + starts_in
    gathering.ends_at = gathering.starts_at + timedelta(hours=3)
    db.session.commit()
    return gathering


def book(gathering: Gathering, person: User, **kwargs: Any) -> Rsvp:
    rsvp = gathering_services.book(gathering, person, **kwargs)
    db.session.commit()
    return rsvp


# --- remuneration: a rate card and a submitted claim (tests/test_remuneration_staff_pages.py,
# tests/test_dashboard.py) ---------------------------------------------------------------------

CLAIM_DAY = london_today() - timedelta(days=7)


def rate_card() -> dict[str, ActivityType]:
    """Meetings at £20 an hour and panel reviews at £150 a day, since 1 January 2025."""
    made = {}
    for name, unit, pence in (("Meeting", Unit.HOUR, 2000), ("Panel review", Unit.DAY, 15000)):
        activity = ActivityType(name=name, unit=unit)
        db.session.add(activity)
        db.session.flush()
        db.session.add(Rate(activity_type_id=activity.id, amount_pence=pence, effective_from=date(2025, 1, 1)))
        made[name] = activity
    db.session.commit()
    return made


def submitted(
    claimant: Any,
    activity: ActivityType,
    *,
    units: str = "1",
    project: Any = None,
    sent: datetime | None = None,
    expenses_pence: int = 0,
) -> Claim:
    claim = claims.create_claim(
        claimant,
        claims.ClaimDetails(activity.id, CLAIM_DAY, Decimal(units), project.id if project else None),
        today=london_today(),
    )
    if expenses_pence:
        claims.add_expense(
            claim,
            by=claimant,
            category=ExpenseCategory.TRAVEL,
            description="Train",
            amount_pence=expenses_pence,
            miles=None,
            mileage_rate_pence=45,
        )
    assert claims.submit_claim(claim, by=claimant, now=sent or utcnow()) == []
    db.session.commit()
    return claim

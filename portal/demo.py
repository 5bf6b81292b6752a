"""Demo data for ``flask --app portal seed-demo``: idempotent, never run in production.

Later issues add their demo data here, each in its own function called from ``seed``.
"""

from __future__ import annotations

import sqlalchemy as sa

from portal.accounts import services
from portal.accounts.models import ContactMethod, Role, User
from portal.core.extensions import db
from portal.directory import demo as directory_demo
from portal.gatherings import demo as gatherings_demo
from portal.grants import demo as grants_demo
from portal.learning import demo as learning_demo
from portal.remuneration import demo as remuneration_demo
from portal.stories import demo as stories_demo
from portal.teams.models import Project, TeamMembership, TeamRole

DEMO_PASSWORD = "demo-password-2026"

DEMO_ACCOUNTS = [
    # email, name, role, pronouns, bio
    ("admin@demo.test", "Ada Admin", Role.ADMIN, "she/her", "Looks after the portal's accounts and settings."),
    ("staff@demo.test", "Sam Staff", Role.STAFF, "they/them", "Programme officer: runs phases, panels and moderation."),
    ("finance@demo.test", "Fran Finance", Role.FINANCE, "she/her", "Pays contributors and keeps the books."),
    (
        "lead@demo.test",
        "Leah Lead",
        Role.MEMBER,
        "she/her",
        "Leads a pilot project co-designing a peer support service.",
    ),
    (
        "member@demo.test",
        "Lydia Member",
        Role.MEMBER,
        "she/her",
        "Co-producer with lived experience of homelessness and recovery.",
    ),
    (
        "reviewer@demo.test",
        "Ravi Reviewer",
        Role.MEMBER,
        "he/him",
        "Sits on the funding panel as a lived-experience reviewer.",
    ),
]

DEMO_PROJECT_TITLE = "Peer-led recovery cafés"


def _account(email: str, name: str, role: Role, pronouns: str, bio: str) -> tuple[User, bool]:
    user = services.find_by_email(email)
    if user is not None:
        return user, False
    user = services.create_user(email=email, name=name, password=DEMO_PASSWORD, role=role, verified=True)
    user.pronouns = pronouns
    user.bio = bio
    user.preferred_contact = ContactMethod.EMAIL
    return user, True


def seed() -> int:
    """Create whatever demo data is missing; returns how many records were created."""
    created = 0
    people = {}
    for email, name, role, pronouns, bio in DEMO_ACCOUNTS:
        people[email], new = _account(email, name, role, pronouns, bio)
        created += new
    people["member@demo.test"].access_needs = "Large print papers, and a break every hour."

    project = db.session.scalar(sa.select(Project).where(Project.title == DEMO_PROJECT_TITLE))
    if project is None:
        project = Project(
            title=DEMO_PROJECT_TITLE,
            summary="A pilot where people in recovery co-design and run community cafés.",
        )
        db.session.add(project)
        db.session.flush()
        created += 1
        for email, team_role in (("lead@demo.test", TeamRole.LEAD), ("member@demo.test", TeamRole.MEMBER)):
            db.session.add(TeamMembership(project_id=project.id, user_id=people[email].id, role=team_role))
            created += 1
    db.session.flush()

    created += grants_demo.seed(people)
    db.session.flush()

    created += remuneration_demo.seed_rate_card(people["admin@demo.test"])
    db.session.flush()
    created += remuneration_demo.seed_claims(people)
    db.session.flush()

    created += stories_demo.seed(people)
    db.session.flush()

    created += learning_demo.seed(people)
    db.session.flush()

    created += directory_demo.seed(people)
    created += gatherings_demo.seed(people, DEMO_PROJECT_TITLE)
    db.session.flush()
    return created

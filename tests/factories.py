"""Test data builders. Each commits what it makes, like a real request would."""

from __future__ import annotations

import itertools
from typing import Any

from portal.core import audit
from portal.accounts import services
from portal.accounts.models import Role, User
from portal.core.extensions import db
from portal.teams.models import Project, TeamMembership, TeamRole

PASSWORD = "correct horse battery staple"
_numbers = itertools.count(1)


def user(*, role: Role | str = Role.MEMBER, name: str | None = None, email: str | None = None,
         password: str = PASSWORD, **profile: Any) -> User:
    number = next(_numbers)
    person = services.create_user(
        email=email or f"person{number}@example.test",
        name=name or f"Person {number}",
        password=password,
        role=Role(role),
    )
    for field, value in profile.items():
        setattr(person, field, value)
    db.session.commit()
    return person


def one_of_each_role() -> dict[str, User]:
    return {role.value: user(role=role, name=f"{role.label} Person", email=f"{role.value}@example.test")
            for role in Role}


def project(*, title: str = "A pilot project", lead: User | None = None,
            members: tuple[User, ...] = ()) -> Project:
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

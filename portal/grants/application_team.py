"""Changing an application's team before the decision: adding someone (an accepted invitation),
changing their role, removing them. After the award the team lives on the project
(``portal.teams.management``).

``Application.lead_id`` is the lead applicant, the team's contact: when they are made a member
or removed, another lead takes the place. A team always keeps a lead.
"""

from __future__ import annotations

import sqlalchemy as sa

from portal.accounts.models import User
from portal.accounts.verification import require_verified
from portal.core import audit
from portal.core.errors import RuleBroken
from portal.core.extensions import db
from portal.grants.models import Application, ApplicationMember
from portal.notifications.service import notify
from portal.teams.management import LAST_LEAD, ROLE_WORDS
from portal.teams.models import TeamRole


def membership(application: Application, user_id: int) -> ApplicationMember | None:
    return db.session.scalar(
        sa.select(ApplicationMember).where(
            ApplicationMember.application_id == application.id, ApplicationMember.user_id == user_id
        )
    )


def _other_lead(application: Application, user_id: int) -> int | None:
    return db.session.scalar(
        sa.select(ApplicationMember.user_id)
        .where(
            ApplicationMember.application_id == application.id,
            ApplicationMember.role == TeamRole.LEAD,
            ApplicationMember.user_id != user_id,
        )
        .order_by(ApplicationMember.id)
        .limit(1)
    )


def _name(application: Application) -> str:
    return f"'{application.title}'" if application.title else "an untitled application"


def add_member(application: Application, user: User, *, by: User) -> ApplicationMember:
    existing = membership(application, user.id)
    if existing is not None:
        return existing
    require_verified(user, by=by)
    made = ApplicationMember(application_id=application.id, user_id=user.id, role=TeamRole.MEMBER)
    db.session.add(made)
    db.session.flush()
    audit.record("application.member_added", application, actor=by, after={"user": user.id, "role": "member"})
    return made


def _hand_over_if_lead_applicant(application: Application, user: User, field: str) -> None:
    """Before the lead applicant stops being a lead: another lead becomes the lead applicant."""
    other = _other_lead(application, user.id)
    if other is None:
        raise RuleBroken(field, LAST_LEAD.format(name=user.name))
    if application.lead_id == user.id:
        application.lead_id = other


def change_role(application: Application, user: User, *, role: TeamRole, by: User) -> ApplicationMember:
    member = membership(application, user.id)
    if member is None:
        raise RuleBroken("role", f"{user.name} is not on this team any more.")
    if member.role == role:
        raise RuleBroken("role", f"{user.name} is already {ROLE_WORDS[role]} of this team.")
    if role == TeamRole.MEMBER:
        _hand_over_if_lead_applicant(application, user, "role")
    before = member.role
    member.role = role
    audit.record(
        "application.member_role_changed",
        application,
        actor=by,
        before={"user": user.id, "role": before.value},
        after={"user": user.id, "role": role.value, "lead_applicant": application.lead_id},
    )
    notify(
        user,
        "team",
        f"You are now {ROLE_WORDS[role]} of the team for {_name(application)}",
        f"{by.name} made you {ROLE_WORDS[role]} of the team applying with {_name(application)}.",
        f"/applications/{application.id}",
    )
    return member


def remove_member(application: Application, user: User, *, by: User) -> None:
    member = membership(application, user.id)
    if member is None:
        raise RuleBroken("member", f"{user.name} is not on this team any more.")
    if member.role == TeamRole.LEAD:
        _hand_over_if_lead_applicant(application, user, "member")
    db.session.delete(member)
    audit.record(
        "application.member_removed",
        application,
        actor=by,
        before={"user": user.id, "role": member.role.value},
        after={"lead_applicant": application.lead_id},
    )
    notify(
        user,
        "team",
        f"You are no longer on the team for {_name(application)}",
        f"{by.name} removed you from the team applying with {_name(application)}. If you think this is a "
        "mistake, ask the lead applicant or the programme team.",
        "/applications",
    )

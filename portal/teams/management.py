"""Changing a project's team: adding someone, changing their role, removing them.

Each change is audited and the person is told, in the caller's transaction. A team always keeps
a lead: the last one cannot be removed or made a member until someone else is made a lead.
Removal takes effect at once, because every project rule asks ``team_role`` afresh.
"""

from __future__ import annotations

import sqlalchemy as sa

from portal.accounts.models import User
from portal.core import audit
from portal.core.errors import RuleBroken
from portal.core.extensions import db
from portal.notifications.service import notify
from portal.teams.membership import add_to_team
from portal.teams.models import Project, TeamMembership, TeamRole

ROLE_WORDS = {TeamRole.LEAD: "a lead", TeamRole.MEMBER: "a member"}
LAST_LEAD = "{name} is the only lead of this team. Make someone else a lead first, then change this."


def membership(project: Project, user_id: int) -> TeamMembership | None:
    return db.session.scalar(
        sa.select(TeamMembership).where(TeamMembership.project_id == project.id, TeamMembership.user_id == user_id)
    )


def lead_count(project: Project) -> int:
    return (
        db.session.scalar(
            sa.select(sa.func.count())
            .select_from(TeamMembership)
            .where(TeamMembership.project_id == project.id, TeamMembership.role == TeamRole.LEAD)
        )
        or 0
    )


def members(project: Project) -> list[tuple[User, TeamRole]]:
    """The team, leads first, then by name."""
    return [
        (user, TeamRole(role))
        for user, role in db.session.execute(
            sa.select(User, TeamMembership.role)
            .join(TeamMembership, TeamMembership.user_id == User.id)
            .where(TeamMembership.project_id == project.id)
            .order_by(TeamMembership.role, User.name)
        )
    ]


def add_member(project: Project, user: User, *, role: TeamRole = TeamRole.MEMBER, by: User) -> TeamMembership:
    """Put someone on the team (an accepted invitation); someone already on it keeps their role."""
    existing = membership(project, user.id)
    if existing is not None:
        return existing
    made = add_to_team(project, user, role, by=by)
    db.session.flush()
    audit.record("project.member_added", project, actor=by, after={"user": user.id, "role": role.value})
    return made


def _keeps_a_lead(project: Project, member: TeamMembership, field: str) -> None:
    if member.role == TeamRole.LEAD and lead_count(project) <= 1:
        person = db.session.get_one(User, member.user_id)
        raise RuleBroken(field, LAST_LEAD.format(name=person.name))


def change_role(project: Project, user: User, *, role: TeamRole, by: User) -> TeamMembership:
    member = membership(project, user.id)
    if member is None:
        raise RuleBroken("role", f"{user.name} is not on this team any more.")
    if member.role == role:
        raise RuleBroken("role", f"{user.name} is already {ROLE_WORDS[role]} of this team.")
    if role == TeamRole.MEMBER:
        _keeps_a_lead(project, member, "role")
    before = member.role
    member.role = role
    audit.record(
        "project.member_role_changed",
        project,
        actor=by,
        before={"user": user.id, "role": before.value},
        after={"user": user.id, "role": role.value},
    )
    notify(
        user,
        "team",
        f"You are now {ROLE_WORDS[role]} of the team for '{project.title}'",
        f"{by.name} made you {ROLE_WORDS[role]} of the team for the pilot project '{project.title}'.",
        f"/projects/{project.id}",
    )
    return member


def remove_member(project: Project, user: User, *, by: User) -> None:
    member = membership(project, user.id)
    if member is None:
        raise RuleBroken("member", f"{user.name} is not on this team any more.")
    _keeps_a_lead(project, member, "member")
    db.session.delete(member)
    audit.record(
        "project.member_removed", project, actor=by, before={"user": user.id, "role": member.role.value}, after=None
    )
    notify(
        user,
        "team",
        f"You are no longer on the team for '{project.title}'",
        f"{by.name} removed you from the team for the pilot project '{project.title}'. If you think this is a "
        "mistake, ask the project's lead or the programme team.",
        "/projects",
    )

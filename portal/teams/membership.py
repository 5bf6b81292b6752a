"""Putting a person on a pilot project's team: the one place it happens, so the rule that only
people with a confirmed email address join a team holds everywhere."""

from __future__ import annotations

from portal.accounts.models import User
from portal.accounts.verification import require_verified
from portal.core.extensions import db
from portal.teams.models import Project, TeamMembership, TeamRole


def add_to_team(
    project: Project, user: User, role: TeamRole = TeamRole.MEMBER, *, by: User | None = None
) -> TeamMembership:
    """Add ``user`` to the project's team; ``RuleBroken`` while their address is not confirmed.
    ``by`` is whoever adds them, when it is not the person themselves (the message names them)."""
    require_verified(user, by=by)
    membership = TeamMembership(project_id=project.id, user_id=user.id, role=role)
    db.session.add(membership)
    return membership

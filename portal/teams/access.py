"""Who is on which pilot team: the facts every domain's rules ask about."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from portal.core.extensions import db
from portal.core.permissions import signed_in
from portal.teams.models import Project, TeamMembership, TeamRole


def team_role(user: Any, project: Project | None) -> TeamRole | None:
    """The user's role on a project's team (lead or member), or None."""
    if not signed_in(user) or project is None:
        return None
    return db.session.scalar(
        sa.select(TeamMembership.role).where(TeamMembership.project_id == project.id, TeamMembership.user_id == user.id)
    )


def leads_a_project(user: Any) -> bool:
    return (
        signed_in(user)
        and db.session.scalar(
            sa.select(TeamMembership.id)
            .where(TeamMembership.user_id == user.id, TeamMembership.role == TeamRole.LEAD)
            .limit(1)
        )
        is not None
    )

"""The project teams a person is on, for "Download my data". "Erase me" leaves them on the team
lists (a project's record of who ran it), under the reference that replaces their name."""

from __future__ import annotations

import sqlalchemy as sa

from portal.accounts.models import User
from portal.core.extensions import db
from portal.core.my_data import Row, register_export
from portal.teams.models import Project, TeamMembership


@register_export("team_memberships", "the pilot project teams you are on, and your role in each")
def team_memberships(person: User) -> list[Row]:
    found = db.session.execute(
        sa.select(TeamMembership, Project.title)
        .join(Project, TeamMembership.project_id == Project.id)
        .where(TeamMembership.user_id == person.id)
        .order_by(TeamMembership.id)
    )
    return [
        {"project_id": m.project_id, "project": title, "role": m.role, "joined_at": m.joined_at} for m, title in found
    ]

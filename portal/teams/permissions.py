"""Rules about pilot project teams."""

from __future__ import annotations

from portal.core.permissions import register
from portal.teams.access import team_role
from portal.teams.models import TeamRole

register(
    {
        "project.work_on": (
            lambda user, project: team_role(user, project) is not None,
            "Only the project's team can do that.",
        ),
        "project.lead": (
            lambda user, project: team_role(user, project) == TeamRole.LEAD,
            "Only the project's lead can do that.",
        ),
    }
)

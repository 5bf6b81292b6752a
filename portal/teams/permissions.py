"""Rules about pilot project teams."""

from __future__ import annotations

from portal.core.permissions import is_staff, register
from portal.teams.access import team_role
from portal.teams.models import ProjectState, TeamRole

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
        "project.manage_team": (
            lambda user, project: (
                project is not None
                and (
                    is_staff(user)
                    or (team_role(user, project) == TeamRole.LEAD and project.state == ProjectState.ACTIVE)
                )
            ),
            "Only the project's lead and programme staff can change who is on the team, while the project runs.",
        ),
    }
)

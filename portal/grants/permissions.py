"""Rules for funding rounds, applications, panel reviews and pilot projects, by state."""

from __future__ import annotations

from typing import Any

from portal.accounts.services import normalise_email
from portal.core.extensions import db
from portal.core.permissions import can, is_staff, register, signed_in
from portal.grants.access import has_submitted_review, leads_application, may_review, on_application_team
from portal.grants.models import Application, Invitation
from portal.grants.models import ApplicationState as A
from portal.teams.access import team_role
from portal.teams.models import Project, ProjectState

STAFF_ONLY = "This is for programme staff."


def staff(user: Any, obj: Any) -> bool:
    return is_staff(user)


def view_application(user: Any, app: Any) -> bool:
    return (
        signed_in(user)
        and app is not None
        and (
            is_staff(user)
            or on_application_team(user, app)
            # reviewers see an application once it is sent, never a draft
            or (app.state != A.DRAFT and may_review(user, app))
        )
    )


TEAM_CHANGING_STATES = (A.DRAFT, A.SUBMITTED, A.UNDER_REVIEW)


def manages_application_team(user: Any, app: Any) -> bool:
    return (
        app is not None
        and (is_staff(user) or leads_application(user, app))
        and signed_in(user)
        and app.state in TEAM_CHANGING_STATES
    )


def manages_team_of(user: Any, invitation: Invitation | None) -> bool:
    """The inviting side: staff, or whoever may change the team the invitation is to."""
    if invitation is None or not signed_in(user):
        return False
    if is_staff(user):
        return True
    if invitation.project_id is not None:
        return can(user, "project.manage_team", db.session.get(Project, invitation.project_id))
    return leads_application(user, db.session.get(Application, invitation.application_id))


def addressed_to(user: Any, invitation: Invitation | None) -> bool:
    return signed_in(user) and invitation is not None and normalise_email(user.email) == invitation.email


register(
    {
        "phases.manage": (staff, STAFF_ONLY),
        "panel.manage": (staff, STAFF_ONLY),
        "grants.dashboard": (staff, STAFF_ONLY),
        "grants.export": (staff, STAFF_ONLY),
        "applications.start": lambda user, obj: signed_in(user),
        "reviews.mine": lambda user, obj: signed_in(user),
        "projects.mine": lambda user, obj: signed_in(user),
        "application.view": (
            view_application,
            "Only the applying team, its assigned reviewers and programme staff can see this application.",
        ),
        "application.edit": (
            lambda user, app: on_application_team(user, app) and app.state == A.DRAFT,
            "Only the applying team can change an application, while it is a draft.",
        ),
        "application.history": (
            lambda user, app: (
                signed_in(user) and app is not None and (is_staff(user) or on_application_team(user, app))
            ),
            "Only the applying team and programme staff can see an application's saved versions.",
        ),
        "application.submit": (
            lambda user, app: leads_application(user, app) and app.state == A.DRAFT,
            "Only the lead applicant can send an application, while it is a draft.",
        ),
        "application.invite": (
            lambda user, app: (
                app is not None
                and (leads_application(user, app) or is_staff(user))
                and app.state in (A.DRAFT, A.SUBMITTED)
            ),
            "Only the application's leads and programme staff can invite people, before the panel starts.",
        ),
        "application.manage_team": (
            manages_application_team,
            "Only the application's leads and programme staff can change its team, before the decision. "
            "After an award, change the team on the pilot project's page.",
        ),
        "invitations.mine": lambda user, obj: signed_in(user),
        "invitation.view": (
            lambda user, invitation: addressed_to(user, invitation) or manages_team_of(user, invitation),
            "This invitation was sent to another email address. Sign in with that address to answer it.",
        ),
        "invitation.answer": (
            addressed_to,
            "This invitation was sent to another email address. Sign in with that address to answer it.",
        ),
        "invitation.withdraw": (
            lambda user, invitation: (
                manages_team_of(user, invitation) or (signed_in(user) and invitation.invited_by_id == user.id)
            ),
            "Only whoever sent the invitation, the team's leads and programme staff can withdraw it.",
        ),
        "application.withdraw": (
            lambda user, app: leads_application(user, app) and app.state in (A.DRAFT, A.SUBMITTED, A.UNDER_REVIEW),
            "Only the lead applicant can withdraw an application, before a decision.",
        ),
        "application.review": (
            lambda user, app: may_review(user, app) and app.state in (A.SUBMITTED, A.UNDER_REVIEW),
            "Only an assigned reviewer with no conflict of interest can review this application.",
        ),
        "application.see_all_reviews": (
            lambda user, app: is_staff(user) or has_submitted_review(user, app),
            "Other reviewers' scores are shown once you have sent your own review.",
        ),
        "project.view": (
            lambda user, project: (
                signed_in(user) and project is not None and (is_staff(user) or team_role(user, project) is not None)
            ),
            "Only the project's team and programme staff can see this project.",
        ),
        "project.report": (
            lambda user, project: team_role(user, project) is not None and project.state == ProjectState.ACTIVE,
            "Only the team of a running project can write its reports.",
        ),
        "project.manage": (staff, STAFF_ONLY),
        "report.history": (
            lambda user, project: (
                signed_in(user) and project is not None and (is_staff(user) or team_role(user, project) is not None)
            ),
            "Only the project's team and programme staff can see the saved versions of its reports.",
        ),
    }
)

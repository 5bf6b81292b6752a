"""Invitations to a team: offers, by email, that the invited person accepts or declines.

A lead (or staff) invites an address to an application's team or, after the award, to the
project's team. The person answers signed in with that address, once they have confirmed they
own it; nobody joins a team just by signing in. The inviter is told the answer. An invitation
can be answered until ``expires_at`` (``INVITATION_EXPIRY_DAYS`` after it was sent) and
withdrawn while it waits. Every change is audited, in the caller's transaction.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import joinedload

from portal.accounts.models import User
from portal.accounts.services import normalise_email
from portal.accounts.verification import require_verified
from portal.core import audit, outbox, permissions
from portal.core.errors import NotAllowed, RuleBroken
from portal.core.extensions import db
from portal.core.formatting import local_date
from portal.grants import application_team
from portal.grants.models import Application, ApplicationMember, ApplicationState, Invitation, InvitationState
from portal.notifications.service import notify
from portal.teams import management
from portal.teams.models import Project, ProjectState, TeamMembership

MAX_LISTED = 50  # invitations shown on a team's page, newest first
FINISHED_APPLICATIONS = (ApplicationState.DECLINED, ApplicationState.WITHDRAWN)


@dataclass(frozen=True)
class Team:
    """Whose team an invitation is to: an application's or a project's, with words and a link."""

    application: Application | None
    project: Project | None

    @property
    def name(self) -> str:
        if self.project is not None:
            return f"the pilot project '{self.project.title}'"
        assert self.application is not None
        title = self.application.title
        return f"the application '{title}'" if title else "an untitled application"

    @property
    def url_path(self) -> str:
        if self.project is not None:
            return f"/projects/{self.project.id}"
        assert self.application is not None
        return f"/applications/{self.application.id}"


def team_of(invitation: Invitation) -> Team:
    if invitation.project_id is not None:
        return Team(None, db.session.get_one(Project, invitation.project_id))
    return Team(db.session.get_one(Application, invitation.application_id), None)


def _require(user: User, rule: str, obj: Any) -> None:
    if not permissions.can(user, rule, obj):
        raise NotAllowed(permissions.refusal(user, rule, obj) or f"{rule} refused")


def addressed_to(user: Any, invitation: Invitation) -> bool:
    return normalise_email(user.email) == invitation.email


# --- inviting -----------------------------------------------------------------------------------


def _check_address(email: str) -> str:
    email = normalise_email(email)
    local, _, domain = email.partition("@")
    if not local or "." not in domain or " " in email or len(email) > 254:
        raise RuleBroken("email", "Enter an email address in the right format, like name@example.com.")
    return email


def _already_waiting(email: str, now: datetime, *, application_id: int | None, project_id: int | None) -> bool:
    where = (
        Invitation.application_id == application_id
        if application_id is not None
        else Invitation.project_id == project_id
    )
    return (
        db.session.scalar(
            sa.select(Invitation.id)
            .where(
                where,
                Invitation.email == email,
                Invitation.state == InvitationState.PENDING,
                Invitation.expires_at > now,
            )
            .limit(1)
        )
        is not None
    )


def _on_team(email: str, team: Team) -> bool:
    if team.project is not None:
        query = sa.select(TeamMembership.id).where(TeamMembership.project_id == team.project.id)
        member = TeamMembership
    else:
        assert team.application is not None
        query = sa.select(ApplicationMember.id).where(ApplicationMember.application_id == team.application.id)
        member = ApplicationMember  # type: ignore[assignment]  # the same user_id column on both
    on_team = db.session.scalar(query.join(User, User.id == member.user_id).where(User.email == email).limit(1))
    return on_team is not None


def invite(team: Team, *, by: User, email: str, now: datetime, expiry_days: int, base_url: str = "") -> Invitation:
    """Offer a place on the team to an address, and email it a link to answer."""
    if team.project is not None:
        _require(by, "project.manage_team", team.project)
    else:
        _require(by, "application.invite", team.application)
    if team.project is not None and team.project.state == ProjectState.CLOSED:
        raise RuleBroken("email", "This project has closed, so nobody new can join its team.")
    email = _check_address(email)
    if _on_team(email, team):
        raise RuleBroken("email", f"{email} is already on this team.")
    application_id = team.application.id if team.application is not None else None
    project_id = team.project.id if team.project is not None else None
    if _already_waiting(email, now, application_id=application_id, project_id=project_id):
        raise RuleBroken(
            "email", f"You have already invited {email}, and the invitation is still waiting for an answer."
        )
    invitation = Invitation(
        application_id=application_id,
        project_id=project_id,
        email=email,
        invited_by_id=by.id,
        created_at=now,
        expires_at=now + timedelta(days=expiry_days),
        state=InvitationState.PENDING,
    )
    db.session.add(invitation)
    db.session.flush()
    audit.record(
        "invitation.sent",
        invitation,
        actor=by,
        after={"email": email, "application": application_id, "project": project_id},
    )
    link = f"{base_url.rstrip('/')}/invitations/{invitation.id}"
    outbox.enqueue(
        "team_invitation",
        email,
        "You are invited to join a team in the Co-Production Portal",
        f"Hello,\n\n{by.name} has invited you to join the team for {team.name}.\n\n"
        f"To accept or decline, open this link and sign in with this email address ({email}). If you do "
        "not have an account yet, create one with this address and confirm it with the link we send you:\n"
        f"{link}\n\n"
        f"The invitation can be answered until {local_date(invitation.expires_at)}. If you were not "
        "expecting it, you can ignore this email.\n",
    )
    return invitation


# --- answering ----------------------------------------------------------------------------------


def _answerable(invitation: Invitation, team: Team, now: datetime) -> None:
    status = invitation.status(now)
    if status == "expired":
        raise RuleBroken(
            "invitation",
            f"This invitation expired on {local_date(invitation.expires_at)}. Ask whoever invited you to send a new one.",
        )
    if status != "pending":
        raise RuleBroken("invitation", f"This invitation has already been {status}, so it cannot be answered.")
    if team.application is not None and team.application.state in FINISHED_APPLICATIONS:
        raise RuleBroken("invitation", "This application is no longer going ahead, so its team cannot be joined.")
    if team.project is not None and team.project.state == ProjectState.CLOSED:
        raise RuleBroken("invitation", "This project has closed, so its team cannot be joined.")


def _answer_checks(invitation: Invitation, by: User, now: datetime) -> Team:
    _require(by, "invitation.answer", invitation)
    require_verified(by, field="invitation")
    team = team_of(invitation)
    _answerable(invitation, team, now)
    return team


def _tell_inviter(invitation: Invitation, team: Team, *, by: User, accepted: bool) -> None:
    inviter = db.session.get_one(User, invitation.invited_by_id)
    answer = "accepted" if accepted else "declined"
    body = f"{by.name} ({invitation.email}) {answer} your invitation to join the team for {team.name}."
    if accepted:
        body += " They are on the team now."
    notify(inviter, "team", f"{by.name} {answer} your invitation to {team.name}", body, team.url_path)


def accept(invitation: Invitation, *, by: User, now: datetime) -> Team:
    """Join the team (and, for an application already awarded, its project's team too)."""
    team = _answer_checks(invitation, by, now)
    if team.application is not None:
        application_team.add_member(team.application, by, by=by)
        project = db.session.scalar(sa.select(Project).where(Project.application_id == team.application.id))
        if project is not None:
            management.add_member(project, by, by=by)
    else:
        assert team.project is not None
        management.add_member(team.project, by, by=by)
    invitation.state = InvitationState.ACCEPTED
    invitation.accepted_at = now
    audit.record("invitation.accepted", invitation, actor=by, after={"user": by.id})
    _tell_inviter(invitation, team, by=by, accepted=True)
    return team


def decline(invitation: Invitation, *, by: User, now: datetime) -> Team:
    team = _answer_checks(invitation, by, now)
    invitation.state = InvitationState.DECLINED
    invitation.closed_at = now
    invitation.closed_by_id = by.id
    audit.record("invitation.declined", invitation, actor=by, after={"user": by.id})
    _tell_inviter(invitation, team, by=by, accepted=False)
    return team


def withdraw(invitation: Invitation, *, by: User, now: datetime) -> Team:
    _require(by, "invitation.withdraw", invitation)
    if invitation.status(now) != "pending":
        raise RuleBroken("invitation", "Only an invitation still waiting for an answer can be withdrawn.")
    invitation.state = InvitationState.WITHDRAWN
    invitation.closed_at = now
    invitation.closed_by_id = by.id
    audit.record("invitation.withdrawn", invitation, actor=by, after={"email": invitation.email})
    return team_of(invitation)


# --- lists --------------------------------------------------------------------------------------


def of_application(application_id: int) -> list[Invitation]:
    return _listed(Invitation.application_id == application_id)


def of_project(project_id: int) -> list[Invitation]:
    return _listed(Invitation.project_id == project_id)


def _listed(where: sa.ColumnElement[bool]) -> list[Invitation]:
    return list(db.session.scalars(sa.select(Invitation).where(where).order_by(Invitation.id.desc()).limit(MAX_LISTED)))


def pending_query(now: datetime) -> sa.Select[Invitation, Application, Project]:
    """Invitations waiting for an answer and not expired, with their team (the reminder job, the dashboard)."""
    return (
        sa.select(Invitation, Application, Project)
        .outerjoin(Application, Application.id == Invitation.application_id)
        .outerjoin(Project, Project.id == Invitation.project_id)
        .where(Invitation.state == InvitationState.PENDING, Invitation.expires_at > now)
        .where(
            sa.or_(
                Application.state.not_in(FINISHED_APPLICATIONS),
                Project.state == ProjectState.ACTIVE,
            )
        )
        .order_by(Invitation.id)
    )


@dataclass(frozen=True)
class Waiting:
    invitation: Invitation
    team: Team
    inviter: User


def waiting_for(user: User, now: datetime, *, limit: int = 20) -> list[Waiting]:
    """Invitations to this person's address that they can still answer, oldest first."""
    rows = db.session.execute(
        pending_query(now)
        .where(Invitation.email == normalise_email(user.email))
        .options(joinedload(Invitation.invited_by))
        .limit(limit)
    ).all()
    return [
        Waiting(invitation, Team(application, project), invitation.invited_by)
        for invitation, application, project in rows
    ]


def waiting_count(user: User, now: datetime) -> int:
    query = pending_query(now).where(Invitation.email == normalise_email(user.email))
    return db.session.scalar(sa.select(sa.func.count()).select_from(query.subquery())) or 0

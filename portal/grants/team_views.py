"""Teams of applications and projects: inviting, answering an invitation, withdrawing it, and a
member's page (change their role) with its confirmation page for removing them.

Every form posts with its CSRF token and works without JavaScript; removing someone asks first
on a page of its own.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from flask import abort, current_app, url_for
from flask_login import current_user
from werkzeug.wrappers import Response

from portal.accounts.models import User
from portal.core.changes import apply, done
from portal.core.confirm import Confirmation, ask, confirmed
from portal.core.db import utcnow
from portal.core.errors import RuleBroken
from portal.core.extensions import db
from portal.core.permissions import permission_required, require
from portal.core.web import render
from portal.grants import application_team, bp, invitations
from portal.grants.application_views import application_or_404, application_page, attempt
from portal.grants.forms import ActionForm, InviteForm, RoleForm
from portal.grants.invitations import Team
from portal.grants.models import INVITATION_STATUS_LABELS, Application, Invitation
from portal.grants.project_views import project_or_404, project_page
from portal.teams import management
from portal.teams.models import Project, TeamRole


@bp.app_template_global()
def invitation_label(state: str) -> str:
    """Words for an invitation's status (``Invitation.status``)."""
    return INVITATION_STATUS_LABELS[state]


# --- inviting ---------------------------------------------------------------------------------------


def _invite(team: Team, form: InviteForm) -> Any:
    return apply(
        form,
        lambda: invitations.invite(
            team,
            by=current_user,
            email=form.email.data or "",
            now=utcnow(),
            expiry_days=current_app.config["INVITATION_EXPIRY_DAYS"],
            base_url=current_app.config["BASE_URL"],
        ),
    )


def _invited(url: str, invitation: Invitation) -> Response:
    return done(
        url,
        f"We have emailed {invitation.email}. They join the team when they accept, signed in with that address.",
    )


@bp.route("/applications/<int:application_id>/invite", methods=["POST"], endpoint="invite")
@permission_required("applications.start")
def invite_to_application(application_id: int) -> Response:
    application = application_or_404(application_id)
    require("application.invite", application)
    form = InviteForm()
    outcome = _invite(Team(application, None), form)
    if outcome:
        return _invited(url_for("grants.application", application_id=application_id, _anchor="team"), outcome.result)
    return application_page(application_or_404(application_id), status=422, invite_form=form)


@bp.route("/projects/<int:project_id>/invite", methods=["POST"], endpoint="project_invite")
@permission_required("projects.mine")
def invite_to_project(project_id: int) -> Response:
    project = project_or_404(project_id)
    require("project.manage_team", project)
    form = InviteForm()
    outcome = _invite(Team(None, project), form)
    if outcome:
        return _invited(url_for("grants.project", project_id=project_id, _anchor="team"), outcome.result)
    return project_page(project_or_404(project_id), status=422, invite_form=form)


# --- one invitation: the invitee answers, the inviting side withdraws ----------------------------------


def _invitation_or_404(invitation_id: int) -> Invitation:
    invitation = db.session.get(Invitation, invitation_id, populate_existing=True)
    if invitation is None:
        abort(404)
    return invitation


def _invitation_page(invitation: Invitation, *, status: int = 200, error: RuleBroken | None = None) -> Response:
    team = invitations.team_of(invitation)
    now = utcnow()
    return render(
        "grants/team/invitation.html",
        status=status,
        invitation=invitation,
        team=team,
        inviter=db.session.get_one(User, invitation.invited_by_id),
        state=invitation.status(now),
        for_me=invitations.addressed_to(current_user, invitation),
        error=error,
        action_form=ActionForm(formdata=None),
        title="An invitation to join a team",
    )


@bp.route("/invitations/<int:invitation_id>", endpoint="invitation")
@permission_required("invitations.mine")
def show_invitation(invitation_id: int) -> Response:
    invitation = _invitation_or_404(invitation_id)
    require("invitation.view", invitation)
    return _invitation_page(invitation)


@bp.route("/invitations/<int:invitation_id>/accept", methods=["POST"], endpoint="accept_invitation")
@permission_required("invitations.mine")
def accept_invitation(invitation_id: int) -> Response:
    invitation = _invitation_or_404(invitation_id)
    require("invitation.answer", invitation)
    if not ActionForm().validate_on_submit():
        abort(400)
    outcome = attempt(lambda: invitations.accept(invitation, by=current_user, now=utcnow()))
    if outcome:
        team = outcome.result
        return done(team.url_path, f"You have joined the team for {team.name}. We have told whoever invited you.")
    return _invitation_page(_invitation_or_404(invitation_id), status=422, error=outcome.error)


@bp.route("/invitations/<int:invitation_id>/decline", methods=["POST"], endpoint="decline_invitation")
@permission_required("invitations.mine")
def decline_invitation(invitation_id: int) -> Response:
    invitation = _invitation_or_404(invitation_id)
    require("invitation.answer", invitation)
    if not ActionForm().validate_on_submit():
        abort(400)
    outcome = attempt(lambda: invitations.decline(invitation, by=current_user, now=utcnow()))
    if outcome:
        message = f"You have declined the invitation to {outcome.result.name}. We have told whoever invited you."
        return done(url_for("main.dashboard"), message)
    return _invitation_page(_invitation_or_404(invitation_id), status=422, error=outcome.error)


@bp.route("/invitations/<int:invitation_id>/withdraw", methods=["POST"], endpoint="withdraw_invitation")
@permission_required("invitations.mine")
def withdraw_invitation(invitation_id: int) -> Response:
    invitation = _invitation_or_404(invitation_id)
    require("invitation.withdraw", invitation)
    if not ActionForm().validate_on_submit():
        abort(400)
    outcome = attempt(lambda: invitations.withdraw(invitation, by=current_user, now=utcnow()))
    if outcome:
        url = outcome.result.url_path + "#team"
        return done(url, f"The invitation to {invitation.email} is withdrawn. It can no longer be accepted.")
    return _invitation_page(_invitation_or_404(invitation_id), status=422, error=outcome.error)


# --- a member of a team: their role, and removing them --------------------------------------------------


@dataclass(frozen=True)
class TeamPlace:
    """One member of one team, with the functions that change them there."""

    team: Team
    person: User
    role: TeamRole
    change_role: Callable[[TeamRole], Any]
    remove: Callable[[], Any]
    member_url: str
    remove_url: str
    leaves: str  # what they lose when removed, in the confirmation's words


def _person_or_404(user_id: int) -> User:
    person = db.session.get(User, user_id)
    if person is None:
        abort(404)
    return person


def _application_place(application: Application, user_id: int) -> TeamPlace:
    require("application.manage_team", application)
    person = _person_or_404(user_id)
    member = application_team.membership(application, person.id)
    if member is None:
        abort(404)
    return TeamPlace(
        team=Team(application, None),
        person=person,
        role=member.role,
        change_role=lambda role: application_team.change_role(application, person, role=role, by=current_user),
        remove=lambda: application_team.remove_member(application, person, by=current_user),
        member_url=url_for("grants.application_member", application_id=application.id, user_id=person.id),
        remove_url=url_for("grants.application_member_remove", application_id=application.id, user_id=person.id),
        leaves="They will no longer be able to see or change this application.",
    )


def _project_place(project: Project, user_id: int) -> TeamPlace:
    require("project.manage_team", project)
    person = _person_or_404(user_id)
    member = management.membership(project, person.id)
    if member is None:
        abort(404)
    return TeamPlace(
        team=Team(None, project),
        person=person,
        role=member.role,
        change_role=lambda role: management.change_role(project, person, role=role, by=current_user),
        remove=lambda: management.remove_member(project, person, by=current_user),
        member_url=url_for("grants.project_member", project_id=project.id, user_id=person.id),
        remove_url=url_for("grants.project_member_remove", project_id=project.id, user_id=person.id),
        leaves="They will lose access to the project's pages, reports and budget at once.",
    )


def _member_page(place: TeamPlace, form: RoleForm, *, status: int = 200) -> Response:
    return render(
        "grants/team/member.html",
        status=status,
        place=place,
        form=form,
        title=f"{place.person.name} on the team for {place.team.name}",
    )


def _member(place: TeamPlace, reload: Callable[[], TeamPlace]) -> Response:
    form = RoleForm(data={"role": place.role.value})
    if not form.is_submitted():
        return _member_page(place, form)
    form = RoleForm()
    outcome = apply(form, lambda: place.change_role(form.chosen))
    if outcome:
        words = management.ROLE_WORDS[form.chosen]
        return done(
            place.team.url_path + "#team", f"{place.person.name} is now {words} of the team. We have told them."
        )
    return _member_page(reload(), form, status=422)


def _removal_question(place: TeamPlace, problem: str = "") -> Confirmation:
    return Confirmation(
        title=f"Remove {place.person.name} from the team?",
        will=[
            f"This will remove {place.person.name} from the team for {place.team.name}. {place.leaves}",
            f"We will tell 1 person: {place.person.name}. To have them back, invite them again.",
        ],
        button=f"Yes, remove {place.person.name}",
        action=place.remove_url,
        cancel=place.member_url,
        cancel_label="No, keep them on the team",
        problem=problem,
    )


def _remove(place: TeamPlace, reload: Callable[[], TeamPlace]) -> Response:
    if not confirmed():  # the page that asks; a POST from an old one-click button lands here too
        return ask(_removal_question(place))
    if not ActionForm().validate_on_submit():
        abort(400)
    outcome = attempt(place.remove)
    if outcome and place.person.id == current_user.id:  # they can no longer open the team's page
        return done(url_for("main.dashboard"), f"You are no longer on the team for {place.team.name}.")
    if outcome:
        return done(place.team.url_path + "#team", f"{place.person.name} is no longer on the team. We have told them.")
    problem = outcome.error.message if outcome.error is not None else ""
    return ask(_removal_question(reload(), problem), status=422)


@bp.route(
    "/applications/<int:application_id>/team/<int:user_id>", methods=["GET", "POST"], endpoint="application_member"
)
@permission_required("applications.start")
def application_member(application_id: int, user_id: int) -> Response:
    place = _application_place(application_or_404(application_id), user_id)
    return _member(place, lambda: _application_place(application_or_404(application_id), user_id))


@bp.route(
    "/applications/<int:application_id>/team/<int:user_id>/remove",
    methods=["GET", "POST"],
    endpoint="application_member_remove",
)
@permission_required("applications.start")
def remove_application_member(application_id: int, user_id: int) -> Response:
    place = _application_place(application_or_404(application_id), user_id)
    return _remove(place, lambda: _application_place(application_or_404(application_id), user_id))


@bp.route("/projects/<int:project_id>/team/<int:user_id>", methods=["GET", "POST"], endpoint="project_member")
@permission_required("projects.mine")
def project_member(project_id: int, user_id: int) -> Response:
    place = _project_place(project_or_404(project_id), user_id)
    return _member(place, lambda: _project_place(project_or_404(project_id), user_id))


@bp.route(
    "/projects/<int:project_id>/team/<int:user_id>/remove", methods=["GET", "POST"], endpoint="project_member_remove"
)
@permission_required("projects.mine")
def remove_project_member(project_id: int, user_id: int) -> Response:
    place = _project_place(project_or_404(project_id), user_id)
    return _remove(place, lambda: _project_place(project_or_404(project_id), user_id))

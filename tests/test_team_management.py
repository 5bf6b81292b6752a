"""Team management: leads and staff change a member's role and remove them, on a project and on
an application; a removed member loses access at once; a team always keeps a lead."""

from __future__ import annotations

import html
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask

from portal.accounts.models import User
from portal.core.audit import AuditEntry
from portal.core.errors import RuleBroken
from portal.core.extensions import db
from portal.grants import application_team, applications
from portal.grants.models import Application, ApplicationState
from portal.notifications.models import Notification
from portal.teams import management
from portal.teams.models import Project, ProjectState, TeamMembership, TeamRole
from tests import factories
from tests.factories import make_application, make_phase
from tests.helpers import client_for, text_of


def words(response: Any) -> str:
    return html.unescape(text_of(response))


def role_on(project: Project, user: User) -> TeamRole | None:
    db.session.expire_all()
    return db.session.scalar(
        sa.select(TeamMembership.role).where(TeamMembership.project_id == project.id, TeamMembership.user_id == user.id)
    )


def told(user: User) -> list[str]:
    return list(
        db.session.scalars(
            sa.select(Notification.subject)
            .where(Notification.recipient_id == user.id, Notification.kind == "team")
            .order_by(Notification.id)
        )
    )


def audited(action: str) -> list[AuditEntry]:
    return list(db.session.scalars(sa.select(AuditEntry).where(AuditEntry.action == action)))


@pytest.fixture
def lead(app: Flask) -> User:
    return factories.user(name="Lena Lead")


@pytest.fixture
def member(app: Flask) -> User:
    return factories.user(name="Mo Member")


@pytest.fixture
def project(lead: User, member: User) -> Project:
    return factories.project(title="Recovery cafés", lead=lead, members=(member,))


# --- a project's team ------------------------------------------------------------------------------


def test_removing_a_member_takes_their_access_at_once(app: Flask, lead: User, member: User, project: Project) -> None:
    theirs = client_for(app, member)
    assert theirs.get(f"/projects/{project.id}").status_code == 200
    lead_client = client_for(app, lead)

    confirm = lead_client.get(f"/projects/{project.id}/team/{member.id}/remove")
    assert confirm.status_code == 200 and "Remove Mo Member from the team?" in words(confirm)
    assert role_on(project, member) == TeamRole.MEMBER  # asking removes nobody

    removed = lead_client.post(f"/projects/{project.id}/team/{member.id}/remove", data={"confirm": "yes"})
    assert removed.status_code == 303 and removed.headers["Location"].endswith(f"/projects/{project.id}#team")
    assert role_on(project, member) is None
    assert theirs.get(f"/projects/{project.id}").status_code == 403  # the same session, the next request
    assert theirs.post(f"/projects/{project.id}/milestones", data={"title": "x"}).status_code == 403
    [entry] = audited("project.member_removed")
    assert (entry.actor_id, entry.object_id, entry.before) == (
        lead.id,
        str(project.id),
        {"user": member.id, "role": "member"},
    )
    assert told(member) == ["You are no longer on the team for 'Recovery cafés'"]


def test_the_last_lead_cannot_be_removed_or_made_a_member(
    app: Flask, lead: User, member: User, project: Project
) -> None:
    client = client_for(app, lead)
    refused = client.post(f"/projects/{project.id}/team/{lead.id}/remove", data={"confirm": "yes"})
    assert refused.status_code == 422
    assert "Lena Lead is the only lead of this team. Make someone else a lead first" in words(refused)
    demoted = client.post(f"/projects/{project.id}/team/{lead.id}", data={"role": "member"})
    assert demoted.status_code == 422
    page = demoted.get_data(as_text=True)
    assert 'id="role-error"' in page and "Make someone else a lead first" in html.unescape(page)
    assert role_on(project, lead) == TeamRole.LEAD
    assert audited("project.member_removed") == [] and audited("project.member_role_changed") == []

    # Name another lead first, and then the first one can step down.
    assert client.post(f"/projects/{project.id}/team/{member.id}", data={"role": "lead"}).status_code == 303
    assert client.post(f"/projects/{project.id}/team/{lead.id}", data={"role": "member"}).status_code == 303
    assert (role_on(project, member), role_on(project, lead)) == (TeamRole.LEAD, TeamRole.MEMBER)


def test_a_role_change_is_audited_and_the_person_told(app: Flask, lead: User, member: User, project: Project) -> None:
    response = client_for(app, lead).post(f"/projects/{project.id}/team/{member.id}", data={"role": "lead"})
    assert response.status_code == 303
    assert told(member) == ["You are now a lead of the team for 'Recovery cafés'"]
    [entry] = audited("project.member_role_changed")
    assert (entry.before, entry.after) == ({"user": member.id, "role": "member"}, {"user": member.id, "role": "lead"})
    assert client_for(app, member).get(f"/projects/{project.id}/team/{lead.id}").status_code == 200  # a lead now


def test_the_member_page_and_bad_input(app: Flask, lead: User, member: User, project: Project) -> None:
    client = client_for(app, lead)
    page = client.get(f"/projects/{project.id}/team/{member.id}")
    assert page.status_code == 200 and "Mo Member is a member of the team" in words(page)
    for bad in ({}, {"role": "owner"}):
        response = client.post(f"/projects/{project.id}/team/{member.id}", data=bad)
        assert response.status_code == 422 and "Choose lead or member." in words(response)
    same = client.post(f"/projects/{project.id}/team/{member.id}", data={"role": "member"})
    assert same.status_code == 422 and "already a member" in words(same)
    stranger = factories.user()
    assert client.get(f"/projects/{project.id}/team/{stranger.id}").status_code == 404
    assert client.get(f"/projects/{project.id}/team/999999").status_code == 404
    assert told(member) == []


def test_who_may_manage_a_projects_team(
    app: Flask, users: dict[str, Any], lead: User, member: User, project: Project
) -> None:
    other_lead = factories.user()
    factories.project(title="Another pilot", lead=other_lead)
    for person in (member, other_lead, users["member"]):
        client = client_for(app, person)
        assert client.get(f"/projects/{project.id}/team/{lead.id}").status_code == 403
        assert client.post(f"/projects/{project.id}/team/{lead.id}/remove", data={"confirm": "yes"}).status_code == 403
        assert client.post(f"/projects/{project.id}/team/{lead.id}", data={"role": "member"}).status_code == 403
    staff = client_for(app, users["staff"])
    assert staff.post(f"/projects/{project.id}/team/{member.id}/remove", data={"confirm": "yes"}).status_code == 303
    assert role_on(project, member) is None
    # A closed project's team is kept as it was by its lead; staff can still correct it.
    project.state = ProjectState.CLOSED
    db.session.commit()
    assert client_for(app, lead).get(f"/projects/{project.id}/team/{lead.id}").status_code == 403


def test_the_project_page_links_each_member_for_those_who_manage(
    app: Flask, lead: User, member: User, project: Project
) -> None:
    as_lead = client_for(app, lead).get(f"/projects/{project.id}").get_data(as_text=True)
    assert f"/projects/{project.id}/team/{member.id}" in as_lead and "Invite someone to the team" in as_lead
    as_member = client_for(app, member).get(f"/projects/{project.id}").get_data(as_text=True)
    assert f"/projects/{project.id}/team/" not in as_member and "Invite someone" not in as_member


def test_service_rules(app: Flask, lead: User, member: User, project: Project) -> None:
    with pytest.raises(RuleBroken, match="only lead") as error:
        management.remove_member(project, lead, by=lead)
    assert error.value.field == "member"
    outsider = factories.user()
    with pytest.raises(RuleBroken, match="not on this team"):
        management.change_role(project, outsider, role=TeamRole.LEAD, by=lead)
    assert management.add_member(project, member, by=lead).role == TeamRole.MEMBER  # already on: kept as is


# --- an application's team -----------------------------------------------------------------------------


@pytest.fixture
def application(lead: User, member: User) -> Application:
    return make_application(make_phase(), lead, members=(member,))


def on_application(application: Application) -> dict[str, TeamRole]:
    db.session.expire_all()
    return {person.name: role for person, role in applications.team_of(application.id)}


def test_removing_an_application_member(app: Flask, lead: User, member: User, application: Application) -> None:
    theirs = client_for(app, member)
    assert theirs.get(f"/applications/{application.id}/edit").status_code == 200
    client = client_for(app, lead)
    assert "Remove Mo Member from the team?" in words(
        client.get(f"/applications/{application.id}/team/{member.id}/remove")
    )
    assert (
        client.post(f"/applications/{application.id}/team/{member.id}/remove", data={"confirm": "yes"}).status_code
        == 303
    )
    assert "Mo Member" not in on_application(application)
    assert theirs.get(f"/applications/{application.id}").status_code == 403
    assert theirs.post(f"/applications/{application.id}/edit", data={"title": "Mine now"}).status_code == 403
    assert [entry.before for entry in audited("application.member_removed")] == [{"user": member.id, "role": "member"}]
    assert told(member) == ["You are no longer on the team for 'Peer-led recovery cafés'"]


def test_the_lead_applicant_hands_over_by_naming_another_lead_first(
    app: Flask, lead: User, member: User, application: Application
) -> None:
    client = client_for(app, lead)
    refused = client.post(f"/applications/{application.id}/team/{lead.id}", data={"role": "member"})
    assert refused.status_code == 422 and "Lena Lead is the only lead of this team" in words(refused)
    assert client.post(f"/applications/{application.id}/team/{member.id}", data={"role": "lead"}).status_code == 303
    assert told(member) == ["You are now a lead of the team for 'Peer-led recovery cafés'"]
    left = client.post(f"/applications/{application.id}/team/{lead.id}/remove", data={"confirm": "yes"})
    assert left.status_code == 303 and left.headers["Location"].endswith("/dashboard")  # not a 403 page
    db.session.expire_all()
    application = db.session.get_one(Application, application.id)
    assert application.lead_id == member.id  # the lead applicant is now the other lead
    assert on_application(application) == {"Mo Member": TeamRole.LEAD}
    assert client.get(f"/applications/{application.id}").status_code == 403
    new_lead = client_for(app, member)
    assert new_lead.post(f"/applications/{application.id}/invite", data={"email": "x@example.test"}).status_code == 303


def test_after_the_award_the_team_is_changed_on_the_project(
    app: Flask, lead: User, member: User, application: Application
) -> None:
    application.state = ApplicationState.AWARDED
    db.session.commit()
    response = client_for(app, lead).get(f"/applications/{application.id}/team/{member.id}")
    assert response.status_code == 403 and "change the team on the pilot project" in words(response)
    with pytest.raises(RuleBroken, match="only lead"):
        application_team.remove_member(application, lead, by=lead)

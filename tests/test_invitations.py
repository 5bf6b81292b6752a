"""Invitations are offers: nobody joins a team by signing up or in with an invited address; the
verified owner of the address accepts or declines, and the inviter is told. Invitations expire,
can be withdrawn, and cannot be answered by anyone else."""

from __future__ import annotations

import html
import re
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from flask_migrate import upgrade

from portal.accounts.models import User
from portal.accounts.verification import VERIFY_FIRST
from portal.core.audit import AuditEntry
from portal.core.config import sqlalchemy_url
from portal.core.db import utcnow
from portal.core.errors import NotAllowed, RuleBroken
from portal.core.extensions import db
from portal.core.outbox import OutboxMessage
from portal.grants import applications, invitations, schedule
from portal.grants.invitations import Team
from portal.grants.models import Application, ApplicationState, Invitation, InvitationState
from portal.notifications.models import Notification
from portal.teams.models import Project, ProjectState, TeamMembership, TeamRole
from tests import factories
from tests.factories import make_application, make_phase
from tests.helpers import (
    TEST_DATABASE_URL,
    client_for,
    drop_schema,
    in_schema,
    make_app,
    recreate_schema,
    sign_in,
    text_of,
    worker_name,
)

NEWCOMER = "newcomer@example.test"
PASSWORD = "a long enough password 2026"
SCHEMA = f"invitations_migration_{worker_name()}"  # beside this worker's test schema, never in it


def invite(application: Application | None, by: User, email: str, *, project: Project | None = None) -> Invitation:
    made = invitations.invite(
        Team(application, project), by=by, email=email, now=utcnow(), expiry_days=14, base_url="http://portal.test"
    )
    db.session.commit()
    return made


def words(response: Any) -> str:
    """The page's words as a person reads them (entities such as &#39; turned back into characters)."""
    return html.unescape(text_of(response))


def sign_up(app: Flask, email: str) -> Any:
    """A new client that signed up, through the form, with ``email`` (so unverified)."""
    client = app.test_client()
    response = client.post(
        "/account/sign-up", data={"name": "New Comer", "email": email, "password": PASSWORD, "confirm": PASSWORD}
    )
    assert "Check your email" in response.get_data(as_text=True)
    assert sign_in(client, email, PASSWORD).status_code == 303  # an unverified account may sign in, and do little
    return client


def confirmation_link(email: str) -> str:
    """The path of the confirmation link in the last email sent to ``email``."""
    message = db.session.scalars(
        sa.select(OutboxMessage).where(OutboxMessage.to_email == email).order_by(OutboxMessage.id.desc())
    ).first()
    body = message.body if message is not None else ""
    found = re.search(r"(/account/verify/[^\s]+)", body)
    assert found is not None, body
    return found.group(1)


def on_team(application: Application, email: str) -> bool:
    return email in {person.email for person, _ in applications.team_of(application.id)}


def notifications_of(user: User) -> list[str]:
    return list(
        db.session.scalars(
            sa.select(Notification.subject).where(Notification.recipient_id == user.id).order_by(Notification.id)
        )
    )


def emails_to(email: str) -> list[OutboxMessage]:
    return list(db.session.scalars(sa.select(OutboxMessage).where(OutboxMessage.to_email == email)))


def fresh(invitation: Invitation) -> Invitation:
    db.session.expire_all()
    return db.session.get_one(Invitation, invitation.id)


@pytest.fixture
def lead(app: Flask) -> User:
    return factories.user(name="Lena Lead", email="lena@example.test")


@pytest.fixture
def application(lead: User) -> Application:
    return make_application(make_phase(), lead)


# --- the take-over is closed ----------------------------------------------------------------------


def test_signing_up_with_an_invited_address_joins_nothing_until_verified_and_accepted(
    app: Flask, lead: User, application: Application
) -> None:
    invitation = invite(application, lead, NEWCOMER)
    newcomer = sign_up(app, NEWCOMER)
    assert not on_team(application, NEWCOMER)

    dashboard = words(newcomer.get("/dashboard"))
    assert "1 invitation to join a team is waiting for you. Confirm your email address first" in dashboard
    assert "Lena Lead invited you" not in dashboard  # whose team, only once the address is proved
    page = newcomer.get(f"/invitations/{invitation.id}")
    assert page.status_code == 200 and "Accept and join the team" not in page.get_data(as_text=True)
    refused = newcomer.post(f"/invitations/{invitation.id}/accept")
    assert refused.status_code == 422 and VERIFY_FIRST in words(refused)
    assert not on_team(application, NEWCOMER) and fresh(invitation).state == InvitationState.PENDING

    assert newcomer.post(confirmation_link(NEWCOMER)).status_code in (200, 303)
    person = db.session.scalars(sa.select(User).where(User.email == NEWCOMER)).one()
    assert person.verified
    dashboard = words(newcomer.get("/dashboard"))
    assert "Lena Lead invited you to join the team for the application 'Peer-led recovery cafés'" in dashboard
    accepted = newcomer.post(f"/invitations/{invitation.id}/accept")
    assert accepted.status_code == 303 and accepted.headers["Location"].endswith(f"/applications/{application.id}")
    assert on_team(application, NEWCOMER)
    assert fresh(invitation).state == InvitationState.ACCEPTED
    assert notifications_of(lead) == ["New Comer accepted your invitation to the application 'Peer-led recovery cafés'"]
    assert any("accepted your invitation" in message.subject for message in emails_to(lead.email))
    assert db.session.scalar(sa.select(AuditEntry.actor_id).where(AuditEntry.action == "invitation.accepted")) == (
        person.id
    )
    assert newcomer.get(f"/applications/{application.id}").status_code == 200


def test_signing_in_with_an_invited_address_joins_nothing(app: Flask, lead: User, application: Application) -> None:
    invited = factories.user(email=NEWCOMER)
    invite(application, lead, NEWCOMER)
    client = app.test_client()
    assert sign_in(client, NEWCOMER).status_code == 303
    client.get("/applications")
    assert not on_team(application, NEWCOMER)
    assert client.get(f"/applications/{application.id}").status_code == 403
    assert invited.id not in {person.id for person, _ in applications.team_of(application.id)}


def test_the_invitation_email_links_to_the_invitation(app: Flask, lead: User, application: Application) -> None:
    invitation = invite(application, lead, NEWCOMER)
    [message] = emails_to(NEWCOMER)
    assert f"http://portal.test/invitations/{invitation.id}" in message.body
    assert "Lena Lead has invited you" in message.body and "confirm it" in message.body
    visitor = app.test_client().get(f"/invitations/{invitation.id}")
    assert visitor.status_code in (302, 303) and "/account/sign-in" in visitor.headers["Location"]


# --- answering ------------------------------------------------------------------------------------------


def test_declining_tells_the_lead_and_joins_nothing(app: Flask, lead: User, application: Application) -> None:
    invitee = factories.user(name="Dee Cline", email=NEWCOMER)
    invitation = invite(application, lead, NEWCOMER)
    client = client_for(app, invitee)
    declined = client.post(f"/invitations/{invitation.id}/decline")
    assert declined.status_code == 303
    assert not on_team(application, NEWCOMER)
    invitation = fresh(invitation)
    assert (invitation.state, invitation.closed_by_id) == (InvitationState.DECLINED, invitee.id)
    assert notifications_of(lead) == ["Dee Cline declined your invitation to the application 'Peer-led recovery cafés'"]
    again = client.post(f"/invitations/{invitation.id}/accept")
    assert again.status_code == 422 and "already been declined" in words(again)
    assert not on_team(application, NEWCOMER)
    # Declined, the address may be invited again.
    assert invite(application, lead, NEWCOMER).state == InvitationState.PENDING


def test_an_expired_invitation_cannot_be_accepted(app: Flask, lead: User, application: Application) -> None:
    invitee = factories.user(email=NEWCOMER)
    invitation = invite(application, lead, NEWCOMER)
    later = invitation.expires_at + timedelta(seconds=1)
    with pytest.raises(RuleBroken, match="This invitation expired on"):
        invitations.accept(invitation, by=invitee, now=later)
    db.session.rollback()

    invitation.expires_at = utcnow() - timedelta(minutes=1)
    db.session.commit()
    refused = client_for(app, invitee).post(f"/invitations/{invitation.id}/accept")
    assert refused.status_code == 422 and "This invitation expired on" in words(refused)
    assert not on_team(application, NEWCOMER)
    team = words(client_for(app, lead).get(f"/applications/{application.id}"))
    assert f"{NEWCOMER}: Expired" in team
    assert invitations.waiting_for(invitee, utcnow()) == []


def test_a_withdrawn_invitation_cannot_be_accepted(app: Flask, lead: User, application: Application) -> None:
    invitee = factories.user(email=NEWCOMER)
    invitation = invite(application, lead, NEWCOMER)
    withdrawn = client_for(app, lead).post(f"/invitations/{invitation.id}/withdraw")
    assert withdrawn.status_code == 303 and withdrawn.headers["Location"].endswith(
        f"/applications/{application.id}#team"
    )
    assert fresh(invitation).state == InvitationState.WITHDRAWN
    refused = client_for(app, invitee).post(f"/invitations/{invitation.id}/accept")
    assert refused.status_code == 422 and "already been withdrawn" in words(refused)
    assert not on_team(application, NEWCOMER)
    again = client_for(app, lead).post(f"/invitations/{invitation.id}/withdraw")
    assert again.status_code == 422 and "Only an invitation still waiting" in words(again)


def test_another_account_cannot_answer_someone_elses_invitation(
    app: Flask, lead: User, application: Application
) -> None:
    factories.user(email=NEWCOMER)
    someone_else = factories.user(email="someone.else@example.test")
    invitation = invite(application, lead, NEWCOMER)
    client = client_for(app, someone_else)
    for url in (f"/invitations/{invitation.id}/accept", f"/invitations/{invitation.id}/decline"):
        response = client.post(url)
        assert response.status_code == 403 and "sent to another email address" in words(response)
    assert client.get(f"/invitations/{invitation.id}").status_code == 403
    assert client.post(f"/invitations/{invitation.id}/withdraw").status_code == 403
    assert fresh(invitation).state == InvitationState.PENDING
    assert not on_team(application, someone_else.email)
    with pytest.raises(NotAllowed):
        invitations.accept(invitation, by=someone_else, now=utcnow())


def test_who_may_withdraw(app: Flask, users: dict[str, Any], lead: User) -> None:
    member = factories.user()
    application = make_application(make_phase(), lead, members=(member,))
    invitation = invite(application, lead, NEWCOMER)
    with pytest.raises(NotAllowed):
        invitations.withdraw(invitation, by=member, now=utcnow())  # on the team, not a lead
    invitations.withdraw(invitation, by=users["staff"], now=utcnow())
    db.session.commit()
    assert fresh(invitation).closed_by_id == users["staff"].id


def test_the_lead_sees_every_state_on_the_team_section(app: Flask, lead: User, application: Application) -> None:
    accepter, decliner = factories.user(email="yes@example.test"), factories.user(email="no@example.test")
    invitations.accept(invite(application, lead, "yes@example.test"), by=accepter, now=utcnow())
    invitations.decline(invite(application, lead, "no@example.test"), by=decliner, now=utcnow())
    invitations.withdraw(invite(application, lead, "gone@example.test"), by=lead, now=utcnow())
    invite(application, lead, "late@example.test").expires_at = utcnow() - timedelta(days=1)
    invite(application, lead, "waiting@example.test")
    db.session.commit()
    page = words(client_for(app, lead).get(f"/applications/{application.id}"))
    for shown in (
        "yes@example.test: Accepted",
        "no@example.test: Declined",
        "gone@example.test: Withdrawn",
        "late@example.test: Expired",
        "waiting@example.test: Waiting for an answer until",
    ):
        assert shown in page
    assert page.count("Withdraw the invitation to") == 1  # only the one still waiting


def test_bad_addresses_get_a_message_by_the_field(app: Flask, lead: User, application: Application) -> None:
    client = client_for(app, lead)
    for bad in ("", "not an email", "a@b"):
        response = client.post(f"/applications/{application.id}/invite", data={"email": bad})
        assert response.status_code == 422
        assert 'id="email-error"' in response.get_data(as_text=True)
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Invitation)) == 0


def test_staff_may_invite_to_an_application(app: Flask, users: dict[str, Any], application: Application) -> None:
    response = client_for(app, users["staff"]).post(f"/applications/{application.id}/invite", data={"email": NEWCOMER})
    assert response.status_code == 303
    assert db.session.scalars(sa.select(Invitation.invited_by_id)).one() == users["staff"].id


def test_an_application_no_longer_going_ahead_cannot_be_joined(
    app: Flask, lead: User, application: Application
) -> None:
    invitee = factories.user(email=NEWCOMER)
    invitation = invite(application, lead, NEWCOMER)
    application.state = ApplicationState.WITHDRAWN
    db.session.commit()
    with pytest.raises(RuleBroken, match="no longer going ahead"):
        invitations.accept(invitation, by=invitee, now=utcnow())


# --- project teams ----------------------------------------------------------------------------------------


def test_the_lead_invites_to_a_project_and_the_invitee_joins_it(app: Flask, lead: User) -> None:
    project = factories.project(title="Recovery cafés", lead=lead)
    invitee = factories.user(email=NEWCOMER)
    client = client_for(app, invitee)
    assert client.get(f"/projects/{project.id}").status_code == 403
    invited = client_for(app, lead).post(f"/projects/{project.id}/invite", data={"email": NEWCOMER})
    assert invited.status_code == 303
    invitation = db.session.scalars(sa.select(Invitation)).one()
    assert (invitation.project_id, invitation.application_id) == (project.id, None)
    assert "Lena Lead invited you to join the team for the pilot project 'Recovery cafés'" in words(
        client.get("/dashboard")
    )
    accepted = client.post(f"/invitations/{invitation.id}/accept")
    assert accepted.status_code == 303 and accepted.headers["Location"].endswith(f"/projects/{project.id}")
    assert client.get(f"/projects/{project.id}").status_code == 200
    assert notifications_of(lead) == [f"{invitee.name} accepted your invitation to the pilot project 'Recovery cafés'"]


def test_a_member_who_is_not_a_lead_cannot_invite_to_a_project(app: Flask, lead: User) -> None:
    member = factories.user()
    project = factories.project(lead=lead, members=(member,))
    response = client_for(app, member).post(f"/projects/{project.id}/invite", data={"email": NEWCOMER})
    assert response.status_code == 403
    project.state = ProjectState.CLOSED
    db.session.commit()
    assert client_for(app, lead).post(f"/projects/{project.id}/invite", data={"email": NEWCOMER}).status_code == 403


def test_accepting_an_application_invitation_after_the_award_joins_the_project_too(
    app: Flask, lead: User, application: Application
) -> None:
    invitee = factories.user(email=NEWCOMER)
    invitation = invite(application, lead, NEWCOMER)
    project = Project(title=application.title, application_id=application.id)
    db.session.add(project)
    db.session.flush()
    db.session.add(TeamMembership(project_id=project.id, user_id=lead.id, role=TeamRole.LEAD))
    application.state = ApplicationState.AWARDED
    db.session.commit()
    invitations.accept(invitation, by=invitee, now=utcnow())
    db.session.commit()
    assert on_team(application, NEWCOMER)
    assert (
        db.session.scalar(
            sa.select(TeamMembership.role).where(
                TeamMembership.project_id == project.id, TeamMembership.user_id == invitee.id
            )
        )
        == TeamRole.MEMBER
    )


# --- the reminder job --------------------------------------------------------------------------------------


def test_reminders_go_only_for_invitations_waiting_and_not_expired(
    app: Flask, lead: User, application: Application
) -> None:
    now = utcnow()
    week_ago = now - timedelta(days=8)
    rows = {}
    for email in ("waiting@example.test", "accepted@example.test", "withdrawn@example.test", "expired@example.test"):
        invitation = invite(application, lead, email)
        invitation.created_at = week_ago
        rows[email] = invitation
    rows["accepted@example.test"].state = InvitationState.ACCEPTED
    rows["withdrawn@example.test"].state = InvitationState.WITHDRAWN
    rows["expired@example.test"].expires_at = now - timedelta(hours=1)
    fresh_one = invite(application, lead, "fresh@example.test")  # sent today: too soon
    db.session.commit()

    assert schedule.invitation_reminders(now) == "Sent 1 invitation reminders."
    db.session.commit()
    [reminder] = [m for m in emails_to("waiting@example.test") if m.kind == "reminder.invitation_reminder"]
    assert f"/invitations/{rows['waiting@example.test'].id}" in reminder.body
    for email in ("accepted@example.test", "withdrawn@example.test", "expired@example.test", fresh_one.email):
        assert [m for m in emails_to(email) if m.kind == "reminder.invitation_reminder"] == []
    assert schedule.invitation_reminders(now) == "Sent 0 invitation reminders."  # once


# --- the migration's data step -------------------------------------------------------------------------------


def insert_row(connection: Any, table_name: str, **values: Any) -> None:
    """A row of a table as it was at an older revision: ``values``, and a placeholder for every other
    required column (whatever the revisions since added to it)."""
    table = sa.Table(table_name, sa.MetaData(), autoload_with=connection)
    placeholders = {
        sa.Integer: 1,
        sa.Boolean: False,
        sa.DateTime: datetime(2026, 11, 1, tzinfo=UTC),
        sa.Date: date(2026, 11, 1),
        sa.Time: time(0, 0),
    }
    row = dict(values)
    for column in table.columns:
        if column.name in row or column.nullable or column.primary_key:
            continue
        row[column.name] = next((value for kind, value in placeholders.items() if isinstance(column.type, kind)), "x")
    connection.execute(table.insert().values(**row))


def test_the_migration_makes_accepted_rows_accepted_and_gives_the_rest_an_expiry(tmp_path: Path) -> None:
    uri = "sqlite:///" + str(tmp_path / "old.sqlite3")
    if TEST_DATABASE_URL:
        uri = in_schema(sqlalchemy_url(TEST_DATABASE_URL, str(tmp_path)), SCHEMA)
        recreate_schema(uri, SCHEMA)
    app = make_app(uri, tmp_path / "instance")
    with app.app_context():
        upgrade(revision="0015")  # the revision before 0016
        with db.engine.begin() as connection:
            insert_row(connection, "users", id=1, email="l@example.test", role="member", preferred_contact="email")
            insert_row(connection, "phases", id=1, state="open")
            insert_row(connection, "applications", id=1, phase_id=1, lead_id=1, state="draft")
            for row_id, email, accepted_at in (
                (1, "a@example.test", datetime(2026, 11, 3, 9, tzinfo=UTC)),
                (2, "b@example.test", None),
            ):
                insert_row(
                    connection,
                    "invitations",
                    id=row_id,
                    application_id=1,
                    email=email,
                    invited_by_id=1,
                    created_at=datetime(2026, 11, 2, 9, tzinfo=UTC),
                    accepted_at=accepted_at,
                )
        upgrade()
        with db.engine.connect() as connection:
            rows = connection.execute(sa.text("SELECT id, state, expires_at FROM invitations ORDER BY id")).all()
        db.engine.dispose()
    if TEST_DATABASE_URL:
        drop_schema(uri, SCHEMA)
    assert [(row[0], row[1]) for row in rows] == [(1, "accepted"), (2, "pending")]
    assert str(rows[1][2]).startswith("2026-11-16 09:00:00")

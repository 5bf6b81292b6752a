"""Confirming an email address: the link sent at sign-up, reusing and expiring it, the dashboard's
notice and new links, changing address, sign-up that does not reveal who has an account, and
what an unconfirmed account cannot do."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

from portal.accounts import verification
from portal.accounts.models import EmailVerification, User
from portal.core.db import utcnow
from portal.core.extensions import db
from portal.core.formatting import london_today
from portal.core.outbox import OutboxMessage
from portal.directory import services as directory
from portal.grants import applications, invitations
from portal.remuneration import claims
from portal.stories import telling
from portal.stories.models import Storyteller
from portal.teams.membership import add_to_team
from portal.teams.models import TeamMembership
from tests import factories
from tests.helpers import count, sign_in

NEW = {"name": "Lydia", "email": "lydia@example.test", "password": "river stone lantern"}


def emails_to(address: str, kind: str | None = None) -> list[OutboxMessage]:
    query = sa.select(OutboxMessage).where(OutboxMessage.to_email == address).order_by(OutboxMessage.id)
    if kind is not None:
        query = query.where(OutboxMessage.kind == kind)
    return list(db.session.scalars(query))


def link_in(message: OutboxMessage) -> str:
    found = re.search(r"http\S*(/account/verify/\S+)", message.body)
    assert found is not None, message.body
    return found.group(1)


def without_tokens(page: str) -> str:
    return re.sub(r'value="[^"]*"|"X-CSRFToken": "[^"]*"', "", page)


@contextmanager
def configured(app_factory: Any, **settings: Any) -> Iterator[Flask]:
    """An app with these settings, in its context (like the ``app`` fixture)."""
    app = app_factory(**settings)
    with app.app_context():
        yield app
        db.session.remove()


def unverified(**extra: Any) -> User:
    return factories.user(verified=False, **extra)


# --- the link -------------------------------------------------------------------------------


def test_sign_up_sends_a_link_that_confirms_the_address_once(client: FlaskClient) -> None:
    assert client.post("/account/sign-up", data=NEW).status_code == 200
    person = db.session.scalar(sa.select(User).where(User.email == NEW["email"]))
    assert person is not None and not person.verified
    [message] = emails_to(NEW["email"], "email_verification")
    assert "48 hours" in message.body
    path = link_in(message)

    opened = client.get(path)  # opening the link only shows the button
    assert opened.status_code == 200 and "Confirm lydia@example.test" in opened.get_data(as_text=True)
    db.session.refresh(person)
    assert not person.verified

    confirmed = client.post(path)
    page = confirmed.get_data(as_text=True)
    assert confirmed.status_code == 200 and "Email address confirmed" in page
    assert 'href="/account/sign-in"' in page  # signed out: invited to sign in
    db.session.refresh(person)
    assert person.verified

    for again in (client.get(path), client.post(path)):
        assert again.status_code == 410
        assert "expired or has already been used" in again.get_data(as_text=True)


def test_a_signed_in_person_confirming_goes_to_their_dashboard(app: Flask) -> None:
    person = unverified(email="in@example.test")
    token = verification.send_confirmation(person, base_url="http://portal.test", valid_hours=48)
    db.session.commit()
    client = app.test_client()
    assert sign_in(client, "in@example.test").status_code == 303
    response = client.post(f"/account/verify/{token}")
    assert response.status_code == 303 and response.headers["Location"] == "/dashboard"
    page = client.get("/dashboard").get_data(as_text=True)
    assert "in@example.test is confirmed" in page
    assert "Confirm your email address" not in page


def test_an_expired_or_unknown_link_is_refused_and_changes_nothing(client: FlaskClient) -> None:
    person = unverified()
    token = verification.send_confirmation(
        person, base_url="http://portal.test", valid_hours=48, now=utcnow() - timedelta(hours=49)
    )
    db.session.commit()
    for path in (f"/account/verify/{token}", "/account/verify/not-a-real-token"):
        for response in (client.get(path), client.post(path)):
            assert response.status_code == 410
            assert "This link cannot be used" in response.get_data(as_text=True)
    db.session.refresh(person)
    assert not person.verified
    assert db.session.scalar(sa.select(EmailVerification.used_at)) is None


def test_the_link_lasts_as_long_as_the_setting_says(app_factory: Any) -> None:
    with configured(app_factory, EMAIL_VERIFICATION_HOURS=2) as app:
        app.test_client().post("/account/sign-up", data=NEW)
        link = db.session.scalar(sa.select(EmailVerification))
        assert link is not None
        assert timedelta(hours=1, minutes=59) < link.expires_at - link.created_at <= timedelta(hours=2)
        assert "2 hours" in emails_to(NEW["email"], "email_verification")[0].body


# --- sign-up does not tell who has an account ---------------------------------------------------


def test_sign_up_with_an_existing_address_answers_the_same_and_emails_the_owner(app: Flask) -> None:
    owner = factories.user(email="taken@example.test", name="Owner")
    fresh_client, taken_client = app.test_client(), app.test_client()
    fresh = fresh_client.post("/account/sign-up", data={**NEW, "email": "someone-new@example.test"})
    taken = taken_client.post("/account/sign-up", data={**NEW, "email": " TAKEN@example.test "})
    assert taken.status_code == fresh.status_code == 200
    assert without_tokens(taken.get_data(as_text=True)).replace("taken@example.test", "X") == without_tokens(
        fresh.get_data(as_text=True)
    ).replace("someone-new@example.test", "X")
    assert fresh_client.get("/dashboard").status_code == taken_client.get("/dashboard").status_code == 303
    [told] = emails_to("taken@example.test")
    assert told.kind == "sign_up_existing" and "sign in" in told.body and "reset your password" in told.body
    assert count(User) == 2  # the owner and the new person, nobody else
    db.session.refresh(owner)
    assert owner.name == "Owner" and owner.verified


def test_a_weak_password_is_refused_the_same_way_for_any_address(client: FlaskClient) -> None:
    factories.user(email="taken@example.test")
    for address in ("taken@example.test", "free@example.test"):
        response = client.post("/account/sign-up", data={**NEW, "email": address, "password": "short"})
        assert response.status_code == 422
        assert 'id="password-error"' in response.get_data(as_text=True)
    assert emails_to("taken@example.test") == [] and count(User) == 1


def test_sign_up_is_rate_limited(app_factory: Any) -> None:
    with configured(app_factory, LOGIN_RATE_LIMIT="3 per minute") as app:
        client = app.test_client()
        for number in range(3):
            assert client.post("/account/sign-up", data={**NEW, "email": f"p{number}@example.test"}).status_code == 200
        blocked = client.post("/account/sign-up", data={**NEW, "email": "p9@example.test"})
        assert blocked.status_code == 429
        assert db.session.scalar(sa.select(User).where(User.email == "p9@example.test")) is None


# --- the dashboard and new links ---------------------------------------------------------------


def test_the_dashboard_says_what_is_waiting_and_sends_a_new_link(app: Flask) -> None:
    person = unverified(email="wait@example.test")
    first = verification.send_confirmation(person, base_url="http://portal.test", valid_hours=48)
    db.session.commit()
    client = app.test_client()
    sign_in(client, "wait@example.test")
    page = client.get("/dashboard").get_data(as_text=True)
    assert "Confirm your email address" in page and "We sent a link to wait@example.test" in page
    assert 'action="/account/verify/resend"' in page

    response = client.post("/account/verify/resend")
    assert response.status_code == 303
    assert "We have sent a new link to wait@example.test" in client.get("/dashboard").get_data(as_text=True)
    links = [link_in(m) for m in emails_to("wait@example.test", "email_verification")]
    assert len(links) == 2 and links[0] == f"/account/verify/{first}"
    # The newer link works, and spends the older one.
    assert client.post(links[1]).status_code == 303
    assert client.post(links[0]).status_code == 410
    assert "Confirm your email address" not in client.get("/dashboard").get_data(as_text=True)


def test_an_account_with_no_link_yet_is_offered_one(app: Flask) -> None:
    unverified(email="old@example.test")  # made before links were sent
    client = app.test_client()
    sign_in(client, "old@example.test")
    page = client.get("/dashboard").get_data(as_text=True)
    assert "is not confirmed yet" in page and "Send me a link" in page


def test_new_links_are_rate_limited_and_a_confirmed_address_gets_none(app_factory: Any) -> None:
    with configured(app_factory, VERIFICATION_RESEND_LIMIT="2 per hour") as app:
        unverified(email="eager@example.test")
        client = app.test_client()
        sign_in(client, "eager@example.test")
        assert client.post("/account/verify/resend").status_code == 303
        assert client.post("/account/verify/resend").status_code == 303
        assert client.post("/account/verify/resend").status_code == 429
        assert len(emails_to("eager@example.test", "email_verification")) == 2

        factories.user(email="done@example.test")
        done = app.test_client()
        sign_in(done, "done@example.test")
        response = done.post("/account/verify/resend", follow_redirects=True)
        assert "already confirmed" in response.get_data(as_text=True)
        assert emails_to("done@example.test", "email_verification") == []


# --- changing address ---------------------------------------------------------------------------


def test_a_new_address_is_confirmed_before_it_is_used_and_the_old_one_is_told(app: Flask) -> None:
    person = factories.user(email="old@example.test")
    client = app.test_client()
    sign_in(client, "old@example.test")
    assert client.get("/account/email").status_code == 200
    response = client.post(
        "/account/email", data={"email": "New@Example.test", "password": factories.PASSWORD}, follow_redirects=True
    )
    assert "We have sent a link to new@example.test" in response.get_data(as_text=True)
    db.session.refresh(person)
    assert person.email == "old@example.test" and person.verified  # unchanged until confirmed
    [notice] = emails_to("old@example.test", "email_change_notice")
    assert "If this was not you" in notice.body
    [message] = emails_to("new@example.test", "email_change_verification")
    assert "new@example.test" in client.get("/account/email").get_data(as_text=True)  # the change waiting

    assert client.post(link_in(message)).status_code == 303
    db.session.refresh(person)
    assert person.email == "new@example.test" and person.verified
    client.post("/account/sign-out")
    assert sign_in(app.test_client(), "new@example.test").status_code == 303
    assert sign_in(app.test_client(), "old@example.test").status_code == 422


def test_changing_to_an_address_someone_has_answers_the_same_and_tells_its_owner(app: Flask) -> None:
    person = factories.user(email="mine@example.test")
    factories.user(email="theirs@example.test")
    client = app.test_client()
    sign_in(client, "mine@example.test")
    taken = client.post("/account/email", data={"email": "theirs@example.test", "password": factories.PASSWORD})
    free = client.post("/account/email", data={"email": "free@example.test", "password": factories.PASSWORD})
    assert taken.status_code == free.status_code == 303
    flashes = client.get("/account/profile").get_data(as_text=True)
    assert (
        "We have sent a link to theirs@example.test" in flashes
        and "We have sent a link to free@example.test" in flashes
    )
    [told] = emails_to("theirs@example.test")
    assert told.kind == "email_change_existing" and "nothing was changed" in told.body
    assert len(emails_to("mine@example.test", "email_change_notice")) == 2  # told both times, alike
    db.session.refresh(person)
    assert person.email == "mine@example.test"


def test_a_change_link_is_refused_if_someone_took_the_address_meanwhile(app: Flask) -> None:
    person = factories.user(email="mine@example.test")
    token = verification.request_email_change(
        person, new_email="wanted@example.test", password=factories.PASSWORD, base_url="http://x.test", valid_hours=48
    )
    db.session.commit()
    factories.user(email="wanted@example.test")
    response = app.test_client().post(f"/account/verify/{token}")
    assert response.status_code == 410 and "used by another account" in response.get_data(as_text=True)
    db.session.refresh(person)
    assert person.email == "mine@example.test"


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        ({"email": "new@example.test", "password": "wrong password"}, "password", "Your password is not right"),
        ({"email": "not-an-email", "password": factories.PASSWORD}, "email", "in the right format"),
        ({"email": "", "password": factories.PASSWORD}, "email", "Enter your new email address"),
        ({"email": "same@example.test", "password": factories.PASSWORD}, "email", "already your email address"),
    ],
)
def test_changing_address_explains_bad_input_by_the_field(
    app: Flask, data: dict[str, str], field: str, message: str
) -> None:
    factories.user(email="same@example.test")
    client = app.test_client()
    sign_in(client, "same@example.test")
    before = count(OutboxMessage)
    response = client.post("/account/email", data=data)
    page = response.get_data(as_text=True)
    assert response.status_code == 422 and message in page and f'id="{field}-error"' in page
    assert count(OutboxMessage) == before and count(EmailVerification) == 0


# --- what an unconfirmed account cannot do -----------------------------------------------------------


def test_an_unverified_person_cannot_join_a_team(app: Flask) -> None:
    person, ready, lead = unverified(), factories.user(), factories.user()
    project = factories.project(lead=lead)
    with pytest.raises(verification.Unverified) as refused:
        add_to_team(project, person)
    assert refused.value.message == verification.VERIFY_FIRST
    with pytest.raises(verification.Unverified) as by_someone:
        add_to_team(project, person, by=lead)
    assert person.name in by_someone.value.message
    add_to_team(project, ready)
    db.session.commit()
    on_team = set(db.session.scalars(sa.select(TeamMembership.user_id).where(TeamMembership.project_id == project.id)))
    assert on_team == {lead.id, ready.id}


def test_an_unverified_invitee_joins_nothing_until_confirmed(app: Flask) -> None:
    lead = factories.user()
    application = factories.make_application(factories.make_phase(), lead)
    offer = invitations.invite(
        invitations.Team(application, None), by=lead, email="later@example.test", now=utcnow(), expiry_days=14
    )
    db.session.commit()
    person = unverified(email="later@example.test")
    with pytest.raises(verification.Unverified):
        invitations.accept(offer, by=person, now=utcnow())
    db.session.rollback()
    assert person.id not in {user.id for user, _ in applications.team_of(application.id)}
    with pytest.raises(verification.Unverified):
        applications.start_application(factories.make_phase(), by=person, today=london_today())


def test_an_unverified_person_cannot_be_linked_to_a_storyteller_record(app: Flask) -> None:
    person = unverified(email="teller@example.test")
    with pytest.raises(verification.Unverified):
        telling.storyteller_for(person)
    db.session.rollback()
    client = app.test_client()
    sign_in(client, "teller@example.test")
    response = client.post("/stories/me")
    assert response.status_code == 422 and "Confirm your email address first" in response.get_data(as_text=True)
    assert count(Storyteller) == 0
    person.email_verified_at = utcnow()
    db.session.commit()
    assert client.post("/stories/me").status_code == 303
    assert db.session.scalar(sa.select(Storyteller.user_id)) == person.id


def test_an_unverified_person_cannot_send_a_message(app: Flask) -> None:
    sender, recipient = unverified(email="sender@example.test"), factories.user()
    directory.save_entry(
        recipient,
        listed=True,
        display_name="Rae",
        show_pronouns=False,
        show_bio=False,
        show_projects=False,
        accepts_messages=True,
        interests=[],
        skills_text="",
    )
    db.session.commit()
    with pytest.raises(verification.Unverified) as refused:
        directory.send_message(sender, recipient, "Hello")
    assert refused.value.field == "body"
    db.session.rollback()
    client = app.test_client()
    sign_in(client, "sender@example.test")
    response = client.post(f"/people/{recipient.id}/message", data={"body": "Hello there"})
    page = response.get_data(as_text=True)
    assert response.status_code == 422 and "Confirm your email address first" in page and "Hello there" in page
    assert emails_to(recipient.email) == []
    sender.email_verified_at = utcnow()
    db.session.commit()
    assert client.post(f"/people/{recipient.id}/message", data={"body": "Hello there"}).status_code == 303


def test_an_unverified_person_cannot_submit_a_claim(app: Flask) -> None:
    activity = factories.rate_card()["Meeting"]
    person = unverified()
    claim = claims.create_claim(
        person, claims.ClaimDetails(activity.id, factories.CLAIM_DAY, Decimal("2"), None), today=london_today()
    )
    db.session.commit()
    with pytest.raises(verification.Unverified):
        claims.submit_claim(claim, by=person, now=utcnow())
    db.session.rollback()
    db.session.refresh(claim)
    assert claim.submitted_at is None
    person.email_verified_at = utcnow()
    db.session.commit()
    assert claims.submit_claim(claim, by=person, now=utcnow()) == []
    assert claim.submitted_at is not None


def test_the_verified_fact_is_in_the_permission_registry(app: Flask) -> None:
    from portal.core.permissions import can, refusal

    person, ready = unverified(), factories.user()
    assert not can(person, "account.verified") and can(ready, "account.verified")
    assert refusal(person, "account.verified") == verification.VERIFY_FIRST


def test_the_claim_page_says_why_an_unverified_claim_cannot_be_sent(app: Flask) -> None:
    activity = factories.rate_card()["Meeting"]
    person = unverified(email="claimant@example.test")
    claim = claims.create_claim(
        person, claims.ClaimDetails(activity.id, factories.CLAIM_DAY, Decimal("2"), None), today=london_today()
    )
    db.session.commit()
    client = app.test_client()
    sign_in(client, "claimant@example.test")
    page = client.get(f"/claims/{claim.id}").get_data(as_text=True)
    assert "Confirm your email address first" in page and "Send claim</button>" not in page
    response = client.post(f"/claims/{claim.id}/submit", data={})
    assert response.status_code == 303 and response.headers["Location"] == f"/claims/{claim.id}"
    assert "Confirm your email address first" in client.get(response.headers["Location"]).get_data(as_text=True)
    db.session.refresh(claim)
    assert claim.submitted_at is None


def test_expired_confirmation_links_are_removed_a_day_after_they_expire(app: Flask) -> None:
    from portal.core.schedule import JOBS

    person = unverified()
    now = utcnow()
    verification.send_confirmation(person, base_url="http://x.test", valid_hours=48, now=now - timedelta(hours=73))
    verification.send_confirmation(person, base_url="http://x.test", valid_hours=48, now=now - timedelta(hours=60))
    db.session.commit()
    assert JOBS["confirmation-links"].run(now) == "Removed 1 expired email confirmation links."
    assert count(EmailVerification) == 1  # expired 12 hours ago: kept, so the page can say it expired

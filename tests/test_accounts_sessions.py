"""Server-side sessions: signing out ends them, copies of the cookies stop working, the sessions
page signs devices out, and signing in starts afresh (new session, new CSRF token)."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

from portal.accounts import services, sessions
from portal.accounts.models import UserSession
from portal.core.db import utcnow
from portal.core.extensions import db
from tests import factories
from tests.helpers import sign_in, text_of

PHONE = (
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Mobile Safari/537.36"
)
LAPTOP = "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0"


def _copy_cookie(source: FlaskClient, target: FlaskClient, name: str) -> None:
    cookie = source.get_cookie(name)
    assert cookie is not None, f"no {name} cookie to copy"
    target.set_cookie(name, cookie.value)


def _signed_in(client: FlaskClient) -> bool:
    response = client.get("/account/profile")
    assert response.status_code in (200, 303), response.status_code
    return response.status_code == 200


def test_a_session_cookie_copied_before_sign_out_is_refused_after_it(app: Flask) -> None:
    person = factories.user()
    device, thief = app.test_client(), app.test_client()
    assert sign_in(device, person.email).status_code == 303
    _copy_cookie(device, thief, "session")
    assert _signed_in(thief)  # the copy works while the session lives (it is the same session)
    assert device.post("/account/sign-out").status_code == 303
    assert not _signed_in(device)
    assert not _signed_in(thief)  # the server ended the session: the copy names an ended device
    ended = db.session.scalar(sa.select(UserSession))
    assert ended is not None and ended.ended_at is not None


def test_a_remember_cookie_copied_before_sign_out_is_refused_after_it(app: Flask) -> None:
    person = factories.user()
    device = app.test_client()
    assert sign_in(device, person.email, remember="y").status_code == 303
    remembered = app.test_client()
    _copy_cookie(device, remembered, "remember_token")  # only the remember cookie, no session
    assert _signed_in(remembered)
    stolen = app.test_client()
    _copy_cookie(device, stolen, "remember_token")
    device.post("/account/sign-out")
    assert not _signed_in(stolen)
    assert device.get_cookie("remember_token") is None  # and the browser was told to forget it


def test_a_staff_remember_cookie_is_refused_after_sign_out_too(app: Flask) -> None:
    staff = factories.user(role="staff")  # two steps to sign in; the remember choice carries through
    device = app.test_client()
    assert sign_in(device, staff.email, remember="y").status_code == 303
    stolen = app.test_client()
    _copy_cookie(device, stolen, "remember_token")
    assert stolen.get("/staff/phases").status_code == 200
    device.post("/account/sign-out")
    assert stolen.get("/staff/phases").status_code == 303


def test_the_csrf_token_from_before_sign_in_is_refused_after_it(app_factory: Any) -> None:
    app = app_factory(WTF_CSRF_ENABLED=True)
    token_pattern = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"')
    with app.app_context():
        person = factories.user()
        client = app.test_client()
        before = token_pattern.search(client.get("/account/sign-in").get_data(as_text=True)).group(1)
        response = client.post(
            "/account/sign-in", data={"email": person.email, "password": factories.PASSWORD, "csrf_token": before}
        )
        assert response.status_code == 303
        refused = client.post("/account/sign-out", data={"csrf_token": before})
        assert refused.status_code == 400 and "This form has expired" in refused.get_data(as_text=True)
        assert _signed_in(client)
        after = token_pattern.search(client.get("/account/profile").get_data(as_text=True)).group(1)
        assert after != before
        assert client.post("/account/sign-out", data={"csrf_token": after}).status_code == 303
        assert not _signed_in(client)


def test_signing_in_starts_a_fresh_session(client: FlaskClient) -> None:
    person = factories.user()
    with client.session_transaction() as session:
        session["planted"] = "by someone before sign-in"
    sign_in(client, person.email)
    with client.session_transaction() as session:
        assert "planted" not in session
        assert session["_user_id"].startswith(f"{person.id}:")


def test_the_sessions_page_lists_devices_and_marks_this_one(app: Flask) -> None:
    person = factories.user()
    phone, laptop = app.test_client(), app.test_client()
    sign_in(phone, person.email, headers={"User-Agent": PHONE})
    sign_in(laptop, person.email, headers={"User-Agent": LAPTOP})
    page = laptop.get("/account/sessions")
    assert page.status_code == 200
    words = text_of(page)
    assert "Chrome on Android" in words and "Firefox on Linux" in words
    assert re.search(r"Firefox on Linux\s*<span class=\"tag\">This device</span>", page.get_data(as_text=True))
    assert "Mozilla/5.0" not in words  # a summary, never the whole header
    assert words.count("Sign out this device") == 1  # not offered for this one: Sign out does that


def test_ending_a_session_from_the_sessions_page_signs_that_device_out(app: Flask) -> None:
    person = factories.user()
    phone, laptop = app.test_client(), app.test_client()
    sign_in(phone, person.email, headers={"User-Agent": PHONE})
    sign_in(laptop, person.email, headers={"User-Agent": LAPTOP})
    phone_session = db.session.scalar(sa.select(UserSession).where(UserSession.user_agent == "Chrome on Android"))
    assert phone_session is not None
    response = laptop.post(f"/account/sessions/{phone_session.id}/end", follow_redirects=True)
    assert "That device has been signed out." in text_of(response)
    assert not _signed_in(phone)
    assert _signed_in(laptop)
    assert "Chrome on Android" not in text_of(laptop.get("/account/sessions"))


def test_signing_out_every_other_device(app: Flask) -> None:
    person = factories.user()
    devices = [app.test_client() for _ in range(3)]
    for device in devices:
        sign_in(device, person.email)
    response = devices[0].post("/account/sessions/end-others", follow_redirects=True)
    assert "Your other devices have been signed out." in text_of(response)
    assert [_signed_in(device) for device in devices] == [True, False, False]


def test_nobody_can_end_another_persons_session(app: Flask) -> None:
    owner, other = factories.user(), factories.user()
    owner_client, other_client = app.test_client(), app.test_client()
    sign_in(owner_client, owner.email)
    sign_in(other_client, other.email)
    owners = db.session.scalar(sa.select(UserSession).where(UserSession.user_id == owner.id))
    response = other_client.post(f"/account/sessions/{owners.id}/end", follow_redirects=True)
    assert "already signed out" in text_of(response)
    assert _signed_in(owner_client)


def test_closing_an_account_ends_its_sessions(app: Flask, users: dict[str, Any]) -> None:
    person = factories.user()
    device = app.test_client()
    sign_in(device, person.email)
    services.deactivate(person, by=users["admin"])
    db.session.commit()
    assert not _signed_in(device)
    assert db.session.scalar(sa.select(UserSession.ended_at).where(UserSession.user_id == person.id)) is not None


def test_last_seen_is_written_at_most_once_a_minute(app: Flask) -> None:
    person = factories.user()
    device = app.test_client()
    sign_in(device, person.email)
    record = db.session.scalar(sa.select(UserSession))
    earlier = utcnow() - timedelta(seconds=30)
    record.last_seen_at = earlier
    db.session.commit()
    device.get("/account/profile")
    db.session.refresh(record)
    assert record.last_seen_at == earlier  # under a minute ago: not written again
    record.last_seen_at = utcnow() - timedelta(minutes=2)
    db.session.commit()
    device.get("/account/profile")
    db.session.refresh(record)
    assert record.last_seen_at > utcnow() - timedelta(seconds=10)


def test_a_device_unused_for_the_idle_limit_is_signed_out(app: Flask) -> None:
    person = factories.user()
    device = app.test_client()
    sign_in(device, person.email, remember="y")
    record = db.session.scalar(sa.select(UserSession))
    record.last_seen_at = utcnow() - timedelta(days=app.config["SESSION_IDLE_DAYS"], minutes=1)
    db.session.commit()
    assert not _signed_in(device)
    db.session.refresh(record)
    assert record.ended_at is not None


@pytest.mark.parametrize(
    ("agent", "summary"),
    [
        (PHONE, "Chrome on Android"),
        (LAPTOP, "Firefox on Linux"),
        (
            "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 Version/18.1 Safari/604.1",
            "Safari on iPhone",
        ),
        ("curl/8.5.0", "curl/8.5.0"),
        ("", "Unknown browser"),
    ],
)
def test_user_agent_summary(agent: str, summary: str) -> None:
    assert sessions.describe_agent(agent) == summary


def test_an_odd_user_agent_is_cut_short_and_cleaned() -> None:
    summary = sessions.describe_agent("<script>alert(1)</script>" * 10)
    assert "<" not in summary and ">" not in summary and len(summary) <= 60

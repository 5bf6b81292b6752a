"""Sign-up, sign-in, sign-out, remember me, profile, password change and reset, rate limit."""

from __future__ import annotations

import os
from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

from portal.accounts import services
from portal.accounts.models import PasswordResetToken, Role, User
from portal.core.db import utcnow
from portal.core.extensions import db
from portal.core.outbox import OutboxMessage
from tests import factories
from tests.helpers import count, sign_in


def test_sign_up_creates_an_unverified_member_and_asks_them_to_check_their_email(client: FlaskClient) -> None:
    response = client.post(
        "/account/sign-up",
        data={"name": "Lydia", "email": " Lydia@Example.TEST ", "password": "river stone lantern"},
    )
    assert response.status_code == 200
    assert "Check your email" in response.get_data(as_text=True)
    person = db.session.scalar(sa.select(User))
    assert person.email == "lydia@example.test" and person.role == Role.MEMBER
    assert person.password_hash.startswith("$argon2id$")
    assert not person.verified
    # Not signed in: the same answer as for an address that already has an account.
    assert client.get("/dashboard").status_code == 303


def test_sign_up_errors_are_shown_next_to_fields_and_nothing_is_saved(client: FlaskClient) -> None:
    factories.user(email="taken@example.test")
    before = count(User)
    cases = [
        ({"name": "", "email": "new@example.test", "password": "river stone lantern"}, "name", "Enter your name."),
        (
            {"name": "A", "email": "not-an-email", "password": "river stone lantern"},
            "email",
            "Enter an email address in the right format",
        ),
        ({"name": "A", "email": "new@example.test", "password": "short"}, "password", "at least 10 characters"),
        ({"name": "A", "email": "new@example.test", "password": "password123"}, "password", "too easy to guess"),
    ]
    for data, field, message in cases:
        response = client.post("/account/sign-up", data=data)
        page = response.get_data(as_text=True)
        assert response.status_code == 422, data
        assert message in page
        assert f'id="{field}-error"' in page  # inline, next to the field
        assert f'aria-describedby="{field}-hint {field}-error"' in page or f'aria-describedby="{field}-error"' in page
        assert f'<a href="#{field}">' in page  # and in the summary, linked to the field
    assert count(User) == before


def test_sign_in_and_out(client: FlaskClient) -> None:
    person = factories.user(email="in@example.test")
    assert sign_in(client, "IN@example.test").status_code == 303
    assert client.get("/account/profile").status_code == 200
    db.session.refresh(person)
    assert person.last_sign_in_at is not None
    assert client.post("/account/sign-out").status_code == 303
    response = client.get("/account/profile")
    assert response.status_code == 303 and "/account/sign-in?next=/account/profile" in response.headers["Location"]


def test_wrong_password_is_refused_with_a_message(client: FlaskClient) -> None:
    factories.user(email="in@example.test")
    response = sign_in(client, "in@example.test", "not the password")
    assert response.status_code == 422
    assert "The email or password is not right" in response.get_data(as_text=True)
    assert client.get("/dashboard").status_code == 303


def test_sign_in_goes_back_to_the_page_asked_for_but_never_off_site(client: FlaskClient) -> None:
    factories.user(email="in@example.test")
    response = client.post(
        "/account/sign-in?next=/account/password", data={"email": "in@example.test", "password": factories.PASSWORD}
    )
    assert response.headers["Location"] == "/account/password"
    client.post("/account/sign-out")
    for evil in ("https://evil.example/", "//evil.example/", "/\\evil.example"):
        response = client.post(
            f"/account/sign-in?next={evil}", data={"email": "in@example.test", "password": factories.PASSWORD}
        )
        assert response.headers["Location"] == "/dashboard"
        client.post("/account/sign-out")


def test_remember_me_sets_a_lasting_cookie(client: FlaskClient) -> None:
    factories.user(email="in@example.test")
    response = sign_in(client, "in@example.test", remember="y")
    cookies = response.headers.getlist("Set-Cookie")
    remember = next(c for c in cookies if c.startswith("remember_token="))
    assert "HttpOnly" in remember and "SameSite=Lax" in remember and "Expires=" in remember
    # Without the session cookie, the remember cookie alone signs the person back in.
    client.delete_cookie("session")
    assert client.get("/account/profile").status_code == 200


def test_session_cookie_flags_in_production(app_factory: Any, monkeypatch: Any) -> None:
    monkeypatch.delenv("PORTAL_SESSION_COOKIE_SECURE", raising=False)
    app = app_factory(ENV="production", SECRET_KEY="x" * 40)
    assert app.config["SESSION_COOKIE_SECURE"] is True
    assert app.config["REMEMBER_COOKIE_SECURE"] is True
    with app.app_context():
        response = app.test_client().get("/account/sign-in")
    cookie = response.headers["Set-Cookie"]
    assert "Secure" in cookie and "HttpOnly" in cookie and "SameSite=Lax" in cookie


def test_deactivated_user_cannot_sign_in_and_is_signed_out(client: FlaskClient, users: dict[str, Any]) -> None:
    person = factories.user(email="closing@example.test")
    sign_in(client, person.email)
    services.deactivate(person, by=users["admin"])
    db.session.commit()
    assert client.get("/account/profile").status_code == 303  # the open session ends
    response = sign_in(client, person.email)
    assert response.status_code == 422
    assert "This account has been closed" in response.get_data(as_text=True)


def test_profile_is_saved_and_access_needs_stay_private(
    client: FlaskClient, as_role: Any, users: dict[str, Any]
) -> None:
    person = factories.user(email="me@example.test")
    sign_in(client, person.email)
    response = client.post(
        "/account/profile",
        data={
            "name": "Lydia Jones",
            "pronouns": "she/her",
            "bio": "Peer researcher.",
            "preferred_contact": "text",
            "phone": "07700 900123",
            "contact_notes": "Evenings",
            "access_needs": "Step-free access and a hearing loop.",
        },
    )
    assert response.status_code == 303
    db.session.refresh(person)
    assert (person.name, person.pronouns, person.preferred_contact.value) == ("Lydia Jones", "she/her", "text")
    assert "hearing loop" in client.get("/account/profile").get_data(as_text=True)
    # Staff-side page shows them to admins; a member cannot reach it at all.
    assert "hearing loop" in as_role("admin").get(f"/admin/users/{person.id}").get_data(as_text=True)
    assert as_role("member").get(f"/admin/users/{person.id}").status_code == 403


def test_profile_rejects_bad_input_and_changes_nothing(client: FlaskClient) -> None:
    person = factories.user(email="me@example.test", name="Original")
    sign_in(client, person.email)
    response = client.post("/account/profile", data={"name": "", "bio": "x" * 601, "preferred_contact": "pigeon"})
    page = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "Enter your name." in page and "600 characters or fewer" in page and "Not a valid choice" in page
    db.session.refresh(person)
    assert person.name == "Original"


def test_change_password_signs_out_other_sessions(app: Flask) -> None:
    person = factories.user(email="pw@example.test")
    this_device, other_device = app.test_client(), app.test_client()
    sign_in(this_device, person.email)
    sign_in(other_device, person.email)
    wrong = this_device.post(
        "/account/password", data={"current_password": "nope", "new_password": "a brand new passphrase"}
    )
    assert wrong.status_code == 422 and "current password is not right" in wrong.get_data(as_text=True)
    ok = this_device.post(
        "/account/password", data={"current_password": factories.PASSWORD, "new_password": "a brand new passphrase"}
    )
    assert ok.status_code == 303
    assert this_device.get("/account/profile").status_code == 200
    assert other_device.get("/account/profile").status_code == 303
    assert sign_in(app.test_client(), person.email, "a brand new passphrase").status_code == 303


def test_sixth_failed_sign_in_within_a_minute_is_refused(client: FlaskClient) -> None:
    factories.user(email="target@example.test")
    for attempt in range(5):
        assert sign_in(client, "target@example.test", f"wrong {attempt}").status_code == 422
    sixth = sign_in(client, "target@example.test", factories.PASSWORD)
    assert sixth.status_code == 429
    assert "Too many attempts" in sixth.get_data(as_text=True)
    assert "Retry-After" in sixth.headers


def test_failed_attempts_against_one_account_are_limited_from_any_address(app: Flask) -> None:
    factories.user(email="target@example.test")
    for attempt in range(5):
        client = app.test_client()
        response = client.post(
            "/account/sign-in",
            data={"email": "target@example.test", "password": "bad"},
            environ_base={"REMOTE_ADDR": f"10.0.0.{attempt + 1}"},
        )
        assert response.status_code == 422
    response = app.test_client().post(
        "/account/sign-in",
        data={"email": "target@example.test", "password": "bad"},
        environ_base={"REMOTE_ADDR": "10.0.0.99"},
    )
    assert response.status_code == 429


def test_successful_sign_ins_do_not_count_towards_the_limit(client: FlaskClient) -> None:
    factories.user(email="busy@example.test")
    for _ in range(7):
        assert sign_in(client, "busy@example.test").status_code == 303
        client.post("/account/sign-out")


def _reset_link_token(email: str) -> str:
    message = db.session.scalars(
        sa.select(OutboxMessage).where(OutboxMessage.to_email == email).order_by(OutboxMessage.id.desc())
    ).first()
    assert message is not None and message.kind == "password_reset"
    return message.body.split("/account/reset-password/")[1].split()[0]


def test_password_reset_by_emailed_token_works_once(client: FlaskClient) -> None:
    factories.user(email="forgot@example.test")
    response = client.post("/account/forgot-password", data={"email": "forgot@example.test"})
    assert response.status_code == 200 and "Check your email" in response.get_data(as_text=True)
    token = _reset_link_token("forgot@example.test")
    assert client.get(f"/account/reset-password/{token}").status_code == 200
    response = client.post(f"/account/reset-password/{token}", data={"new_password": "fresh start passphrase"})
    assert response.status_code == 303
    assert sign_in(client, "forgot@example.test", "fresh start passphrase").status_code == 303
    client.post("/account/sign-out")
    # Used once: the same link no longer works.
    again = client.post(f"/account/reset-password/{token}", data={"new_password": "another passphrase here"})
    assert again.status_code == 410
    assert sign_in(client, "forgot@example.test", "another passphrase here").status_code == 422


def test_password_reset_token_expires(client: FlaskClient) -> None:
    factories.user(email="late@example.test")
    client.post("/account/forgot-password", data={"email": "late@example.test"})
    token = _reset_link_token("late@example.test")
    reset = db.session.scalar(sa.select(PasswordResetToken))
    reset.expires_at = utcnow() - timedelta(seconds=1)
    db.session.commit()
    assert client.get(f"/account/reset-password/{token}").status_code == 410
    response = client.post(f"/account/reset-password/{token}", data={"new_password": "too late passphrase"})
    assert response.status_code == 410
    assert sign_in(client, "late@example.test", "too late passphrase").status_code == 422


def test_reset_for_unknown_email_looks_the_same_and_sends_nothing(client: FlaskClient) -> None:
    response = client.post("/account/forgot-password", data={"email": "nobody@example.test"})
    assert response.status_code == 200 and "Check your email" in response.get_data(as_text=True)
    assert count(OutboxMessage) == 0


def test_only_the_token_hash_is_stored(client: FlaskClient) -> None:
    factories.user(email="hash@example.test")
    client.post("/account/forgot-password", data={"email": "hash@example.test"})
    token = _reset_link_token("hash@example.test")
    stored = db.session.scalar(sa.select(PasswordResetToken.token_hash))
    assert token not in stored and len(stored) == 64


def _redis_or_skip(url: str) -> None:
    import redis

    try:
        redis.Redis.from_url(url, socket_connect_timeout=2).ping()
    except redis.RedisError as error:
        pytest.skip(f"no Redis at {url}: {error}")


def test_with_redis_the_limit_is_shared_by_every_app_process(app_factory: Any, tmp_path: Any) -> None:
    """Two app processes behind a load balancer share one count when PORTAL_REDIS_URL is set."""
    import uuid

    from tests.helpers import make_app

    url = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
    _redis_or_skip(url)
    prefix = f"portal-test-{uuid.uuid4().hex}"
    first = app_factory(REDIS_URL=url, RATELIMIT_KEY_PREFIX=prefix)
    second = make_app(
        first.config["SQLALCHEMY_DATABASE_URI"], tmp_path / "second", REDIS_URL=url, RATELIMIT_KEY_PREFIX=prefix
    )
    assert first.config["RATELIMIT_STORAGE_URI"] == url
    with first.app_context():
        factories.user(email="shared@example.test")
    try:
        for attempt in range(5):
            app = (first, second)[attempt % 2]
            response = app.test_client().post(
                "/account/sign-in",
                data={"email": "shared@example.test", "password": "x"},
                environ_base={"REMOTE_ADDR": f"10.1.0.{attempt + 1}"},
            )
            assert response.status_code == 422
        refused = second.test_client().post(
            "/account/sign-in",
            data={"email": "shared@example.test", "password": "x"},
            environ_base={"REMOTE_ADDR": "10.1.0.99"},
        )
        assert refused.status_code == 429
        # The count lives in Redis, where any other process sees it (not in this process's memory).
        import redis

        assert list(redis.Redis.from_url(url).scan_iter(f"*{prefix}*shared@example.test*"))
    finally:
        import redis

        client = redis.Redis.from_url(url)
        for key in client.scan_iter(f"*{prefix}*"):
            client.delete(key)
        with second.app_context():
            db.session.remove()
            db.engine.dispose()

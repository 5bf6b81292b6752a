"""Two-factor sign-in: set-up, the code step, codes that work once, required for staff, admin reset."""

from __future__ import annotations

import re
import time
from typing import Any

import pyotp
import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

from portal.accounts import two_factor
from portal.accounts.models import RecoveryCode, User
from portal.core.audit import AuditEntry
from portal.core.extensions import db
from portal.core.outbox import OutboxMessage
from tests import factories
from tests.helpers import CODE_PAGE, sign_in, text_of

STAFF_PAGE = "/staff/phases"


def _key_on(page: Any) -> str:
    match = re.search(r'<code id="two-factor-key">([A-Z2-7 ]+)</code>', page.get_data(as_text=True))
    assert match, "the set-up page shows the key as text"
    return match.group(1).replace(" ", "")


def _set_up(client: FlaskClient) -> tuple[str, list[str]]:
    """Set up two-factor sign-in through the pages, as a person would; the key and the recovery codes."""
    key = _key_on(client.get("/account/two-factor/set-up"))
    response = client.post("/account/two-factor/set-up", data={"code": pyotp.TOTP(key).now()})
    assert response.status_code == 200, text_of(response)
    codes = re.findall(r"<li><code>([a-z2-9]{5}-[a-z2-9]{5})</code></li>", response.get_data(as_text=True))
    return key, codes


def _password_step(client: FlaskClient, email: str) -> Any:
    response = sign_in(client, email, second_step=False)
    assert response.status_code == 303 and response.headers["Location"].endswith(CODE_PAGE)
    return response


def _next_step_code(key: str, user: User) -> str:
    """A code of a later time step than the one last used (a real person waits for the app's next code)."""
    db.session.refresh(user)
    step = int(time.time() // 30)
    if user.totp_last_step is not None and user.totp_last_step >= step:
        step = user.totp_last_step + 1  # the step after: accepted as clock drift
    return pyotp.TOTP(key).at(step * 30)


def test_staff_without_a_second_factor_are_sent_to_set_it_up_before_any_page(app: Flask) -> None:
    staff = factories.user(role="staff", two_factor=False)
    client = app.test_client()
    response = sign_in(client, staff.email, next=STAFF_PAGE)
    assert response.status_code == 303
    for path in (STAFF_PAGE, "/dashboard", "/account/profile", "/account/sessions", "/admin/jobs"):
        refused = client.get(path)
        assert refused.status_code == 303, path
        assert refused.headers["Location"] == "/account/two-factor/set-up", path
    # A form posted meanwhile is refused the same way (nothing is changed).
    assert client.post("/account/profile", data={"name": "Changed"}).headers["Location"].endswith("/set-up")
    db.session.refresh(staff)
    assert staff.name != "Changed"
    # Open to them: the set-up page, healthz, static files, and signing out.
    assert client.get("/account/two-factor/set-up").status_code == 200
    assert client.get("/healthz").status_code in (200, 503)
    assert client.get("/static/css/app.css").status_code == 200
    htmx = client.get(STAFF_PAGE, headers={"HX-Request": "true"})
    assert htmx.headers["HX-Redirect"] == "/account/two-factor/set-up"
    _set_up(client)
    assert client.get(STAFF_PAGE).status_code == 200
    assert client.post("/account/sign-out").status_code == 303


def test_members_choose_and_are_not_sent_to_set_up(app: Flask) -> None:
    member = factories.user()
    client = app.test_client()
    sign_in(client, member.email)
    assert client.get("/dashboard").status_code == 200
    assert "Off." in text_of(client.get("/account/two-factor"))


def test_set_up_shows_a_qr_code_and_the_key_and_asks_for_a_code(app: Flask) -> None:
    member = factories.user()
    client = app.test_client()
    sign_in(client, member.email)
    page = client.get("/account/two-factor/set-up")
    html = page.get_data(as_text=True)
    assert "<svg" in html and 'aria-label="QR code' in html and "<?xml" not in html
    key = _key_on(page)
    assert len(key) == 32
    assert _key_on(client.get("/account/two-factor/set-up")) == key  # the same key until confirmed

    empty = client.post("/account/two-factor/set-up", data={"code": ""})
    assert empty.status_code == 422 and "Enter the 6-digit code" in text_of(empty)
    letters = client.post("/account/two-factor/set-up", data={"code": "abcdef"})
    assert letters.status_code == 422 and "Enter the 6-digit code" in text_of(letters)
    wrong = client.post("/account/two-factor/set-up", data={"code": pyotp.TOTP(key).at(time.time() - 600)})
    assert wrong.status_code == 422 and "That code is not right" in text_of(wrong)
    assert 'id="code-error"' in wrong.get_data(as_text=True)
    db.session.refresh(member)
    assert not member.has_two_factor

    done = client.post("/account/two-factor/set-up", data={"code": pyotp.TOTP(key).now()})
    codes = re.findall(r"<li><code>([a-z2-9]{5}-[a-z2-9]{5})</code></li>", done.get_data(as_text=True))
    assert len(set(codes)) == 10
    db.session.refresh(member)
    assert member.has_two_factor
    # The key is stored encrypted and never shown again.
    assert key not in member.totp_secret_encrypted
    assert client.get("/account/two-factor/set-up").headers["Location"] == "/account/two-factor"
    settings = client.get("/account/two-factor").get_data(as_text=True)
    assert key not in settings and two_factor.grouped(key) not in settings
    assert "10 unused recovery codes" in text_of(settings)
    # Only hashes of the recovery codes are kept.
    stored = db.session.scalars(sa.select(RecoveryCode.code_hash)).all()
    assert len(stored) == 10 and not any(code.replace("-", "") in value for code in codes for value in stored)


def test_sign_in_with_two_factor_is_two_steps_and_the_first_grants_nothing(app: Flask) -> None:
    staff = factories.user(role="staff")
    client = app.test_client()
    _password_step(client, staff.email)
    for path in (STAFF_PAGE, "/dashboard", "/account/profile", "/account/two-factor/set-up"):
        response = client.get(path)
        assert response.status_code == 303 and "/account/sign-in" in response.headers["Location"], path
    assert client.post("/account/sessions/end-others").status_code == 303  # to sign-in, not done
    page = client.get(CODE_PAGE)
    assert page.status_code == 200 and "Enter your code" in text_of(page)
    wrong = client.post(CODE_PAGE, data={"code": "000000"})
    assert wrong.status_code == 422 and "That code is not right" in text_of(wrong)
    empty = client.post(CODE_PAGE, data={"code": "  "})
    assert empty.status_code == 422 and "Enter the 6-digit code" in text_of(empty)
    response = client.post(CODE_PAGE, data={"code": _next_step_code(factories.TOTP_SECRET, staff)})
    assert response.status_code == 303 and response.headers["Location"] == "/dashboard"
    assert client.get(STAFF_PAGE).status_code == 200


def test_a_totp_code_works_once(app: Flask) -> None:
    staff = factories.user(role="staff")
    code = _next_step_code(factories.TOTP_SECRET, staff)
    first = app.test_client()
    _password_step(first, staff.email)
    assert first.post(CODE_PAGE, data={"code": code}).status_code == 303
    second = app.test_client()
    _password_step(second, staff.email)
    reused = second.post(CODE_PAGE, data={"code": code})
    assert reused.status_code == 422 and "already been used" in text_of(reused)
    assert second.get(STAFF_PAGE).status_code == 303


def test_a_recovery_code_works_once(app: Flask) -> None:
    member = factories.user()
    client = app.test_client()
    sign_in(client, member.email)
    _, codes = _set_up(client)
    client.post("/account/sign-out")

    lost_phone = app.test_client()
    _password_step(lost_phone, member.email)
    response = lost_phone.post(CODE_PAGE, data={"code": codes[3].upper().replace("-", " ")}, follow_redirects=True)
    assert response.status_code == 200 and "You used a recovery code: 9 left." in text_of(response)
    lost_phone.post("/account/sign-out")

    again = app.test_client()
    _password_step(again, member.email)
    refused = again.post(CODE_PAGE, data={"code": codes[3]})
    assert refused.status_code == 422 and "already been used" in text_of(refused)
    assert again.post(CODE_PAGE, data={"code": codes[4]}).status_code == 303
    assert db.session.scalar(sa.select(AuditEntry).where(AuditEntry.action == "user.recovery_code_used")) is not None


def test_new_recovery_codes_replace_the_old_ones(app: Flask) -> None:
    member = factories.user()
    client = app.test_client()
    sign_in(client, member.email)
    key, old = _set_up(client)
    wrong = client.post("/account/two-factor/recovery-codes", data={"codes-code": "123"})
    assert wrong.status_code == 422 and "That code is not right" in text_of(wrong)
    response = client.post("/account/two-factor/recovery-codes", data={"codes-code": _next_step_code(key, member)})
    new = re.findall(r"<li><code>([a-z2-9]{5}-[a-z2-9]{5})</code></li>", response.get_data(as_text=True))
    assert len(new) == 10 and not set(new) & set(old)
    client.post("/account/sign-out")
    other = app.test_client()
    _password_step(other, member.email)
    assert other.post(CODE_PAGE, data={"code": old[0]}).status_code == 422
    assert other.post(CODE_PAGE, data={"code": new[0]}).status_code == 303


def test_a_member_may_turn_it_off_and_staff_may_not(app: Flask) -> None:
    member = factories.user()
    client = app.test_client()
    sign_in(client, member.email)
    key, _ = _set_up(client)
    wrong = client.post("/account/two-factor/turn-off", data={"off-code": "000000"})
    assert wrong.status_code == 422
    response = client.post("/account/two-factor/turn-off", data={"off-code": _next_step_code(key, member)})
    assert response.status_code == 303
    db.session.refresh(member)
    assert not member.has_two_factor and db.session.scalar(sa.select(sa.func.count()).select_from(RecoveryCode)) == 0
    assert db.session.scalar(sa.select(OutboxMessage).where(OutboxMessage.kind == "two_factor_off")) is not None

    staff = factories.user(role="staff")
    staff_client = app.test_client()
    sign_in(staff_client, staff.email)
    assert "cannot be turned off" in text_of(staff_client.get("/account/two-factor"))
    refused = staff_client.post(
        "/account/two-factor/turn-off", data={"off-code": _next_step_code(factories.TOTP_SECRET, staff)}
    )
    assert refused.status_code == 422 and "cannot be turned off" in text_of(refused)
    db.session.refresh(staff)
    assert staff.has_two_factor


def test_the_code_step_expires(app: Flask) -> None:
    staff = factories.user(role="staff")
    client = app.test_client()
    _password_step(client, staff.email)
    with client.session_transaction() as session:
        pending = dict(session["two_factor_pending"])
        pending["since"] -= app.config["TWO_FACTOR_PENDING_MINUTES"] * 60 + 1
        session["two_factor_pending"] = pending
    response = client.post(CODE_PAGE, data={"code": _next_step_code(factories.TOTP_SECRET, staff)})
    assert response.status_code == 410 and "Sign in with your email and password first" in text_of(response)
    assert client.get(STAFF_PAGE).status_code == 303


def test_too_many_wrong_codes_start_the_sign_in_again(app: Flask) -> None:
    staff = factories.user(role="staff")
    client = app.test_client()
    for attempt in range(5):
        if attempt % 2 == 0:  # a fresh password step now and then: the count is per person, not per visit
            _password_step(client, staff.email)
        assert (
            client.post(
                CODE_PAGE, data={"code": "000000"}, environ_base={"REMOTE_ADDR": f"10.2.0.{attempt}"}
            ).status_code
            == 422
        )
    response = client.post(
        CODE_PAGE,
        data={"code": _next_step_code(factories.TOTP_SECRET, staff)},
        environ_base={"REMOTE_ADDR": "10.2.0.9"},
    )
    assert response.status_code == 410 and "Too many wrong codes" in text_of(response)
    assert client.get(STAFF_PAGE).status_code == 303


def test_an_admin_resets_a_lost_device_audited_and_emailed(app: Flask, users: dict[str, Any], as_role: Any) -> None:
    staff = users["staff"]
    staff_device = app.test_client()
    sign_in(staff_device, staff.email)
    assert staff_device.get(STAFF_PAGE).status_code == 200
    admin = as_role("admin")
    page = admin.get(f"/admin/users/{staff.id}")
    assert "Remove two-factor sign-in" in text_of(page)

    response = admin.post(f"/admin/users/{staff.id}/two-factor/reset", follow_redirects=True)
    assert "two-factor sign-in has been removed" in text_of(response)
    db.session.refresh(staff)
    assert not staff.has_two_factor
    entry = db.session.scalar(sa.select(AuditEntry).where(AuditEntry.action == "user.two_factor_reset"))
    assert entry is not None and entry.actor_id == users["admin"].id and entry.object_id == str(staff.id)
    email = db.session.scalar(sa.select(OutboxMessage).where(OutboxMessage.kind == "two_factor_reset"))
    assert email is not None and email.to_email == staff.email and users["admin"].name in email.body
    # Signed out everywhere; at the next sign-in, sent to set it up again.
    assert staff_device.get(STAFF_PAGE).status_code == 303
    again = app.test_client()
    assert sign_in(again, staff.email).status_code == 303
    assert again.get(STAFF_PAGE).headers["Location"] == "/account/two-factor/set-up"
    # Nothing to reset now: said plainly, not a 500.
    second = admin.post(f"/admin/users/{staff.id}/two-factor/reset", follow_redirects=True)
    assert "does not have two-factor sign-in set up" in text_of(second)


@pytest.mark.parametrize("role", ["member", "staff", "finance"])
def test_only_admins_reset_a_second_factor(app: Flask, users: dict[str, Any], as_role: Any, role: str) -> None:
    target = users["finance" if role != "finance" else "staff"]
    assert as_role(role).post(f"/admin/users/{target.id}/two-factor/reset").status_code == 403
    db.session.refresh(target)
    assert target.has_two_factor


def test_an_admin_cannot_reset_their_own(users: dict[str, Any], as_role: Any) -> None:
    admin = users["admin"]
    assert as_role("admin").post(f"/admin/users/{admin.id}/two-factor/reset").status_code == 403


def test_a_password_change_during_the_code_step_cancels_it(app: Flask) -> None:
    from portal.accounts import services

    staff = factories.user(role="staff")
    client = app.test_client()
    _password_step(client, staff.email)
    services.set_password(staff, "an entirely new passphrase")
    db.session.commit()
    response = client.post(CODE_PAGE, data={"code": _next_step_code(factories.TOTP_SECRET, staff)})
    assert response.status_code == 410


def test_the_stored_secret_is_useless_without_the_secret_key(app: Flask) -> None:
    """The TOTP secret is encrypted under a key derived from SECRET_KEY (and recovery codes are
    HMACs under another): with a different SECRET_KEY neither works, so a copy of the database
    alone makes no codes. (After rotating SECRET_KEY an admin resets each person's second factor.)"""
    member = factories.user()
    client = app.test_client()
    sign_in(client, member.email)
    key, codes = _set_up(client)
    client.post("/account/sign-out")
    app.config["SECRET_KEY"] = "a-completely-different-secret-key-for-this-test"
    lost = app.test_client()
    _password_step(lost, member.email)
    assert lost.post(CODE_PAGE, data={"code": _next_step_code(key, member)}).status_code == 422
    assert lost.post(CODE_PAGE, data={"code": codes[0]}).status_code == 422

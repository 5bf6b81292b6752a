"""Rate limits that hold with several processes (counts in the database), and that slow a
guesser down without locking the real owner out."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from flask import Flask

from portal.core.extensions import db
from portal.core.rate_limits import DatabaseStorage, RateLimitCounter
from tests import factories
from tests.helpers import CODE_PAGE, count, text_of

ROOT = Path(__file__).resolve().parent.parent


def _post(app: Flask, email: str, password: str, address: str) -> Any:
    return app.test_client().post(
        "/account/sign-in", data={"email": email, "password": password}, environ_base={"REMOTE_ADDR": address}
    )


def _in_another_process(app: Flask, tmp_path: Path, attempts: list[tuple[str, str]]) -> None:
    """Post wrong passwords from a second portal process on the same database: (email, client address)."""
    script = textwrap.dedent(
        """
        import sys
        from pathlib import Path
        from tests.helpers import make_app

        app = make_app(sys.argv[1], Path(sys.argv[2]))
        for pair in sys.argv[3:]:
            email, address = pair.split(",")
            client = app.test_client()
            response = client.post(
                "/account/sign-in",
                data={"email": email, "password": "a wrong guess"},
                environ_base={"REMOTE_ADDR": address},
            )
            assert response.status_code == 422, response.status_code
        print("done")
        """
    )
    args = [f"{email},{address}" for email, address in attempts]
    uri = app.config["SQLALCHEMY_DATABASE_URI"]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    result = subprocess.run(
        [sys.executable, "-c", script, uri, str(tmp_path / "other-process"), *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0 and "done" in result.stdout, result.stderr[-2000:]


def test_the_limit_per_client_address_is_shared_by_every_process(app: Flask, tmp_path: Path) -> None:
    for number in range(5):
        factories.user(email=f"person{number}@example.test")
    _in_another_process(app, tmp_path, [(f"person{n}@example.test", "10.7.0.1") for n in range(5)])
    # This process never saw a failure itself, and still refuses the sixth from that address.
    refused = _post(app, "person0@example.test", factories.PASSWORD, "10.7.0.1")
    assert refused.status_code == 429 and "Too many attempts" in text_of(refused)
    assert _post(app, "person0@example.test", factories.PASSWORD, "10.7.0.2").status_code == 303
    assert count(RateLimitCounter) >= 1


def test_the_count_per_email_address_is_shared_by_every_process(app: Flask, tmp_path: Path) -> None:
    factories.user(email="target@example.test")
    _in_another_process(app, tmp_path, [("target@example.test", f"10.8.0.{n}") for n in range(1, 6)])
    wrong = _post(app, "target@example.test", "another guess", "10.8.0.50")
    assert wrong.status_code == 429
    assert "each try now takes a few seconds" in text_of(wrong)


def test_a_limited_account_s_owner_still_gets_in_after_a_short_wait(app: Flask) -> None:
    factories.user(email="owner@example.test")
    for number in range(5):  # someone else, from five addresses, types wrong passwords
        assert _post(app, "owner@example.test", f"guess {number}", f"10.9.0.{number + 1}").status_code == 422
    delay = app.config["SIGN_IN_SLOW_DOWN_SECONDS"]
    started = time.monotonic()
    guess = _post(app, "owner@example.test", "guess 6", "10.9.0.20")
    assert guess.status_code == 429 and time.monotonic() - started >= delay
    started = time.monotonic()
    owner = _post(app, "owner@example.test", factories.PASSWORD, "10.9.0.30")
    assert owner.status_code == 303 and owner.headers["Location"] == "/dashboard"
    assert time.monotonic() - started >= delay  # the right password waits as long: the wait reveals nothing


def test_a_limited_account_with_two_factor_still_asks_for_the_code(app: Flask) -> None:
    factories.user(email="staff.owner@example.test", role="staff")
    for number in range(5):
        _post(app, "staff.owner@example.test", f"guess {number}", f"10.10.0.{number + 1}")
    client = app.test_client()
    response = client.post(
        "/account/sign-in",
        data={"email": "staff.owner@example.test", "password": factories.PASSWORD},
        environ_base={"REMOTE_ADDR": "10.10.0.40"},
    )
    assert response.status_code == 303 and response.headers["Location"].endswith(CODE_PAGE)
    assert client.get("/staff/phases").status_code == 303  # not in without the code


def test_password_reset_requests_are_limited_per_address_and_answer_the_same(app: Flask) -> None:
    factories.user(email="exists@example.test")
    for number in range(5):
        response = app.test_client().post(
            "/account/forgot-password",
            data={"email": "exists@example.test"},
            environ_base={"REMOTE_ADDR": f"10.11.0.{number + 1}"},
        )
        assert response.status_code == 200
    sixth = app.test_client().post(
        "/account/forgot-password", data={"email": "exists@example.test"}, environ_base={"REMOTE_ADDR": "10.11.0.9"}
    )
    assert sixth.status_code == 429
    # The same words whether or not the address has an account.
    known = app.test_client().post(
        "/account/forgot-password", data={"email": "other@example.test"}, environ_base={"REMOTE_ADDR": "10.12.0.1"}
    )
    factories.user(email="other2@example.test")
    unknown_page = text_of(known).replace("other@example.test", "ADDRESS")
    real = app.test_client().post(
        "/account/forgot-password", data={"email": "other2@example.test"}, environ_base={"REMOTE_ADDR": "10.12.0.2"}
    )
    assert real.status_code == known.status_code == 200
    assert text_of(real).replace("other2@example.test", "ADDRESS") == unknown_page


def test_database_storage_counts_expires_and_clears(app: Flask) -> None:
    first, second = DatabaseStorage(), DatabaseStorage()  # as two processes would each have
    assert first.incr("k", expiry=60) == 1
    assert second.incr("k", expiry=60) == 2
    assert first.get("k") == 2 and second.get("k") == 2
    assert second.get_expiry("k") > time.time() + 50
    db.session.execute(sa.update(RateLimitCounter).values(expires_at=time.time() - 1))
    db.session.commit()
    assert first.get("k") == 0  # the window passed
    assert first.incr("k", expiry=60) == 1  # and a new one starts
    second.clear("k")
    assert first.get("k") == 0
    first.incr("a", expiry=60)
    assert first.reset() == 1 and first.check()


def test_an_app_made_with_limits_off_leaves_the_next_app_limited(app_factory: Any) -> None:
    """The limiter is one object shared by every app in a process: each app says its own."""
    from portal.core.extensions import limiter

    app_factory(RATELIMIT_ENABLED=False)
    assert limiter.enabled is False
    app = app_factory()
    assert limiter.enabled is True
    with app.app_context():
        factories.user(email="someone@example.test")
        for number in range(5):
            assert _post(app, "someone@example.test", f"guess {number}", "10.13.0.1").status_code == 422
        assert _post(app, "someone@example.test", factories.PASSWORD, "10.13.0.1").status_code == 429


def test_an_app_made_with_a_key_prefix_leaves_the_next_app_without_one(app_factory: Any) -> None:
    from portal.core.extensions import limiter

    app_factory(RATELIMIT_KEY_PREFIX="someone-elses")
    app_factory()
    assert limiter._key_prefix == ""

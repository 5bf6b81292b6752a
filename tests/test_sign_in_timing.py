"""No account enumeration by timing: signing in as nobody takes as long as a wrong password.

Measured with the test app's Argon2 settings (tests/helpers.py), 20 tries of each, interleaved,
comparing medians (not an absolute number of milliseconds). The clock is this process's CPU
time: the work the portal does for each answer, which is what differs between the two cases,
without the noise of other programs taking turns on a shared machine's processors (the
database's own time is the same one-row lookup in both cases). Without the dummy hash a missing account skips Argon2 entirely; at the service
level that is most of the work, so the check fails clearly if it is ever lost.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from typing import Any

from flask import Flask

from portal.accounts import services
from portal.core.errors import RuleBroken
from portal.core.extensions import db
from tests import factories

TRIES = 20


def _medians(missing: Callable[[], Any], wrong: Callable[[], Any]) -> tuple[float, float]:
    missing(), wrong()  # warm up: first calls load things once per process
    times: dict[str, list[float]] = {"missing": [], "wrong": []}
    pairs = [("missing", missing), ("wrong", wrong)]
    for number in range(TRIES):
        for name, attempt in pairs if number % 2 else pairs[::-1]:  # each goes first half the time
            start = time.process_time()
            attempt()
            times[name].append(time.process_time() - start)
    return statistics.median(times["missing"]), statistics.median(times["wrong"])


def _refused(email: str) -> None:
    try:
        services.authenticate(email, "not the password at all")
    except RuleBroken:
        db.session.rollback()
    else:  # pragma: no cover - a wrong password never gets in
        raise AssertionError("signed in with a wrong password")


def test_authenticate_takes_as_long_for_a_missing_account_as_for_a_wrong_password(app: Flask) -> None:
    factories.user(email="real@example.test")
    missing, wrong = _medians(lambda: _refused("nobody@example.test"), lambda: _refused("real@example.test"))
    assert abs(missing - wrong) <= 0.2 * wrong, f"missing {missing * 1000:.2f} ms, wrong {wrong * 1000:.2f} ms"


def test_the_sign_in_page_takes_as_long_for_a_missing_account_as_for_a_wrong_password(app_factory: Any) -> None:
    # Room for 40 failures from one address and for one email address: here the limits are not under test.
    app = app_factory(LOGIN_RATE_LIMIT="1000 per minute")
    with app.app_context():
        factories.user(email="real@example.test")
        client = app.test_client()

        def attempt(email: str) -> None:
            response = client.post("/account/sign-in", data={"email": email, "password": "not the password at all"})
            assert response.status_code == 422

        missing, wrong = _medians(lambda: attempt("nobody@example.test"), lambda: attempt("real@example.test"))
        assert abs(missing - wrong) <= 0.2 * wrong, f"missing {missing * 1000:.2f} ms, wrong {wrong * 1000:.2f} ms"
        db.session.remove()

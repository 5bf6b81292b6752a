"""Two-factor sign-in pages: the code step of signing in, set-up, and your two-factor settings.

Staff, finance and admins without a second factor are sent to set it up before any other page
(``require_second_factor``): only the set-up page, signing out, static files and /healthz
are open to them until they have.
"""

from __future__ import annotations

import time
from typing import Any

from flask import current_app, flash, request, session, url_for
from flask_login import current_user
from werkzeug.wrappers import Response

from portal.accounts import bp, throttle, two_factor
from portal.accounts.forms import ConfirmWithCodeForm, TwoFactorCodeForm, TwoFactorSetUpForm
from portal.accounts.models import User
from portal.accounts.views import PENDING, _arrived, _failed, _login_limit
from portal.core.changes import apply, done, refused
from portal.core.extensions import db, limiter
from portal.core.forms import given
from portal.core.permissions import permission_required, public
from portal.core.web import redirect_to, render

SET_UP_SECRET = "two_factor_set_up_secret"
OPEN_WITHOUT_SECOND_FACTOR = {"accounts.two_factor_set_up", "accounts.sign_out", "static", "main.healthz"}


@bp.before_app_request
def require_second_factor() -> Response | None:
    if request.endpoint in OPEN_WITHOUT_SECOND_FACTOR or not current_user.is_authenticated:
        return None
    if current_user.must_have_two_factor and not current_user.has_two_factor:
        if request.method == "GET":
            flash("Programme staff sign in with a second factor. Set it up to carry on.", "info")
        return redirect_to(url_for("accounts.two_factor_set_up"))
    return None


def _pending_user() -> tuple[User, dict[str, Any]] | None:
    """Who passed the password step in this browser, while that is recent and still valid."""
    pending = session.get(PENDING)
    if not isinstance(pending, dict):
        return None
    minutes = float(current_app.config["TWO_FACTOR_PENDING_MINUTES"])
    if time.time() - float(pending.get("since", 0)) > minutes * 60:
        session.pop(PENDING, None)
        return None
    user = db.session.get(User, int(pending.get("user_id", 0)))
    if user is None or not user.is_active or not user.has_two_factor:
        return None
    if user.session_token != pending.get("session_token"):
        return None
    return user, pending


def _start_again(message: str) -> Response:
    session.pop(PENDING, None)
    return render("accounts/two_factor_start_again.html", status=410, message=message, title="Sign in again")


@bp.route("/sign-in/code", methods=["GET", "POST"])
@limiter.limit(_login_limit, methods=["POST"], deduct_when=_failed)
@public
def two_factor_code() -> Response:
    if current_user.is_authenticated:
        return redirect_to(url_for("main.dashboard"))
    found = _pending_user()
    if found is None:
        return _start_again("Sign in with your email and password first. The code step lasts a few minutes.")
    user, pending = found
    key = str(user.id)
    if request.method == "POST" and throttle.over_limit(throttle.SECOND_STEP, key):
        return _start_again("Too many wrong codes. Sign in again with your password, then enter the code.")
    form = TwoFactorCodeForm()
    outcome = apply(form, lambda: two_factor.check_second_step(user, given(form.code.data)))
    if outcome:
        response = _arrived(
            user, str(pending["next"]), f"You are signed in as {user.name}.", remember=bool(pending["remember"])
        )
        if outcome.result == "recovery":
            left = two_factor.recovery_codes_left(user)
            flash(
                f"You used a recovery code: {left} left. If you have lost your authenticator, set up a new "
                "one and get new recovery codes from your two-factor settings.",
                "info",
            )
        return response
    if outcome.error is not None:
        throttle.failed(throttle.SECOND_STEP, key)
    return refused("accounts/two_factor_code.html", form=form, title="Enter your code")


@bp.route("/two-factor/set-up", methods=["GET", "POST"])
@permission_required("account.manage_own")
def two_factor_set_up() -> Response:
    user = current_user._get_current_object()
    if user.has_two_factor:
        return redirect_to(url_for("accounts.two_factor_settings"))
    secret = session.get(SET_UP_SECRET)
    if not isinstance(secret, str) or not secret:
        # Held in this browser's signed session until confirmed; stored encrypted only after.
        secret = session[SET_UP_SECRET] = two_factor.new_secret()
    form = TwoFactorSetUpForm()
    outcome = apply(form, lambda: two_factor.enable(user, secret, given(form.code.data)))
    if outcome:
        session.pop(SET_UP_SECRET, None)
        # Shown once, in this answer only (pages are never cached: Cache-Control: no-store).
        return render("accounts/recovery_codes.html", codes=outcome.result, fresh=True, title="Your recovery codes")
    return refused(
        "accounts/two_factor_set_up.html",
        form=form,
        key=two_factor.grouped(secret),
        qr_code=two_factor.qr_code_svg(user, secret),
        title="Set up two-factor sign-in",
    )


@bp.route("/two-factor")
@permission_required("account.manage_own")
def two_factor_settings() -> Response:
    user = current_user._get_current_object()
    return render(
        "accounts/two_factor.html",
        codes_left=two_factor.recovery_codes_left(user) if user.has_two_factor else 0,
        codes_form=ConfirmWithCodeForm(prefix="codes"),
        off_form=ConfirmWithCodeForm(prefix="off"),
        title="Two-factor sign-in",
    )


def _settings_again(status: int, **forms: ConfirmWithCodeForm) -> Response:
    user = current_user._get_current_object()
    return render(
        "accounts/two_factor.html",
        status=status,
        codes_left=two_factor.recovery_codes_left(user) if user.has_two_factor else 0,
        codes_form=forms.get("codes_form") or ConfirmWithCodeForm(prefix="codes", formdata=None),
        off_form=forms.get("off_form") or ConfirmWithCodeForm(prefix="off", formdata=None),
        title="Two-factor sign-in",
    )


@bp.route("/two-factor/recovery-codes", methods=["POST"])
@limiter.limit(_login_limit, methods=["POST"], deduct_when=_failed)
@permission_required("account.manage_own")
def new_recovery_codes() -> Response:
    user = current_user._get_current_object()
    if not user.has_two_factor:
        return redirect_to(url_for("accounts.two_factor_set_up"))
    form = ConfirmWithCodeForm(prefix="codes")
    outcome = apply(form, lambda: two_factor.new_recovery_codes(user, given(form.code.data)))
    if outcome:
        return render("accounts/recovery_codes.html", codes=outcome.result, fresh=False, title="Your recovery codes")
    return _settings_again(422, codes_form=form)


@bp.route("/two-factor/turn-off", methods=["POST"])
@limiter.limit(_login_limit, methods=["POST"], deduct_when=_failed)
@permission_required("account.manage_own")
def turn_off_two_factor() -> Response:
    user = current_user._get_current_object()
    if not user.has_two_factor:
        return redirect_to(url_for("accounts.two_factor_settings"))
    form = ConfirmWithCodeForm(prefix="off")
    if apply(form, lambda: two_factor.disable(user, given(form.code.data))):
        return done(url_for("accounts.two_factor_settings"), "Two-factor sign-in is off.")
    return _settings_again(422, off_form=form)

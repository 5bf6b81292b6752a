"""Sign up, sign in and out, profile, password change and reset."""

from __future__ import annotations

import time

from flask import current_app, request, session, url_for
from flask_login import current_user, login_user, logout_user
from werkzeug.wrappers import Response

from portal.accounts import bp, services, sessions, throttle, verification
from portal.accounts.forms import (
    ChangePasswordForm,
    ForgotPasswordForm,
    ProfileForm,
    ResetPasswordForm,
    SignInForm,
    SignUpForm,
)
from portal.accounts.models import ContactMethod, User
from portal.core.changes import apply, done, refused
from portal.core.extensions import limiter
from portal.core.forms import given, safe_next
from portal.core.permissions import permission_required, public
from portal.core.web import redirect_to, render


def _login_limit() -> str:
    return str(current_app.config["LOGIN_RATE_LIMIT"])


def _failed(response: Response) -> bool:
    return response.status_code != 303


def _reset_email_key() -> str:
    return "password-reset:" + services.normalise_email(request.form.get("email", ""))


def _start_session(user: User, *, remember: bool) -> None:
    """A new signed-in device for ``user`` (see accounts/sessions.py), and Flask-Login told of it."""
    apply(
        None,
        lambda: sessions.start(
            user, user_agent=request.headers.get("User-Agent", ""), ip_address=request.remote_addr or ""
        ),
    )
    login_user(user, remember=remember)


def rotate_session() -> None:
    """Nothing from before signing in survives it: not the session's contents, not its CSRF token."""
    session.clear()


def _arrived(user: User, url: str, message: str, *, remember: bool = False) -> Response:
    """Sign the person in and welcome them."""
    rotate_session()
    _start_session(user, remember=remember)
    return done(url, message)


@bp.route("/sign-up", methods=["GET", "POST"])
@limiter.limit(_login_limit, methods=["POST"])
@public
def sign_up() -> Response:
    if current_user.is_authenticated:
        return redirect_to(url_for("main.dashboard"))
    form = SignUpForm()
    hours = current_app.config["EMAIL_VERIFICATION_HOURS"]
    # The same answer whether or not the address has an account (its owner is emailed instead).
    if apply(
        form,
        lambda: verification.sign_up(
            email=given(form.email.data),
            name=given(form.name.data),
            password=given(form.password.data),
            base_url=current_app.config["BASE_URL"],
            valid_hours=hours,
        ),
    ):
        email = services.normalise_email(given(form.email.data))
        return render("accounts/sign_up_sent.html", title="Check your email", email=email, hours=hours)
    return refused("accounts/sign_up.html", form=form, title="Create an account")


PENDING = "two_factor_pending"
SLOWED_DOWN = (
    "After several wrong passwords for this address, each try now takes a few seconds. "
    "If you have forgotten your password, reset it."
)


def _await_second_step(user: User, next_url: str, remember: bool) -> Response:
    """Password right, code still to come: remember who (nothing else) and ask for the code.

    Until the code is given the person is *not* signed in: Flask-Login knows nothing of them,
    so no page, rule or role applies; the code page reads this, and only for a few minutes."""
    rotate_session()
    session[PENDING] = {
        "user_id": user.id,
        "session_token": user.session_token,  # a password change meanwhile cancels it
        "remember": remember,
        "next": next_url,
        "since": time.time(),
    }
    return redirect_to(url_for("accounts.two_factor_code"))


@bp.route("/sign-in", methods=["GET", "POST"])
@limiter.limit(_login_limit, methods=["POST"], deduct_when=_failed)
@public
def sign_in() -> Response:
    next_url = safe_next(request.args.get("next"), url_for("main.dashboard"))
    if current_user.is_authenticated:
        return redirect_to(next_url)
    form = SignInForm()
    slowed = request.method == "POST" and throttle.wait_if_slowed(request.form.get("email", ""))
    outcome = apply(form, lambda: services.authenticate(given(form.email.data), given(form.password.data)))
    if outcome:
        user = outcome.result
        if user.has_two_factor:
            return _await_second_step(user, next_url, bool(form.remember.data))
        return _arrived(user, next_url, f"You are signed in as {user.name}.", remember=bool(form.remember.data))
    if outcome.error is not None:  # a wrong password or no such account (not a form left empty)
        throttle.failed(throttle.SIGN_IN, given(form.email.data))
        if slowed:
            form.email.errors = [*form.email.errors, SLOWED_DOWN]
            return render("accounts/sign_in.html", status=429, form=form, title="Sign in")
    return refused("accounts/sign_in.html", form=form, title="Sign in")


@bp.route("/sign-out", methods=["POST"])
@public
def sign_out() -> Response:
    """End this device's session on the server, so no copy of its cookies works again."""
    if current_user.is_authenticated:
        device = current_user.device
        apply(None, lambda: sessions.end(device))
    rotate_session()
    logout_user()  # after the clear: it leaves the note that deletes the remember cookie
    return done(url_for("main.home"), "You have signed out.")


@bp.route("/profile", methods=["GET", "POST"])
@permission_required("account.manage_own")
def profile() -> Response:
    form = ProfileForm(obj=current_user)
    if request.method == "GET":
        form.preferred_contact.data = current_user.preferred_contact.value
    outcome = apply(
        form,
        lambda: services.update_profile(
            current_user,
            name=form.name.data,
            pronouns=form.pronouns.data or "",
            bio=form.bio.data or "",
            preferred_contact=ContactMethod(form.preferred_contact.data),
            phone=form.phone.data or "",
            contact_notes=form.contact_notes.data or "",
            access_needs=form.access_needs.data or "",
        ),
    )
    if outcome:
        return done(url_for("accounts.profile"), "Your profile has been saved.")
    return refused("accounts/profile.html", form=form, title="Your profile")


@bp.route("/password", methods=["GET", "POST"])
@permission_required("account.manage_own")
def change_password() -> Response:
    form = ChangePasswordForm()
    if apply(
        form,
        lambda: services.change_password(
            current_user, given(form.current_password.data), given(form.new_password.data)
        ),
    ):
        # Every session ended, this one too: start this device a new one, remembered if it was.
        remembered = current_app.config.get("REMEMBER_COOKIE_NAME", "remember_token") in request.cookies
        _start_session(current_user._get_current_object(), remember=remembered)
        return done(url_for("accounts.profile"), "Your password has been changed. Other devices have been signed out.")
    return refused("accounts/change_password.html", form=form, title="Change your password")


@bp.route("/forgot-password", methods=["GET", "POST"])
@limiter.limit(_login_limit, methods=["POST"])
@limiter.limit(_login_limit, methods=["POST"], key_func=_reset_email_key)
@public
def forgot_password() -> Response:
    form = ForgotPasswordForm()
    minutes = current_app.config["PASSWORD_RESET_MINUTES"]
    base_url = current_app.config["BASE_URL"]
    if apply(
        form, lambda: services.start_password_reset(given(form.email.data), base_url=base_url, valid_minutes=minutes)
    ):
        return render("accounts/reset_sent.html", title="Check your email", email=form.email.data, minutes=minutes)
    return refused("accounts/forgot_password.html", form=form, title="Reset your password")


@bp.route("/reset-password/<token>", methods=["GET", "POST"])
@limiter.limit(_login_limit, methods=["POST"])
@public
def reset_password(token: str) -> Response:
    if services.usable_reset_token(token) is None:
        return render("accounts/reset_expired.html", status=410, title="This link has expired")
    form = ResetPasswordForm()
    outcome = apply(form, lambda: services.reset_password(token, given(form.new_password.data)))
    if outcome:
        logout_user()
        message = f"Your password has been reset, {outcome.result.name}. Sign in with your new password."
        return done(url_for("accounts.sign_in"), message)
    return refused("accounts/reset_password.html", form=form, title="Choose a new password")

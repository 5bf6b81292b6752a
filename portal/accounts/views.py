"""Sign up, sign in and out, profile, password change and reset."""

from __future__ import annotations

from flask import current_app, flash, request, url_for
from flask_login import current_user, login_user, logout_user
from werkzeug.wrappers import Response

from portal.accounts import bp, services, signals
from portal.accounts.forms import (
    ChangePasswordForm,
    ForgotPasswordForm,
    ProfileForm,
    ResetPasswordForm,
    SignInForm,
    SignUpForm,
)
from portal.accounts.models import ContactMethod
from portal.core.extensions import db, limiter
from portal.core.forms import attach_error, safe_next
from portal.core.permissions import permission_required, public
from portal.core.web import redirect_to, render


def _login_limit() -> str:
    return current_app.config["LOGIN_RATE_LIMIT"]


def _failed(response: Response) -> bool:
    return response.status_code != 303


def _email_key() -> str:
    return "sign-in:" + services.normalise_email(request.form.get("email", ""))


def _join_invited_teams(user: object) -> None:
    """Tell the other domains the person has arrived (grants joins them to teams that invited them)."""
    notes = [note for _, note in signals.person_arrived.send(user) if note]
    if notes:
        db.session.commit()
        for note in notes:
            flash(note, "success")


def _invalid(template: str, **context: object) -> Response:
    """Re-show a form with its errors: 422, so htmx and tests can tell it was refused."""
    return render(template, status=422 if request.method == "POST" else 200, **context)


@bp.route("/sign-up", methods=["GET", "POST"])
@public
def sign_up() -> Response:
    if current_user.is_authenticated:
        return redirect_to(url_for("main.dashboard"))
    form = SignUpForm()
    if form.validate_on_submit():
        try:
            user = services.create_user(email=form.email.data, name=form.name.data, password=form.password.data)
        except services.AccountError as error:
            attach_error(form, error.field, error.message)
        else:
            db.session.commit()
            login_user(user)
            flash("Welcome to the Co-Production Portal. Your account is ready.", "success")
            _join_invited_teams(user)
            return redirect_to(url_for("accounts.profile"))
    return _invalid("accounts/sign_up.html", form=form, title="Create an account")


@bp.route("/sign-in", methods=["GET", "POST"])
@limiter.limit(_login_limit, methods=["POST"], deduct_when=_failed)
@limiter.limit(_login_limit, methods=["POST"], deduct_when=_failed, key_func=_email_key)
@public
def sign_in() -> Response:
    next_url = safe_next(request.args.get("next"), url_for("main.dashboard"))
    if current_user.is_authenticated:
        return redirect_to(next_url)
    form = SignInForm()
    if form.validate_on_submit():
        try:
            user = services.authenticate(form.email.data, form.password.data)
        except services.AccountError as error:
            attach_error(form, error.field, error.message)
        else:
            db.session.commit()
            login_user(user, remember=form.remember.data)
            flash(f"You are signed in as {user.name}.", "success")
            _join_invited_teams(user)
            return redirect_to(next_url)
    return _invalid("accounts/sign_in.html", form=form, title="Sign in")


@bp.route("/sign-out", methods=["POST"])
@public
def sign_out() -> Response:
    logout_user()
    flash("You have signed out.", "success")
    return redirect_to(url_for("main.home"))


@bp.route("/profile", methods=["GET", "POST"])
@permission_required("account.manage_own")
def profile() -> Response:
    form = ProfileForm(obj=current_user)
    if request.method == "GET":
        form.preferred_contact.data = current_user.preferred_contact.value
    if form.validate_on_submit():
        services.update_profile(
            current_user,
            name=form.name.data,
            pronouns=form.pronouns.data or "",
            bio=form.bio.data or "",
            preferred_contact=ContactMethod(form.preferred_contact.data),
            phone=form.phone.data or "",
            contact_notes=form.contact_notes.data or "",
            access_needs=form.access_needs.data or "",
        )
        db.session.commit()
        flash("Your profile has been saved.", "success")
        return redirect_to(url_for("accounts.profile"))
    return _invalid("accounts/profile.html", form=form, title="Your profile")


@bp.route("/password", methods=["GET", "POST"])
@permission_required("account.manage_own")
def change_password() -> Response:
    form = ChangePasswordForm()
    if form.validate_on_submit():
        try:
            services.change_password(current_user, form.current_password.data, form.new_password.data)
        except services.AccountError as error:
            attach_error(form, error.field, error.message)
        else:
            db.session.commit()
            login_user(current_user._get_current_object())  # keep this session: its token changed
            flash("Your password has been changed. Other devices have been signed out.", "success")
            return redirect_to(url_for("accounts.profile"))
    return _invalid("accounts/change_password.html", form=form, title="Change your password")


@bp.route("/forgot-password", methods=["GET", "POST"])
@limiter.limit(_login_limit, methods=["POST"])
@public
def forgot_password() -> Response:
    form = ForgotPasswordForm()
    if form.validate_on_submit():
        config = current_app.config
        services.start_password_reset(
            form.email.data,
            base_url=config["BASE_URL"],
            valid_minutes=config["PASSWORD_RESET_MINUTES"],
        )
        db.session.commit()
        return render(
            "accounts/reset_sent.html",
            title="Check your email",
            email=form.email.data,
            minutes=config["PASSWORD_RESET_MINUTES"],
        )
    return _invalid("accounts/forgot_password.html", form=form, title="Reset your password")


@bp.route("/reset-password/<token>", methods=["GET", "POST"])
@limiter.limit(_login_limit, methods=["POST"])
@public
def reset_password(token: str) -> Response:
    if services.usable_reset_token(token) is None:
        return render("accounts/reset_expired.html", status=410, title="This link has expired")
    form = ResetPasswordForm()
    if form.validate_on_submit():
        try:
            user = services.reset_password(token, form.new_password.data)
        except services.AccountError as error:
            attach_error(form, error.field, error.message)
        else:
            db.session.commit()
            logout_user()
            flash(f"Your password has been reset, {user.name}. Sign in with your new password.", "success")
            return redirect_to(url_for("accounts.sign_in"))
    return _invalid("accounts/reset_password.html", form=form, title="Choose a new password")

"""Confirming an email address: the link's page, a new link from the dashboard, and changing
the account's address."""

from __future__ import annotations

from flask import current_app, request, url_for
from flask_login import current_user
from werkzeug.wrappers import Response

from portal.accounts import bp, verification
from portal.accounts.forms import ButtonForm, ChangeEmailForm
from portal.accounts.services import normalise_email
from portal.core.changes import apply, done, refused
from portal.core.extensions import limiter
from portal.core.forms import given
from portal.core.permissions import permission_required, public, signed_in
from portal.core.web import render


def _resend_limit() -> str:
    return str(current_app.config["VERIFICATION_RESEND_LIMIT"])


def _person_key() -> str:
    return f"verify:{current_user.id}" if signed_in(current_user) else f"verify-ip:{request.remote_addr}"


def _settings() -> tuple[str, int]:
    return current_app.config["BASE_URL"], current_app.config["EMAIL_VERIFICATION_HOURS"]


def _refused_link() -> Response:
    return render("accounts/verify_refused.html", status=410, title="This link cannot be used")


@bp.route("/verify/<token>", methods=["GET", "POST"])
@limiter.limit(lambda: str(current_app.config["LOGIN_RATE_LIMIT"]), methods=["POST"])
@public
def verify_email(token: str) -> Response:
    # Opening the link only shows a button: a GET changes nothing, so a mail scanner that
    # follows links cannot spend it.
    link = verification.usable_link(token)
    if link is None:
        return _refused_link()
    form = ButtonForm()
    email = link.email
    outcome = apply(form, lambda: verification.confirm(token), show_errors=False)
    if outcome:
        user = outcome.result
        if signed_in(current_user) and current_user.id == user.id:
            return done(url_for("main.dashboard"), f"Thank you. Your email address {email} is confirmed.")
        return render("accounts/verify_done.html", title="Email address confirmed", email=email)
    if outcome.error is not None:
        return render(
            "accounts/verify_refused.html", status=410, title="This link cannot be used", reason=outcome.error.message
        )
    return refused("accounts/verify_confirm.html", form=form, email=email, title="Confirm your email address")


@bp.route("/verify/resend", methods=["POST"])
@limiter.limit(_resend_limit, methods=["POST"], key_func=_person_key)
@permission_required("account.manage_own")
def resend_verification() -> Response:
    base_url, hours = _settings()
    outcome = apply(ButtonForm(), lambda: verification.resend(current_user, base_url=base_url, valid_hours=hours))
    message = (
        f"We have sent a new link to {current_user.email}. It works once, within {hours} hours." if outcome else None
    )
    return done(url_for("main.dashboard"), message)


@bp.route("/email", methods=["GET", "POST"])
@limiter.limit(_resend_limit, methods=["POST"], key_func=_person_key)
@permission_required("account.manage_own")
def change_email() -> Response:
    form = ChangeEmailForm()
    base_url, hours = _settings()
    old = current_user.email
    outcome = apply(
        form,
        lambda: verification.request_email_change(
            current_user,
            new_email=given(form.email.data),
            password=given(form.password.data),
            base_url=base_url,
            valid_hours=hours,
        ),
    )
    if outcome:
        # The same words whether or not the new address already has an account.
        message = (
            f"We have sent a link to {normalise_email(given(form.email.data))}. Your address changes "
            f"when you open it, within {hours} hours. We have told {old} too."
        )
        return done(url_for("accounts.profile"), message)
    pending = verification.pending_change(current_user)
    return refused("accounts/change_email.html", form=form, pending=pending, title="Change your email address")

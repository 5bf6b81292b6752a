"""Emails that could not be sent after every retry: who they were for, what kind, when, and the
last error, with a button to send one again (or all of them)."""

from __future__ import annotations

from flask import abort, current_app, request, url_for
from flask_login import current_user
from werkzeug.wrappers import Response

from portal.admin import bp
from portal.admin.forms import PlainForm
from portal.core import outbox
from portal.core.changes import apply, done
from portal.core.permissions import permission_required
from portal.core.web import render


@bp.route("/emails/failed", endpoint="failed_emails")
@permission_required("emails.read_failed")
def failed_emails() -> Response:
    before = request.args.get("before", type=int)
    if before is not None and not 0 < before < 2**31:
        before = None  # a made-up position starts from the newest
    messages, next_before = outbox.failed_page(before_id=before, size=current_app.config["PAGE_SIZE"])
    return render(
        "admin/failed_emails.html",
        block="failed",
        messages=messages,
        next_before=next_before,
        first_page=before is None,
        total=outbox.failed_count(),
        max_attempts=outbox.MAX_ATTEMPTS,
        form=PlainForm(formdata=None),
        title="Emails that could not be sent",
    )


@bp.route("/emails/failed/<int:message_id>/send-again", methods=["POST"], endpoint="send_email_again")
@permission_required("emails.send_again")
def send_email_again(message_id: int) -> Response:
    if not PlainForm().validate_on_submit():
        abort(400)
    message = outbox.failed_message(message_id)
    if message is None:
        return done(url_for("admin.failed_emails"), "That email is no longer waiting to be sent again.")
    apply(None, lambda: outbox.send_again(message, by=current_user))
    return done(url_for("admin.failed_emails"), f"The email to {message.to_email} will be sent again within a minute.")


@bp.route("/emails/failed/send-all-again", methods=["POST"], endpoint="send_all_emails_again")
@permission_required("emails.send_again")
def send_all_emails_again() -> Response:
    if not PlainForm().validate_on_submit():
        abort(400)
    sent = apply(None, lambda: outbox.send_all_again(by=current_user)).value or 0
    if not sent:
        return done(url_for("admin.failed_emails"), "No emails were waiting to be sent again.")
    return done(
        url_for("admin.failed_emails"),
        f"{sent} email{'s' if sent != 1 else ''} will be sent again within a few minutes.",
    )

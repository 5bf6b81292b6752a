"""Your sessions: the devices signed in to your account, and signing any of them out."""

from __future__ import annotations

from flask import abort, current_app, url_for
from flask_login import current_user
from werkzeug.wrappers import Response

from portal.accounts import bp, sessions
from portal.accounts.forms import EndSessionForm
from portal.core.changes import apply, done
from portal.core.permissions import permission_required
from portal.core.web import render


@bp.route("/sessions")
@permission_required("account.manage_own")
def sessions_page() -> Response:
    devices = sessions.signed_in_devices(current_user, idle_days=int(current_app.config["SESSION_IDLE_DAYS"]))
    this = current_user.device
    return render(
        "accounts/sessions.html",
        devices=devices,
        this_id=this.id if this is not None else None,
        form=EndSessionForm(),
        title="Your sessions",
    )


@bp.route("/sessions/<int:session_id>/end", methods=["POST"])
@permission_required("account.manage_own")
def end_session(session_id: int) -> Response:
    if not EndSessionForm().validate_on_submit():
        abort(400)
    this = current_user.device
    if this is not None and this.id == session_id:
        # This device: the sign-out button does that (and takes you to the home page).
        return done(url_for("accounts.sessions_page"), "To sign out on this device, use Sign out.")
    outcome = apply(None, lambda: sessions.end_one(current_user, session_id))
    return done(url_for("accounts.sessions_page"), "That device has been signed out." if outcome else None)


@bp.route("/sessions/end-others", methods=["POST"])
@permission_required("account.manage_own")
def end_other_sessions() -> Response:
    if not EndSessionForm().validate_on_submit():
        abort(400)
    outcome = apply(None, lambda: sessions.end_all(current_user, keep=current_user.device))
    ended = outcome.result if outcome else 0
    message = "Your other devices have been signed out." if ended else "You were not signed in anywhere else."
    return done(url_for("accounts.sessions_page"), message)

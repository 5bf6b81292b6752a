"""Routes for members keeping themselves safe: block and unblock, and report a member or a message."""

from __future__ import annotations

from flask import abort, url_for
from flask_login import current_user
from werkzeug.wrappers import Response

from portal.accounts.models import User
from portal.core.changes import apply, done, refused
from portal.core.extensions import db
from portal.core.permissions import can, permission_required, require
from portal.core.web import paginate, render
from portal.directory import blocks, bp, reports, services
from portal.directory.forms import ButtonForm, ReportForm
from portal.directory.models import PeerMessage

REPORTED = "Thank you for telling us. Programme staff will look at your report."
ALREADY_REPORTED = "You have already reported this. Programme staff will look at it."


def _person_or_404(user_id: int) -> User:
    person = db.session.get(User, user_id)
    if person is None or not person.is_active:
        abort(404)
    return person


@bp.route("/people/<int:user_id>/block", methods=["POST"], endpoint="block")
@permission_required("directory.view")
def block(user_id: int) -> Response:
    person = _person_or_404(user_id)
    name = services.names({person.id})[person.id]
    outcome = apply(ButtonForm(), lambda: blocks.block(current_user, person))
    if not outcome:  # yourself (the message is flashed), or the form was not sent from the portal
        return done(url_for("people.entry", user_id=person.id))
    return done(
        url_for("people.blocked"),
        f"You blocked {name}. Neither of you can message the other or see the other's directory entry."
        if outcome.result
        else f"You had already blocked {name}.",
    )


@bp.route("/people/blocked", endpoint="blocked")
@permission_required("directory.view")
def blocked() -> Response:
    page = paginate(blocks.blocked_query(current_user.id))
    return render(
        "people/blocked.html",
        block="results",
        page=page,
        names=services.names({b.blocked_id for b in page.items}),
        form=ButtonForm(formdata=None),
        title="People you have blocked",
    )


@bp.route("/people/blocked/<int:user_id>/unblock", methods=["POST"], endpoint="unblock")
@permission_required("directory.view")
def unblock(user_id: int) -> Response:
    person = db.get_or_404(User, user_id)
    name = services.names({person.id})[person.id]
    outcome = apply(ButtonForm(), lambda: blocks.unblock(current_user, person))
    if outcome and outcome.result:
        return done(url_for("people.blocked"), f"You unblocked {name}. You can message each other again.")
    return done(url_for("people.blocked"), f"{name} was not blocked." if outcome else None)


@bp.route("/people/<int:user_id>/report", methods=["GET", "POST"], endpoint="report_member")
@permission_required("directory.view")
def report_member(user_id: int) -> Response:
    person = _person_or_404(user_id)
    if not can(current_user, "member.report", person):
        abort(404)  # not someone this member can come across: no names of other accounts
    name = services.names({person.id})[person.id]
    form = ReportForm()
    outcome = apply(
        form,
        lambda: reports.report_member(
            current_user, person, reason=form.reason.data or "", details=form.details.data or ""
        ),
    )
    if outcome:
        back = (
            url_for("people.blocked") if blocks.has_blocked(current_user.id, person.id) else url_for("people.directory")
        )
        return done(back, REPORTED if outcome.result else ALREADY_REPORTED)
    return refused("people/report.html", form=form, person=person, name=name, message=None, title=f"Report {name}")


@bp.route("/people/messages/<int:message_id>/report", methods=["GET", "POST"], endpoint="report_message")
@permission_required("directory.view")
def report_message(message_id: int) -> Response:
    message = db.get_or_404(PeerMessage, message_id)
    require("message.report", message)
    name = services.names({message.sender_id})[message.sender_id]
    form = ReportForm()
    outcome = apply(
        form,
        lambda: reports.report_message(
            current_user, message, reason=form.reason.data or "", details=form.details.data or ""
        ),
    )
    if outcome:
        return done(url_for("people.message", message_id=message.id), REPORTED if outcome.result else ALREADY_REPORTED)
    return refused("people/report.html", form=form, person=None, name=name, message=message, title="Report a message")

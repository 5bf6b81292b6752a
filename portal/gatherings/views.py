"""Routes for gatherings: the lists, the gathering page, booking, organising and attendance.

Gatherings are for signed-in members. Organisers (the person who made it, and staff) edit it,
see who booked with their access needs, and mark attendance.
"""

from __future__ import annotations

import sqlalchemy as sa
from flask import abort, current_app, flash, make_response, request, url_for
from flask_login import current_user
from sqlalchemy.orm import joinedload
from werkzeug.wrappers import Response

from portal.core.changes import apply, done, refused
from portal.core.db import utcnow
from portal.core.extensions import db
from portal.core.permissions import can, permission_required, require
from portal.core.web import paginate, render
from portal.gatherings import bp, calendar, services
from portal.gatherings.forms import AttendanceForm, CancelForm, GatheringForm, RsvpForm, number_text
from portal.gatherings.models import Gathering, RsvpState
from portal.gatherings.services import AttendanceResult


def _gathering_or_404(gathering_id: int) -> Gathering:
    gathering: Gathering | None = db.session.scalar(
        sa.select(Gathering)
        .options(joinedload(Gathering.organiser), joinedload(Gathering.project), joinedload(Gathering.activity_type))
        .where(Gathering.id == gathering_id)
    )
    if gathering is None:
        abort(404)
    return gathering


def _gathering_url(gathering_id: int, anchor: str = "") -> str:
    return url_for("gatherings.gathering", gathering_id=gathering_id, _anchor=anchor or None)


# --- lists -------------------------------------------------------------------------------


def _list(query: sa.Select[Gathering], *, past: bool) -> Response:
    page = paginate(query)
    ids = [g.id for g in page.items]
    return render(
        "gatherings/list.html",
        block="results",
        page=page,
        past=past,
        going=services.going_counts(ids),
        mine=services.my_states(ids, current_user.id),
        title="Past gatherings" if past else "Gatherings",
    )


@bp.route("/gatherings", endpoint="upcoming")
@permission_required("gatherings.view")
def upcoming() -> Response:
    return _list(services.upcoming_query(utcnow()), past=False)


@bp.route("/gatherings/past", endpoint="past")
@permission_required("gatherings.view")
def past() -> Response:
    return _list(services.past_query(utcnow()), past=True)


# --- making and changing -----------------------------------------------------------------


def _form_page(form: GatheringForm, gathering: Gathering | None) -> Response:
    title = f"Change {gathering.title}" if gathering else "New gathering"
    return refused("gatherings/form.html", form=form, gathering=gathering, title=title)


def _prepared(form: GatheringForm) -> GatheringForm:
    form.set_choices(services.paid_activities(), services.project_choices(current_user))
    return form


@bp.route("/gatherings/new", methods=["GET", "POST"], endpoint="new")
@permission_required("gatherings.create")
def new_gathering() -> Response:
    form = _prepared(GatheringForm(capacity="20"))
    outcome = apply(form, lambda: services.create_gathering(form.details(), by=current_user))
    if outcome:
        return done(_gathering_url(outcome.result.id), "The gathering is published. Members can now book a place.")
    return _form_page(form, None)


@bp.route("/gatherings/<int:gathering_id>/edit", methods=["GET", "POST"], endpoint="edit")
@permission_required("gatherings.view")
def edit_gathering(gathering_id: int) -> Response:
    gathering = _gathering_or_404(gathering_id)
    require("gathering.manage", gathering)
    form = _prepared(GatheringForm() if request.method == "POST" else GatheringForm.for_gathering(gathering))
    opened_at = gathering.version
    outcome = apply(
        form, lambda: services.update_gathering(gathering, form.details(), by=current_user, seen=form.version.seen)
    )
    if outcome and gathering.version == opened_at:
        return done(_gathering_url(gathering_id), "Nothing had changed, so there was nothing to save.")
    if outcome:
        moved_up = f" {len(outcome.result)} from the waiting list now have a place." if outcome.result else ""
        message = "The gathering is changed. People with a place are told if the time or place moved."
        return done(_gathering_url(gathering_id), message + moved_up)
    return _form_page(form, gathering)


# --- the gathering page and booking --------------------------------------------------------


def _gathering_page(gathering: Gathering, *, rsvp_form: RsvpForm | None = None, status: int = 200) -> Response:
    mine = services.rsvp_of(gathering.id, current_user.id)
    going = services.going_count(gathering.id)
    return render(
        "gatherings/gathering.html",
        status=status,
        gathering=gathering,
        rsvp=mine,
        going=going,
        waiting_position=services.waiting_position(mine) if mine and mine.state == RsvpState.WAITING else None,
        rsvp_form=rsvp_form or RsvpForm(formdata=None),
        cancel_form=CancelForm(formdata=None),
        started=gathering.starts_at <= utcnow(),
        is_organiser=can(current_user, "gathering.manage", gathering),
        units_text=number_text(gathering.units),
        title=gathering.title,
    )


@bp.route("/gatherings/<int:gathering_id>", endpoint="gathering")
@permission_required("gatherings.view")
def show_gathering(gathering_id: int) -> Response:
    return _gathering_page(_gathering_or_404(gathering_id))


BOOKED = "You have a place. We have sent you a confirmation."
WAITING = (
    "The gathering is full, so you are on the waiting list. If a place comes free you get it "
    "automatically, and we will tell you."
)


@bp.route("/gatherings/<int:gathering_id>/rsvp", methods=["POST"], endpoint="rsvp")
@permission_required("gatherings.view")
def rsvp(gathering_id: int) -> Response:
    gathering = _gathering_or_404(gathering_id)
    form = RsvpForm()
    needs, lived = form.access_needs.data or "", bool(form.lived_experience.data)
    outcome = apply(
        form, lambda: services.book(gathering, current_user, access_needs=needs, lived_experience=lived).state
    )
    url = _gathering_url(gathering_id, "your-booking")
    if outcome:
        return done(url, BOOKED if outcome.result == RsvpState.GOING else WAITING)
    if outcome.error and outcome.error.field == "rsvp":  # already booked, or too late: nothing to correct in the form
        flash(outcome.error.message, "error")
        return done(url)
    return _gathering_page(gathering, rsvp_form=form, status=422)


@bp.route("/gatherings/<int:gathering_id>/cancel", methods=["POST"], endpoint="cancel_rsvp")
@permission_required("gatherings.view")
def cancel_rsvp(gathering_id: int) -> Response:
    gathering = _gathering_or_404(gathering_id)
    url = _gathering_url(gathering_id, "your-booking")
    if not CancelForm().validate_on_submit():
        return done(url)
    outcome = apply(None, lambda: services.cancel(gathering, current_user))
    return done(url, "Your booking is cancelled. Thank you for letting us know." if outcome else None)


@bp.route("/gatherings/<int:gathering_id>/calendar.ics", endpoint="calendar")
@permission_required("gatherings.view")
def calendar_file(gathering_id: int) -> Response:
    gathering = _gathering_or_404(gathering_id)
    body = calendar.gathering_ics(gathering, base_url=current_app.config["BASE_URL"], now=utcnow())
    response = make_response(body.encode("utf-8"))
    response.headers["Content-Type"] = "text/calendar; charset=utf-8"
    response.headers["Content-Disposition"] = f'attachment; filename="gathering-{gathering.id}.ics"'
    return response


# --- organisers: who booked, access needs, attendance ------------------------------------------


@bp.route("/gatherings/<int:gathering_id>/people", endpoint="people")
@permission_required("gatherings.view")
def booked_people(gathering_id: int) -> Response:
    gathering = _gathering_or_404(gathering_id)
    require("gathering.manage", gathering)
    return render(
        "gatherings/people.html",
        block="results",
        gathering=gathering,
        page=paginate(services.booked_people_query(gathering.id)),
        going=services.going_count(gathering.id),
        started=gathering.starts_at <= utcnow(),
        form=AttendanceForm(formdata=None),
        title=f"People booked: {gathering.title}",
    )


def _attendance_message(result: AttendanceResult) -> str:
    message = f"{result.marked} marked as attended."
    if result.claims_drafted:
        message += (
            f" {result.claims_drafted} draft claim{'s' if result.claims_drafted != 1 else ''} made "
            "for paid attendees; they have been told."
        )
    if result.no_rate:
        message += (
            f" {result.no_rate} could not get a draft claim because the activity has no rate on "
            "that date; they can claim by hand."
        )
    return message


@bp.route("/gatherings/<int:gathering_id>/attendance", methods=["POST"], endpoint="attendance")
@permission_required("gatherings.view")
def mark_attendance(gathering_id: int) -> Response:
    gathering = _gathering_or_404(gathering_id)
    require("gathering.manage", gathering)
    url = url_for("gatherings.people", gathering_id=gathering_id, page=request.args.get("page"))
    if not AttendanceForm().validate_on_submit():
        return done(url)
    ids = [
        int(value)
        for value in request.form.getlist("attended")
        if value.isascii() and value.isdigit() and len(value) <= 9
    ]
    outcome = apply(None, lambda: services.mark_attendance(gathering, ids, by=current_user))
    return done(url, _attendance_message(outcome.result) if outcome else None)

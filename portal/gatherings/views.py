"""Routes for gatherings: the lists, the gathering page, booking, organising and attendance.

Gatherings are for signed-in members. Organisers (the person who made it, and staff) edit it,
see who booked with their access needs, and mark attendance.
"""

from __future__ import annotations

import sqlalchemy as sa
from flask import abort, current_app, flash, make_response, request, url_for
from flask_login import current_user
from flask_sqlalchemy.pagination import Pagination
from sqlalchemy.orm import joinedload
from werkzeug.wrappers import Response

from portal.core.db import utcnow
from portal.core.errors import RuleBroken
from portal.core.extensions import db
from portal.core.forms import attach_error
from portal.core.permissions import can, permission_required, require
from portal.core.web import redirect_to, render
from portal.gatherings import bp, calendar, services
from portal.gatherings.forms import AttendanceForm, CancelForm, GatheringForm, RsvpForm, number_text
from portal.gatherings.models import Gathering, RsvpState


def _paginate(query: sa.Select[tuple[object]]) -> Pagination:
    page = request.args.get("page", 1, type=int) or 1
    return db.paginate(query, page=page, per_page=current_app.config["PAGE_SIZE"], error_out=False)


def _gathering_or_404(gathering_id: int) -> Gathering:
    gathering = db.session.scalar(
        sa.select(Gathering)
        .options(joinedload(Gathering.organiser), joinedload(Gathering.project), joinedload(Gathering.activity_type))
        .where(Gathering.id == gathering_id)
    )
    if gathering is None:
        abort(404)
    return gathering


def _to_gathering(gathering_id: int, anchor: str = "") -> Response:
    return redirect_to(url_for("gatherings.gathering", gathering_id=gathering_id, _anchor=anchor or None))


# --- lists -------------------------------------------------------------------------------


def _list(query: sa.Select[tuple[Gathering]], *, past: bool) -> Response:
    page = _paginate(query)
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


def _form_page(form: GatheringForm, gathering: Gathering | None, status: int = 200) -> Response:
    return render(
        "gatherings/form.html",
        status=status,
        form=form,
        gathering=gathering,
        title=f"Change {gathering.title}" if gathering else "New gathering",
    )


def _prepared(form: GatheringForm) -> GatheringForm:
    form.set_choices(services.paid_activities(), services.project_choices(current_user))
    return form


@bp.route("/gatherings/new", methods=["GET", "POST"], endpoint="new")
@permission_required("gatherings.create")
def new_gathering() -> Response:
    form = _prepared(GatheringForm(capacity="20"))
    if form.validate_on_submit():
        try:
            gathering = services.create_gathering(form.details(), by=current_user)
        except RuleBroken as error:
            db.session.rollback()
            attach_error(form, error.field, error.message)
        else:
            db.session.commit()
            flash("The gathering is published. Members can now book a place.", "success")
            return _to_gathering(gathering.id)
    return _form_page(form, None, 422 if request.method == "POST" else 200)


@bp.route("/gatherings/<int:gathering_id>/edit", methods=["GET", "POST"], endpoint="edit")
@permission_required("gatherings.view")
def edit_gathering(gathering_id: int) -> Response:
    gathering = _gathering_or_404(gathering_id)
    require("gathering.manage", gathering)
    form = _prepared(GatheringForm() if request.method == "POST" else GatheringForm.for_gathering(gathering))
    if form.validate_on_submit():
        try:
            promoted = services.update_gathering(gathering, form.details(), by=current_user)
        except RuleBroken as error:
            db.session.rollback()
            gathering = _gathering_or_404(gathering_id)
            attach_error(form, error.field, error.message)
        else:
            db.session.commit()
            moved_up = f" {len(promoted)} from the waiting list now have a place." if promoted else ""
            flash(
                "The gathering is changed. People with a place are told if the time or place moved." + moved_up,
                "success",
            )
            return _to_gathering(gathering_id)
    return _form_page(form, gathering, 422 if request.method == "POST" else 200)


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


@bp.route("/gatherings/<int:gathering_id>/rsvp", methods=["POST"], endpoint="rsvp")
@permission_required("gatherings.view")
def rsvp(gathering_id: int) -> Response:
    gathering = _gathering_or_404(gathering_id)
    form = RsvpForm()
    if form.validate_on_submit():
        try:
            booked = services.book(
                gathering,
                current_user,
                access_needs=form.access_needs.data or "",
                lived_experience=bool(form.lived_experience.data),
            )
        except RuleBroken as error:
            db.session.rollback()
            if error.field == "rsvp":  # already booked, or too late: nothing to correct in the form
                flash(error.message, "error")
                return _to_gathering(gathering_id, "your-booking")
            gathering = _gathering_or_404(gathering_id)
            attach_error(form, error.field, error.message)
        else:
            state = booked.state
            db.session.commit()
            if state == RsvpState.GOING:
                flash("You have a place. We have sent you a confirmation.", "success")
            else:
                flash(
                    "The gathering is full, so you are on the waiting list. If a place comes free you get it "
                    "automatically, and we will tell you.",
                    "success",
                )
            return _to_gathering(gathering_id, "your-booking")
    return _gathering_page(gathering, rsvp_form=form, status=422)


@bp.route("/gatherings/<int:gathering_id>/cancel", methods=["POST"], endpoint="cancel_rsvp")
@permission_required("gatherings.view")
def cancel_rsvp(gathering_id: int) -> Response:
    gathering = _gathering_or_404(gathering_id)
    form = CancelForm()
    if form.validate_on_submit():
        try:
            services.cancel(gathering, current_user)
        except RuleBroken as error:
            db.session.rollback()
            flash(error.message, "error")
        else:
            db.session.commit()
            flash("Your booking is cancelled. Thank you for letting us know.", "success")
    return _to_gathering(gathering_id, "your-booking")


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


def _people_page(gathering: Gathering, *, form: AttendanceForm | None = None, status: int = 200) -> Response:
    page = _paginate(services.booked_people_query(gathering.id))
    return render(
        "gatherings/people.html",
        block="results",
        status=status,
        gathering=gathering,
        page=page,
        going=services.going_count(gathering.id),
        started=gathering.starts_at <= utcnow(),
        form=form or AttendanceForm(formdata=None),
        title=f"People booked: {gathering.title}",
    )


@bp.route("/gatherings/<int:gathering_id>/people", endpoint="people")
@permission_required("gatherings.view")
def booked_people(gathering_id: int) -> Response:
    gathering = _gathering_or_404(gathering_id)
    require("gathering.manage", gathering)
    return _people_page(gathering)


@bp.route("/gatherings/<int:gathering_id>/attendance", methods=["POST"], endpoint="attendance")
@permission_required("gatherings.view")
def mark_attendance(gathering_id: int) -> Response:
    gathering = _gathering_or_404(gathering_id)
    require("gathering.manage", gathering)
    form = AttendanceForm()
    if form.validate_on_submit():
        ids = [int(value) for value in request.form.getlist("attended") if value.isdigit()]
        try:
            result = services.mark_attendance(gathering, ids, by=current_user)
        except RuleBroken as error:
            db.session.rollback()
            flash(error.message, "error")
        else:
            db.session.commit()
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
            flash(message, "success")
    return redirect_to(url_for("gatherings.people", gathering_id=gathering_id, page=request.args.get("page")))

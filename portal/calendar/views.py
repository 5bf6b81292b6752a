"""The calendar page (make, replace or turn off your private link) and the two feeds.

The feeds need no sign-in: calendar apps fetch them on their own. A private feed's secret
address is its authority, so an unknown, revoked or deactivated person's link is "not found".
"""

from __future__ import annotations

import icalendar
from flask import abort, current_app, make_response, url_for
from flask_login import current_user
from werkzeug.wrappers import Response

from portal.calendar import bp, feeds, links
from portal.calendar.forms import CalendarLinkForm
from portal.core.changes import apply, done
from portal.core.db import utcnow
from portal.core.permissions import permission_required, public
from portal.core.web import render


def _base_url() -> str:
    return str(current_app.config["BASE_URL"]).rstrip("/")


def _page(new_link: str = "") -> Response:
    response = render(
        "calendar/calendar.html",
        feed=links.live_feed(current_user.id),
        new_link=new_link,
        subscribe_link=new_link.replace("https://", "webcal://", 1) if new_link.startswith("https://") else "",
        public_feed=_base_url() + url_for("calendar.public_feed"),
        form=CalendarLinkForm(formdata=None),
        title="Your calendar",
    )
    response.headers["Cache-Control"] = "private, no-store"  # the page may show the secret link
    return response


@bp.route("/calendar", endpoint="page")
@permission_required("calendar.own")
def calendar_page() -> Response:
    return _page()


@bp.route("/calendar/link", methods=["POST"], endpoint="make_link")
@permission_required("calendar.own")
def make_link() -> Response:
    form = CalendarLinkForm()
    outcome = apply(form, lambda: links.make_link(current_user))
    if not outcome:
        return done(url_for("calendar.page"))
    # Shown on this answer and never again (only its hash is kept), so no redirect first.
    return _page(new_link=_base_url() + url_for("calendar.private_feed", token=outcome.result))


@bp.route("/calendar/off", methods=["POST"], endpoint="turn_off")
@permission_required("calendar.own")
def turn_off() -> Response:
    form = CalendarLinkForm()
    outcome = apply(form, lambda: links.turn_off(current_user))
    message = "Your calendar link is turned off. Calendar apps using it will stop getting your dates."
    return done(url_for("calendar.page"), message if outcome else None)


def _ics(calendar: icalendar.Calendar, *, cache: str) -> Response:
    response = make_response(calendar.to_ical())
    response.headers["Content-Type"] = "text/calendar; charset=utf-8"
    response.headers["Cache-Control"] = cache
    response.headers["X-Robots-Tag"] = "noindex"
    return response


@bp.route("/calendar/public.ics", endpoint="public_feed")
@public
def public_feed() -> Response:
    return _ics(feeds.public_calendar(base_url=_base_url(), now=utcnow()), cache="public, max-age=300")


@bp.route("/calendar/<token>.ics", endpoint="private_feed")
@public
def private_feed(token: str) -> Response:
    person = links.person_for_token(token)
    if person is None:
        abort(404)
    return _ics(feeds.private_calendar(person, base_url=_base_url(), now=utcnow()), cache="private, no-store")

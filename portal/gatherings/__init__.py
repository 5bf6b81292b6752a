"""Gatherings: workshops and meetings, bookings with a waiting list, attendance and paid time."""

from flask import Blueprint

bp = Blueprint("gatherings", __name__)

from portal.gatherings import views  # noqa: E402,F401  (register the routes)
from portal.gatherings.digest import digest_items, upcoming_for_digest  # noqa: E402,F401  (the weekly digest's section)

"""The member directory (people opt in and choose what to show) and messages between members."""

from flask import Blueprint

bp = Blueprint("people", __name__)

from portal.people import views  # noqa: E402,F401  (register the routes)

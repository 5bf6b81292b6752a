"""Calendar feeds: a private iCalendar link per person and a public feed of public gatherings."""

from flask import Blueprint

bp = Blueprint("calendar", __name__)

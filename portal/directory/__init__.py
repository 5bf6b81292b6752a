"""The member directory (people opt in and choose what to show) and messages between members.

Its blueprint keeps the name of its pages, "people" (/people/...)."""

from flask import Blueprint

bp = Blueprint("people", __name__)

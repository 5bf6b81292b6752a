"""Gatherings: workshops and meetings, bookings with a waiting list, attendance and paid time."""

from flask import Blueprint

bp = Blueprint("gatherings", __name__)

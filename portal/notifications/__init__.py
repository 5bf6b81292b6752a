"""In-app notifications with optional email, grouped repeats, and each person's choices. Other domains call
``portal.notifications.service.notify``."""

from flask import Blueprint

bp = Blueprint("notifications", __name__, cli_group=None)  # send-digest at the top level

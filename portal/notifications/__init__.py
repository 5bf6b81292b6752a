"""In-app notifications with optional email, and the weekly digest. Other domains call
``portal.notifications.service.notify``."""

from flask import Blueprint

bp = Blueprint("notifications", __name__, cli_group=None)  # send-digest at the top level

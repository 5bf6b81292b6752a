"""Grant phases, applications, panel reviews, decisions, and the pilot projects awards create."""

from flask import Blueprint

bp = Blueprint("grants", __name__)

from portal.grants import (  # noqa: E402,F401  (register the routes)
    application_views,
    phase_views,
    project_views,
    review_views,
)

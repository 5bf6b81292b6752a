"""Community storytellers: consented stories, moderation, withdrawal, the library, the CSV
import and the storyteller summary."""

from flask import Blueprint

bp = Blueprint("stories", __name__, url_prefix="/stories")

from portal.stories import (  # noqa: E402,F401  (register the routes)
    member_views,
    public_views,
    staff_views,
)

"""Learning posts, the feed, comments, validation ("this resonates"), flags and moderation."""

from flask import Blueprint

bp = Blueprint("learning", __name__, url_prefix="/learning")

from portal.learning import moderation_views, views  # noqa: E402,F401  (register the routes)

"""Learning posts, the feed, comments, validation ("this resonates"), flags and moderation."""

from flask import Blueprint

bp = Blueprint("learning", __name__, url_prefix="/learning")

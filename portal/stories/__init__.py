"""Community storytellers: consented stories, moderation, withdrawal, the library, the CSV
import and the storyteller summary."""

from flask import Blueprint

bp = Blueprint("stories", __name__, url_prefix="/stories")

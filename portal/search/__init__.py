"""One search across stories, learning posts and public pilot pages (see service.py)."""

from flask import Blueprint

bp = Blueprint("search", __name__, cli_group=None)  # reindex-search at the top level

"""Grant phases, applications, panel reviews, decisions, and the pilot projects awards create."""

from flask import Blueprint

bp = Blueprint("grants", __name__)

"""Paying lived-experience contributors: rate card, claims, approvals, batches and statements."""

from flask import Blueprint

bp = Blueprint("remuneration", __name__)

"""Paying lived-experience contributors: rate card, claims, approvals, batches and statements."""

from flask import Blueprint

bp = Blueprint("remuneration", __name__)

from portal.remuneration import (  # noqa: E402,F401  (register the routes)
    claim_views,
    finance_views,
    rate_views,
    review_views,
)

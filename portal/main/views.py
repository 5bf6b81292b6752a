"""The programme's front page, each person's dashboard, and the health check."""

from __future__ import annotations

from typing import TypedDict

import sqlalchemy as sa
from flask import current_app, jsonify, request
from flask_login import current_user
from werkzeug.wrappers import Response

from portal.accounts import verification
from portal.core.db import database_answers, utcnow
from portal.core.extensions import db
from portal.core.permissions import permission_required, public
from portal.core.schedule import worker_health
from portal.core.web import render
from portal.grants import invitations, reviews
from portal.grants.forms import ActionForm
from portal.main import bp
from portal.notifications.models import Notification
from portal.notifications.reminders import unread_reminders
from portal.remuneration.dashboards import confirmations_query
from portal.remuneration.models import Claim, ClaimState
from portal.teams.models import TeamMembership, TeamRole


@bp.route("/")
@public
def home() -> Response:
    return render("main/home.html", title="Co-Production Portal")


@bp.route("/dashboard")
@permission_required("account.manage_own")
def dashboard() -> Response:
    return render(
        "main/dashboard.html",
        title="Your dashboard",
        invitations_form=ActionForm(formdata=None),
        verification_link=None if current_user.verified else verification.waiting_link(current_user),
        **_your_work(),
        **_your_invitations(),
    )


class YourInvitations(TypedDict):
    invitations: list[invitations.Waiting]
    invitations_unverified: int


def _your_invitations() -> YourInvitations:
    """Invitations to this person's address they can answer; only a verified address may see whose
    they are (an unverified one is told how many wait, and to confirm the address first)."""
    now = utcnow()
    if current_user.verified:
        return {"invitations": invitations.waiting_for(current_user, now), "invitations_unverified": 0}
    return {"invitations": [], "invitations_unverified": invitations.waiting_count(current_user, now)}


class YourWork(TypedDict):
    claims_to_finish: int
    leads_a_project: bool
    to_confirm: int
    to_score: int
    reminders: list[Notification]


def _your_work() -> YourWork:
    """The few numbers that say what is waiting for this person; the linked pages hold the detail."""
    user = current_user
    claims_to_finish = db.session.scalar(
        sa.select(sa.func.count()).where(
            Claim.claimant_id == user.id, Claim.state.in_((ClaimState.DRAFT, ClaimState.QUERIED))
        )
    )
    leads = db.session.scalar(
        sa.select(sa.func.count()).where(TeamMembership.user_id == user.id, TeamMembership.role == TeamRole.LEAD)
    )
    to_confirm = (
        db.session.scalar(sa.select(sa.func.count()).select_from(confirmations_query(user).order_by(None).subquery()))
        if leads
        else 0
    )
    return {
        "claims_to_finish": claims_to_finish or 0,
        "leads_a_project": bool(leads),
        "to_confirm": to_confirm or 0,
        "to_score": reviews.still_to_score_count(user),
        "reminders": unread_reminders(user.id, limit=5),
    }


@bp.route("/healthz")
@public
def healthz() -> Response:
    """200 when the database answers and a worker ticked within ``WORKER_STALE_MINUTES``;
    503, saying which part failed, otherwise. ``?only=web`` leaves the workers out (for a load
    balancer deciding whether this app process can serve pages).

    The database check is a new connection's query, given ``HEALTHZ_TIMEOUT_MS`` (1.5 s) in all:
    a database that is down, hung or locked is reported within it (``database`` says
    "unreachable" or "timed out"), never waited for."""
    config = current_app.config
    problem = database_answers(
        db.engine.url,
        config["SQLALCHEMY_ENGINE_OPTIONS"].get("connect_args", {}),
        timeout_ms=int(config["HEALTHZ_TIMEOUT_MS"]),
    )
    if problem:
        response = jsonify(status="error", database=problem)
        response.status_code = 503
        return response
    if request.args.get("only") == "web":
        return jsonify(status="ok", database="ok")
    healthy, seen = worker_health(utcnow(), current_app.config["WORKER_STALE_MINUTES"])
    response = jsonify(
        status="ok" if healthy else "error",
        database="ok",
        worker="ok" if healthy else ("late" if seen else "never seen"),
        worker_seen_at=seen.isoformat() if seen else None,
    )
    response.status_code = 200 if healthy else 503
    return response

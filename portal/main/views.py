"""The programme's front page, each person's dashboard, and the health check."""

from __future__ import annotations

import sqlalchemy as sa
from flask import jsonify
from werkzeug.wrappers import Response

from portal.extensions import db
from portal.main import bp
from portal.permissions import permission_required, public
from portal.web import render


@bp.route("/")
@public
def home() -> Response:
    return render("main/home.html", title="Co-Production Portal")


@bp.route("/dashboard")
@permission_required("account.manage_own")
def dashboard() -> Response:
    return render("main/dashboard.html", title="Your dashboard")


@bp.route("/healthz")
@public
def healthz() -> Response:
    try:
        db.session.execute(sa.text("SELECT 1"))
    except sa.exc.SQLAlchemyError:
        db.session.rollback()
        response = jsonify(status="error", database="unreachable")
        response.status_code = 503
        return response
    return jsonify(status="ok", database="ok")

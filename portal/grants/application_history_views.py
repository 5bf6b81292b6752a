"""An application's saved versions (``core.revisions``) and a word-by-word comparison of any two,
for the applying team and programme staff (not its reviewers: they read what was sent)."""

from __future__ import annotations

from flask import abort, request, url_for
from werkzeug.wrappers import Response

from portal.core import revisions
from portal.core.permissions import permission_required, require
from portal.core.web import paginate, render
from portal.grants import bp
from portal.grants.application_views import application_or_404
from portal.grants.applications import LABELS
from portal.grants.models import Application


def _application(application_id: int) -> Application:
    application = application_or_404(application_id)
    require("application.history", application)
    return application


@bp.route("/applications/<int:application_id>/history")
@permission_required("applications.start")
def application_history(application_id: int) -> Response:
    application = _application(application_id)
    return render(
        "revisions.html",
        title=f"Saved versions: {application.title or 'untitled application'}",
        back_url=url_for("grants.application", application_id=application.id),
        back_text="the application",
        page=paginate(revisions.history(Application.__tablename__, application.id)),
        compare_url=url_for("grants.application_compare", application_id=application.id),
        labels=LABELS,
        endpoint="grants.application_history",
        endpoint_args={"application_id": application.id},
    )


def _revision_or_404(application: Application, name: str) -> revisions.Revision:
    text = request.args.get(name, "")
    found = (
        revisions.revision(Application.__tablename__, application.id, int(text))
        if text.isascii() and text.isdigit() and len(text) < 10
        else None
    )
    if found is None:
        abort(404)
    return found


@bp.route("/applications/<int:application_id>/history/compare")
@permission_required("applications.start")
def application_compare(application_id: int) -> Response:
    application = _application(application_id)
    pair = (_revision_or_404(application, "from"), _revision_or_404(application, "to"))
    old, new = sorted(pair, key=lambda kept: kept.version)
    return render(
        "revision_compare.html",
        title=f"What changed: {application.title or 'untitled application'}",
        history_url=url_for("grants.application_history", application_id=application.id),
        old=old,
        new=new,
        changes=revisions.compare(LABELS, old.fields, new.fields),
    )

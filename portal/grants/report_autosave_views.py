"""Autosave for a progress report being written: htmx posts the form two seconds after typing
stops, and the page says "Saved 14:02". The same version check as "Save as draft", so a report
someone else saved since is never overwritten: both versions are shown and autosave stops. The
form keeps the version it was opened at, so "Save as draft" then shows the whole conflict page,
where the person merges; nothing typed by either person is lost to a timer."""

from __future__ import annotations

from flask import abort, make_response, request
from flask_login import current_user
from werkzeug.wrappers import Response

from portal.core.changes import apply
from portal.core.permissions import permission_required, require
from portal.grants import autosave, bp, reports
from portal.grants.project_forms import ReportForm, seen
from portal.grants.project_views import project_or_404


@bp.route("/projects/<int:project_id>/reports/<int:report_id>/autosave", methods=["POST"])
@permission_required("projects.mine")
def autosave_report(project_id: int, report_id: int) -> Response:
    project = project_or_404(project_id)
    require("project.report", project)
    report = reports.report_of(project, report_id)
    if report is None:
        abort(404)
    if request.form.get("autosave") == "paused":  # after a conflict: nothing saved, the panel stays
        return make_response("", 204)
    form = ReportForm()
    outcome = apply(
        form,
        lambda: reports.save_draft(report, form.content(), by=current_user, seen=seen(form.version)),
        show_errors=False,
    )
    return autosave.reply(
        outcome,
        form,
        saved_version=report.version,
        opened_version=seen(form.version),
        save_label="Save as draft",
        keep_version=True,
    )

"""A progress report's saved versions (``core.revisions``) and a word-by-word comparison of any
two, for the project's team and programme staff (``report.history``)."""

from __future__ import annotations

from flask import abort, request, url_for
from werkzeug.wrappers import Response

from portal.core import revisions
from portal.core.formatting import local_date
from portal.core.permissions import permission_required, require
from portal.core.web import paginate, render
from portal.grants import bp, reports
from portal.grants.models import ProgressReport
from portal.grants.project_views import project_or_404
from portal.teams.models import Project


def _report_or_404(project_id: int, report_id: int) -> tuple[Project, ProgressReport]:
    project = project_or_404(project_id)
    require("report.history", project)
    report = reports.report_of(project, report_id)
    if report is None:
        abort(404)
    return project, report


def _revision_or_404(report: ProgressReport, name: str) -> revisions.Revision:
    text = request.args.get(name, "")
    ok = text.isascii() and text.isdigit() and len(text) < 10
    found = revisions.revision(ProgressReport.__tablename__, report.id, int(text)) if ok else None
    if found is None:
        abort(404)
    return found


@bp.route("/projects/<int:project_id>/reports/<int:report_id>/history", endpoint="report_history")
@permission_required("projects.mine")
def report_history(project_id: int, report_id: int) -> Response:
    project, report = _report_or_404(project_id, report_id)
    return render(
        "revisions.html",
        title=f"Saved versions: progress report due {local_date(report.due_on)}",
        back_url=url_for("grants.project_report", project_id=project.id, report_id=report.id),
        back_text="the report",
        page=paginate(revisions.history(ProgressReport.__tablename__, report.id)),
        compare_url=url_for("grants.report_compare", project_id=project.id, report_id=report.id),
        labels=ProgressReport.__revised__,
        endpoint="grants.report_history",
        endpoint_args={"project_id": project.id, "report_id": report.id},
    )


@bp.route("/projects/<int:project_id>/reports/<int:report_id>/history/compare", endpoint="report_compare")
@permission_required("projects.mine")
def report_compare(project_id: int, report_id: int) -> Response:
    project, report = _report_or_404(project_id, report_id)
    old, new = sorted((_revision_or_404(report, "from"), _revision_or_404(report, "to")), key=lambda r: r.version)
    return render(
        "revision_compare.html",
        title=f"What changed: progress report due {local_date(report.due_on)}",
        history_url=url_for("grants.report_history", project_id=project.id, report_id=report.id),
        old=old,
        new=new,
        changes=revisions.compare(ProgressReport.__revised__, old.fields, new.fields),
    )

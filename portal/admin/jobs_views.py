"""The scheduled jobs page: what the portal does by itself, what happened last, what failed."""

from __future__ import annotations

from flask import abort, current_app, url_for
from flask_login import current_user
from werkzeug.wrappers import Response

from portal.admin import bp
from portal.admin.forms import PlainForm
from portal.core import audit, outbox, schedule
from portal.core.changes import apply, done
from portal.core.db import utcnow
from portal.core.permissions import permission_required
from portal.core.web import paginate, render


@bp.route("/jobs", endpoint="jobs")
@permission_required("jobs.read")
def jobs() -> Response:
    healthy, seen = schedule.worker_health(utcnow(), current_app.config["WORKER_STALE_MINUTES"])
    return render(
        "admin/jobs.html",
        block="failures",
        statuses=schedule.statuses(),
        failures=paginate(schedule.failed_runs_query()),
        healthy=healthy,
        seen=seen,
        emails=outbox.queue_summary(),
        stale_minutes=current_app.config["WORKER_STALE_MINUTES"],
        form=PlainForm(formdata=None),
        title="Scheduled jobs",
    )


@bp.route("/jobs/<name>", endpoint="job")
@permission_required("jobs.read")
def job_history(name: str) -> Response:
    found = schedule.JOBS.get(name)
    if found is None:
        abort(404)
    return render(
        "admin/job.html",
        block="results",
        job=found,
        page=paginate(schedule.runs_query(name)),
        form=PlainForm(formdata=None),
        title=found.title,
    )


@bp.route("/jobs/<name>/run", methods=["POST"], endpoint="run_job")
@permission_required("jobs.run")
def run_job(name: str) -> Response:
    found = schedule.JOBS.get(name)
    if found is None:
        abort(404)
    if not PlainForm().validate_on_submit():
        abort(400)

    def queue() -> None:
        run = schedule.run_now(name, utcnow())
        audit.record("job.run_now", run, actor=current_user, after={"job": name})

    apply(None, queue)
    return done(
        url_for("admin.job", name=name),
        f"'{found.title}' is queued. A worker runs it within a minute; this page shows the result.",
    )

"""Staff routes for reports about members: the queue, one report, dismissing it or suspending the
account, and the suspended accounts with a way to lift each suspension."""

from __future__ import annotations

from flask import abort, request, url_for
from flask_login import current_user
from werkzeug.wrappers import Response

from portal.accounts import suspension
from portal.accounts.models import User
from portal.core import audit
from portal.core.changes import apply, done
from portal.core.extensions import db
from portal.core.permissions import can, permission_required, require
from portal.core.web import paginate, render
from portal.directory import bp, reports, services
from portal.directory.forms import DismissForm, LiftForm, SuspendForm
from portal.directory.models import MemberReport, ReportState


@bp.route("/people/reports", endpoint="reports")
@permission_required("reports.review")
def queue() -> Response:
    wanted = request.args.get("state", "")
    state = ReportState(wanted) if wanted in ReportState._value2member_map_ else ReportState.OPEN
    page = paginate(reports.queue_query(state))
    return render(
        "people/reports.html",
        block="results",
        page=page,
        state=state,
        states=list(ReportState),
        open_count=reports.count_open(),
        title="Reports about members",
    )


def _report_page(report: MemberReport, status: int = 200, **forms: object) -> Response:
    subject = db.session.get_one(User, report.subject_id)
    history = db.session.scalars(
        audit.entries_query(object_type="MemberReport").where(audit.AuditEntry.object_id == str(report.id)).limit(10)
    ).all()
    return render(
        "people/report_decision.html",
        status=status,
        report=report,
        subject=subject,
        names=services.names({report.subject_id} | ({report.reporter_id} if report.reporter_id else set())),
        earlier=reports.earlier_reports(report),
        may_suspend=can(current_user, "account.suspend", subject),
        dismiss_form=forms.get("dismiss_form") or DismissForm(formdata=None),
        suspend_form=forms.get("suspend_form") or SuspendForm(formdata=None),
        lift_form=LiftForm(formdata=None),
        history=history,
        title=f"Report {report.id}",
    )


@bp.route("/people/reports/<int:report_id>", endpoint="report")
@permission_required("reports.review")
def report(report_id: int) -> Response:
    return _report_page(db.get_or_404(MemberReport, report_id))


@bp.route("/people/reports/<int:report_id>/dismiss", methods=["POST"], endpoint="dismiss_report")
@permission_required("reports.review")
def dismiss_report(report_id: int) -> Response:
    found = db.get_or_404(MemberReport, report_id)
    form = DismissForm()
    if apply(form, lambda: reports.dismiss(found, by=current_user, note=form.note.data or "")):
        return done(url_for("people.reports"), f"Report {found.id} is dismissed.")
    return _report_page(db.get_or_404(MemberReport, report_id), status=422, dismiss_form=form)


@bp.route("/people/reports/<int:report_id>/suspend", methods=["POST"], endpoint="suspend_from_report")
@permission_required("reports.review")
def suspend_from_report(report_id: int) -> Response:
    found = db.get_or_404(MemberReport, report_id)
    require("account.suspend", db.session.get_one(User, found.subject_id))
    form = SuspendForm()
    if apply(form, lambda: reports.suspend_subject(found, by=current_user, reason=form.reason.data or "")):
        return done(
            url_for("people.reports"),
            "The account is suspended and its sessions have ended. The person has been emailed the reason "
            "and how to appeal.",
        )
    return _report_page(db.get_or_404(MemberReport, report_id), status=422, suspend_form=form)


@bp.route("/people/suspended", endpoint="suspended")
@permission_required("reports.review")
def suspended() -> Response:
    page = paginate(suspension.suspended_query())
    return render(
        "people/suspended.html",
        block="results",
        page=page,
        form=LiftForm(formdata=None),
        title="Suspended accounts",
    )


@bp.route("/people/suspended/<int:user_id>/lift", methods=["POST"], endpoint="lift_suspension")
@permission_required("reports.review")
def lift_suspension(user_id: int) -> Response:
    person = db.get_or_404(User, user_id)
    require("account.suspend", person)
    if not LiftForm().validate_on_submit():
        abort(400)
    note = request.form.get("note", "")
    # One small form per person on the list: a refusal is flashed above it (apply without a form).
    outcome = apply(None, lambda: suspension.lift(person, by=current_user, note=note))
    return done(
        url_for("people.suspended"), f"{person.name} can sign in again. They have been emailed." if outcome else None
    )

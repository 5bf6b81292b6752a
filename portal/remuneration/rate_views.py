"""The rate card (admins): activity types and their rates, each in force from a date.

A claim stores the rate in force on its activity date, so changing a rate here never changes
a claim already made.
"""

from __future__ import annotations

from flask import url_for
from flask_login import current_user
from flask_wtf import FlaskForm
from werkzeug.wrappers import Response

from portal.core.changes import apply, done
from portal.core.extensions import db
from portal.core.formatting import local_date, london_today, money
from portal.core.forms import given
from portal.core.permissions import permission_required
from portal.core.web import render
from portal.remuneration import bp, rates
from portal.remuneration.models import ActivityType
from portal.remuneration.review_forms import ActivityForm, rate_form


def _rate_card(
    status: int = 200, *, activity_form: ActivityForm | None = None, failed: tuple[int, FlaskForm] | None = None
) -> Response:
    today = london_today()
    card = rates.rate_card(today)
    forms = {activity.id: rate_form(activity.id, blank=True, version=activity.version) for activity, _c, _h in card}
    if failed is not None:
        forms[failed[0]] = failed[1]
    return render(
        "remuneration/rates.html",
        status=status,
        card=card,
        today=today,
        rate_forms=forms,
        activity_form=activity_form or ActivityForm(formdata=None),
        title="Rate card",
    )


@bp.route("/admin/rates", endpoint="rates")
@permission_required("rates.manage")
def rates_page() -> Response:
    return _rate_card()


@bp.route("/admin/rates/activities", methods=["POST"])
@permission_required("rates.manage")
def add_activity() -> Response:
    form = ActivityForm()
    outcome = apply(
        form, lambda: rates.add_activity_type(name=form.name.data or "", unit=form.chosen_unit(), by=current_user)
    )
    if not outcome:
        return _rate_card(422, activity_form=form)
    activity = outcome.result
    return done(
        url_for("remuneration.rates") + f"#activity-{activity.id}",
        f"{activity.name} is on the rate card. Set its rate below before anyone can claim for it.",
    )


@bp.route("/admin/rates/<int:activity_id>", methods=["POST"])
@permission_required("rates.manage")
def set_rate(activity_id: int) -> Response:
    activity = db.get_or_404(ActivityType, activity_id)
    form = rate_form(activity_id)
    outcome = apply(
        form,
        lambda: rates.set_rate(
            activity,
            amount_pence=form.amount.pence or 0,
            effective_from=given(form.effective_from.data),
            by=current_user,
            seen=form.version.seen,
        ),
    )
    if not outcome:
        return _rate_card(422, failed=(activity_id, form))
    rate = outcome.result
    return done(
        url_for("remuneration.rates") + f"#activity-{activity_id}",
        f"{activity.name}: {money(rate.amount_pence)} from {local_date(rate.effective_from)}. "
        "Claims already made keep their rate.",
    )

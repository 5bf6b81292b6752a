"""Finance downloads claims as a spreadsheet: every claim but drafts, or by state and dates."""

from __future__ import annotations

from flask import request
from werkzeug.wrappers import Response

from portal.core.csv_export import csv_response
from portal.core.formatting import london_today
from portal.core.permissions import permission_required
from portal.core.web import render
from portal.remuneration import bp
from portal.remuneration.claim_exports import CLAIM_EXPORT_COLUMNS, claim_export_rows
from portal.remuneration.forms import ClaimExportForm


@bp.route("/finance/exports/claims")
@permission_required("payments.batches")
def claims_export() -> Response:
    form = ClaimExportForm(request.args)
    if "download" not in request.args:
        return render("remuneration/finance/claims_export.html", form=form, title="Download claims")
    if not form.validate():
        return render("remuneration/finance/claims_export.html", status=422, form=form, title="Download claims")
    state, start, end = form.chosen_state(), form.start.data, form.end.data
    return csv_response(
        f"claims-{london_today().isoformat()}.csv", CLAIM_EXPORT_COLUMNS, claim_export_rows(state, start, end)
    )

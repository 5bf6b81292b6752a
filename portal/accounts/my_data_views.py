"""Download my data (a zip made on a POST) and Erase me (a confirmation page with the password);
both linked from the profile page. What each area holds comes from ``core.my_data``."""

from __future__ import annotations

from flask import make_response, url_for
from flask_login import current_user, logout_user
from werkzeug.wrappers import Response

from portal.accounts import bp, erasure
from portal.accounts.forms import DownloadMyDataForm, EraseMeForm
from portal.accounts.models import User
from portal.accounts.views import rotate_session
from portal.core import audit, my_data, uploads
from portal.core.changes import apply, done
from portal.core.confirm import Confirmation, ask, confirmed
from portal.core.db import utcnow
from portal.core.forms import given
from portal.core.permissions import permission_required, public
from portal.core.web import render

ERASES = [
    "Your stories are withdrawn and erased, with their media, and your storyteller details and demographics are deleted.",
    "The words of your posts, comments and messages are erased; where others replied, the place stays, "
    "marked as removed, and shows “A former member”.",
    "Your bookings' access needs, payment preferences, directory entry, notifications and sign-in "
    "details are deleted, and you are signed out everywhere.",
]
KEPT = [
    "Claims and payments the law says we keep (six years, for the tax authority): their dates, "
    "activities and amounts stay, under a reference such as “Former member #A1B2C3” instead of your name.",
    "The audit log keeps what was done and when, with your name and email replaced by the same reference.",
    "Applications and project teams you were part of keep their place for you, under the reference.",
]


def _page(form: DownloadMyDataForm | None = None, status: int = 200) -> Response:
    kinds = [(e.kind, e.description, e.tabular) for e in sorted(my_data.EXPORTS.values(), key=lambda e: e.kind)]
    return render(
        "accounts/my_data.html", status=status, form=form or DownloadMyDataForm(), kinds=kinds, title="Your data"
    )


@bp.route("/my-data", methods=["GET", "POST"])
@permission_required("account.manage_own")
def my_data_page() -> Response:
    """GET: what the download holds, and its button. POST: the zip, as an attachment."""
    form = DownloadMyDataForm()
    person: User = current_user._get_current_object()
    made = utcnow()
    outcome = apply(form, lambda: _export(person))
    if not outcome:
        return _page(form, status=422 if form.is_submitted() else 200)
    response = make_response(my_data.build_zip(outcome.result, made=made))
    response.headers["Content-Type"] = "application/zip"
    response.headers["Content-Disposition"] = f'attachment; filename="my-portal-data-{made:%Y-%m-%d}.zip"'
    response.headers["Cache-Control"] = "no-store"
    return response


def _export(person: User) -> dict[str, list[my_data.Row]]:
    data = my_data.collect(person)
    audit.record("data.exported", person, actor=person, after={"kinds": sorted(data)})
    return data


def _question(form: EraseMeForm) -> Confirmation:
    return Confirmation(
        title="Erase your data?",
        will=[
            *ERASES,
            "Your account ends at once: you cannot sign in again, and we cannot email you to say it is done, "
            "because your address is erased too. The next page confirms it.",
            "To keep a copy first, download your data before you go on.",
        ],
        button="Yes, erase my data",
        action=url_for("accounts.erase_me"),
        cancel=url_for("accounts.profile"),
        cancel_label="No, keep my data",
        stays=KEPT,
        form=form,
    )


@bp.route("/erase", methods=["GET", "POST"])
@permission_required("account.manage_own")
def erase_me() -> Response:
    form = EraseMeForm()
    if not confirmed():
        return ask(_question(EraseMeForm(formdata=None)))
    person: User = current_user._get_current_object()
    outcome = apply(form, lambda: erasure.erase(person, by=person, password=given(form.password.data)))
    if not outcome:
        return ask(_question(form), status=422)
    remove_files(outcome.result[1])
    rotate_session()
    logout_user()
    return done(url_for("accounts.erased"), None)


@bp.route("/erased")
@public
def erased() -> Response:
    return render("accounts/erased.html", title="Your data is erased")


def remove_files(files: list[my_data.StoredFile]) -> None:
    """Only once the erasure has committed, so no row is left pointing at a missing file."""
    for kind, stored_name in files:
        uploads.remove(kind, stored_name)

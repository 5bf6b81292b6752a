"""One way to apply a change from a view: validate, call the service, commit or roll back.

Every POST view follows the same steps (Cosmic Python's unit of work, in small):

    claim = _claim_or_404(claim_id)             # load (404 when missing)
    require("claim.edit", claim)                # check permission (403 with its reason)
    form = ClaimForm()
    outcome = apply(form, lambda: claims.update_claim(claim, form.details(), by=current_user))
    if outcome:                                 # validated, changed and committed
        return done(url_for("remuneration.claim", claim_id=claim.id), "Your changes have been saved.")
    return refused("remuneration/claim_form.html", form=form, claim=claim)   # 422, errors by their fields

``apply`` commits only when the service returns; a ``RuleBroken`` (or ``RulesBroken``) rolls
everything back and its message goes next to the field it names (or, without a form, into a
flashed message); an ``EditConflict`` (the form was opened at an older version: ``core.edits``)
keeps the person's text in the form and shows the saved version beside it; a ``StaleDataError`` (someone else saved first) does the same with a
message that says so. ``done`` answers a page with a flash and a redirect, and an htmx request
that asked for an event with ``204`` and ``HX-Trigger``. ``refused`` shows the form again, with
``422`` after a POST so htmx and tests can tell nothing changed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar, cast

from flask import flash, g, make_response, request
from flask_wtf import FlaskForm
from sqlalchemy.orm.exc import StaleDataError
from werkzeug.wrappers import Response

from portal.core.edits import EditConflict
from portal.core.errors import RuleBroken, RulesBroken
from portal.core.extensions import db
from portal.core.forms import attach_error
from portal.core.web import redirect_to, render, wants_fragment

T = TypeVar("T")

CHANGED_BY_SOMEONE_ELSE = "Someone else changed this while you were working on it. Check it below, then try again."


@dataclass
class Outcome(Generic[T]):
    """What ``apply`` did: true when the change was committed (``value`` is what the service returned)."""

    ok: bool = False
    value: T | None = None
    error: RuleBroken | None = None
    stale: bool = False
    conflict: EditConflict | None = None

    def __bool__(self) -> bool:
        return self.ok

    @property
    def result(self) -> T:
        """The service's return value, once the change is known to have been made."""
        assert self.ok, "only a committed change has a result"
        return cast(T, self.value)  # set by the change, and T itself may include None


def show_error(form: FlaskForm | None, error: RuleBroken) -> None:
    """Put each broken rule's message next to its field, or flash it when there is no form."""
    problems = error.problems if isinstance(error, RulesBroken) else [error]
    for problem in problems:
        if form is None or not attach_error(form, problem.field, problem.message):
            flash(problem.message, "error")


def apply(
    form: FlaskForm | None,
    change: Callable[[], T],
    *,
    validate: bool = True,
    show_errors: bool = True,
    stale_message: str = CHANGED_BY_SOMEONE_ELSE,
) -> Outcome[T]:
    """Validate ``form`` (unless ``validate=False`` or there is none), run ``change``, commit.

    Nothing is kept when a rule is broken: the session is rolled back and the message is shown
    by its field (or flashed). With ``show_errors=False`` the page shows ``outcome.error`` its own
    way. The caller answers with ``done(...)`` or ``refused(...)``.
    """
    outcome: Outcome[T] = Outcome()
    if form is not None and validate and not form.validate_on_submit():
        return outcome
    try:
        outcome.value = change()
        db.session.commit()
    except EditConflict as conflict:
        db.session.rollback()
        outcome.error = outcome.conflict = conflict
        _keep_typing(form, conflict)
    except RuleBroken as error:
        db.session.rollback()
        outcome.error = error
        if show_errors:
            show_error(form, error)
    except StaleDataError:
        db.session.rollback()
        outcome.stale = True
        outcome.error = RuleBroken("", stale_message)
        if show_errors:
            show_error(form, outcome.error)
    else:
        outcome.ok = True
    return outcome


def _keep_typing(form: FlaskForm | None, conflict: EditConflict) -> None:
    """The person's form stays as they typed it, now at the saved version (so saving again, after
    merging, goes through), and the page shows the saved version beside theirs (``base.html``)."""
    if form is not None and "version" in form._fields:
        form["version"].data = conflict.version
        form["version"].raw_data = [str(conflict.version)]
    g.edit_conflict = conflict


def done(url: str, message: str | None = None, *, trigger: str | None = None) -> Response:
    """After a change: 204 + ``HX-Trigger`` for an htmx request when an event is named, otherwise
    the message as a flash and a redirect to ``url`` (``HX-Redirect`` for htmx)."""
    if trigger and wants_fragment():
        response = make_response("", 204)
        response.headers["HX-Trigger"] = trigger
        response.vary.add("HX-Request")
        return response
    if message:
        flash(message, "success")
    return redirect_to(url)


def refused(template: str, *, block: str | None = None, **context: Any) -> Response:
    """Show a form again with its errors: 422 after a POST, 200 when it is first shown."""
    return render(template, block=block, status=422 if request.method == "POST" else 200, **context)

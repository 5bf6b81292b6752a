"""Are you sure? A page that says what an irreversible or wide action will do, and to how many
people, before anything is done (the GOV.UK confirmation pattern; it needs no JavaScript).

An action's view asks ``confirmed()`` before it acts. Until then (a GET, or a POST from an old
one-click form or a bookmarked button) it answers ``ask(Confirmation(...))`` and changes
nothing: the page says what will happen, posts the fields the person already filled in (a
reason, a date) again with ``confirm=yes`` from its Confirm button, and offers a Cancel link
back::

    story = _story_or_404(story_id)
    require("story.withdraw", story)
    if not confirmed():
        return ask(Confirmation(title=..., will=["This will withdraw your story and erase it."], ...))
    outcome = apply(None, lambda: withdrawal.withdraw(story, by=current_user))

The field is only a step, not a secret: the CSRF token (checked on every POST) is what keeps
another site from pressing the button.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from flask import request
from flask_wtf import FlaskForm
from werkzeug.wrappers import Response

from portal.core.web import render

CONFIRM_FIELD = "confirm"
CONFIRMED = "yes"


@dataclass(frozen=True)
class Confirmation:
    """What the page says and where its two ways out go."""

    title: str  # the question, as the page's heading: "Withdraw “Market day”?"
    will: list[str]  # what will happen, one sentence each: "This will mark 12 claims paid and email 9 people."
    button: str  # the Confirm button's words: "Yes, withdraw and delete it"
    action: str  # where the Confirm button posts: the action's own URL
    cancel: str  # the Cancel link, back where the person came from
    cancel_label: str = "No, go back"
    stays: list[str] = field(default_factory=list)  # what does not change (what stays for now)
    undoable: bool = False  # when False the page says "This cannot be undone."
    form: FlaskForm | None = None  # questions asked on the page itself (closing an account: the password)
    problem: str = ""  # why the last Confirm did not go through (shown at the top, nothing changed)


def confirmed() -> bool:
    """The request came from a confirmation page's Confirm button."""
    return request.method == "POST" and request.form.get(CONFIRM_FIELD) == CONFIRMED


def carried(confirmation: Confirmation) -> list[tuple[str, str]]:
    """The fields posted with the first press (a reason, a date), to post again with the Confirm.

    The page's own questions are left out: the page asks them itself."""
    if request.method != "POST":
        return []
    asked = set(confirmation.form._fields) if confirmation.form is not None else set()
    skipped = {CONFIRM_FIELD, "csrf_token", *asked}
    return [(name, value) for name, value in request.form.items(multi=True) if name not in skipped]


def ask(confirmation: Confirmation, *, status: int = 200) -> Response:
    """The confirmation page (just its panel for an htmx request that wants part of a page)."""
    return render(
        "_confirm.html",
        block="confirmation",
        status=status,
        confirmation=confirmation,
        carried=carried(confirmation),
        title=confirmation.title,
    )


def counted(number: int, one: str, many: str | None = None) -> str:
    """``counted(1, "claim")`` is "1 claim"; ``counted(9, "person", "people")`` is "9 people"."""
    return f"{number:,} {one if number == 1 else (many or one + 's')}"

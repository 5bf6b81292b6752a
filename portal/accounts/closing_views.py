"""Closing your own account: a page that says what happens and what stays, and asks for your
password; only its Confirm closes the account (``accounts.closing``)."""

from __future__ import annotations

from flask import url_for
from flask_login import current_user, logout_user
from werkzeug.wrappers import Response

from portal.accounts import bp, closing
from portal.accounts.forms import CloseAccountForm
from portal.accounts.views import rotate_session
from portal.core.changes import apply, done
from portal.core.confirm import Confirmation, ask, confirmed
from portal.core.forms import given
from portal.core.permissions import permission_required

STAYS = [
    "Stories you told, and the posts and comments you wrote, stay as they are: closing can be undone. "
    "To take everything down for good, use “Erase your data” on your profile instead.",
    "Claims you made, and their payment records, are kept.",
    "Projects and applications you are on keep you on their team lists.",
]


def _question(form: CloseAccountForm) -> Confirmation:
    return Confirmation(
        title="Close your account?",
        will=[
            "This will close your account at once: you will be signed out on every device, including this one, "
            "and you will not be able to sign in again. We will email you to say it is closed.",
            "To open it again you would need to ask the programme team.",
        ],
        button="Yes, close my account",
        action=url_for("accounts.close_account"),
        cancel=url_for("accounts.profile"),
        cancel_label="No, keep my account",
        stays=STAYS,
        undoable=True,  # the programme team can open it again
        form=form,
    )


@bp.route("/close", methods=["GET", "POST"])
@permission_required("account.manage_own")
def close_account() -> Response:
    form = CloseAccountForm()
    if not confirmed():
        return ask(_question(CloseAccountForm(formdata=None)))
    person = current_user._get_current_object()
    if apply(form, lambda: closing.close_own_account(person, password=given(form.password.data))):
        rotate_session()
        logout_user()  # after the clear, as signing out does
        return done(url_for("main.home"), "Your account is closed, and you are signed out everywhere.")
    return ask(_question(form), status=422)

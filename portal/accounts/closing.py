"""A person closes their own account: they confirm with their password, the account is closed
(as an admin would close it: ``services.deactivate``), every device is signed out, the audit log
says they did it themselves, and they are emailed so a stranger with the password cannot do it
unseen. What they made stays (closing can be undone); the closing page says so and points to
"Erase your data" (``accounts.erasure``) for taking everything down for good."""

from __future__ import annotations

from portal.accounts import services
from portal.accounts.models import User
from portal.accounts.passwords import verify_password
from portal.core import outbox

CLOSED_BY_THEMSELVES = "Closed by the person themselves, from their profile."


def check_close(user: User, password: str) -> None:
    """The password is theirs, and closing leaves the portal with an admin."""
    if not verify_password(user.password_hash, password):
        raise services.AccountError("password", "Your password is not right. Try again.")
    try:
        services.check_deactivate(user)
    except services.AccountError as error:
        raise services.AccountError("password", error.message) from error


def close_own_account(user: User, *, password: str) -> None:
    check_close(user, password)
    services.deactivate(user, by=user, reason=CLOSED_BY_THEMSELVES)
    outbox.enqueue(
        "account_closed",
        user.email,
        "Your Co-Production Portal account is closed",
        f"Hello {user.name},\n\nYour Co-Production Portal account was closed just now, and every device "
        "signed in to it was signed out. If this was not you, contact the programme team.\n",
    )

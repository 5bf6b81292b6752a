"""Rules about people's own accounts and private details."""

from __future__ import annotations

from typing import Any

from portal.accounts import suspension
from portal.accounts.verification import VERIFY_FIRST
from portal.core.permissions import is_staff, register, signed_in


def own_or_staff(user: Any, person: Any) -> bool:
    return signed_in(user) and person is not None and (user.id == person.id or is_staff(user))


register(
    {
        "account.manage_own": lambda user, obj: signed_in(user),
        # The fact pages ask before offering what needs a confirmed address (services still
        # check with ``verification.require_verified``).
        "account.verified": (lambda user, obj: signed_in(user) and user.verified, VERIFY_FIRST),
        "profile.view_private": (own_or_staff, "Only the person and programme staff can see private details."),
    }
)

# Safeguarding: suspending an account, and lifting it (accounts/suspension.py).
register({"account.suspend": (suspension.may_suspend, suspension.MAY_NOT)})

"""The one ``can()`` / ``require()`` over every domain's rules, and the role helpers they share.

Each domain keeps its rules, written against its own state enums, in its own ``permissions.py``
and registers them here with ``register()``; the application factory imports every domain, so
every rule is known before the first request. Views declare the rule they need with
``@permission_required("...")`` (or ``@public``) and ask ``require(...)`` for object-level checks;
templates ask ``can(...)``. A refusal carries its reason: ``require`` raises ``NotAllowed`` with
the rule's reason, and the error page shows it. The route x role test reads each view's declared
rule, so a route without one fails the suite.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import wraps
from typing import Any, TypeVar, cast

from flask import Flask, abort
from flask_login import current_user

from portal.core.errors import NotAllowed
from portal.core.extensions import login_manager

PUBLIC = "public"
DEFAULT_REASON = "You do not have permission to do that."

# Roles by their stored values (the accounts package, above this one, owns the Role enum).
# Each role includes the powers of the ones before it: finance is staff with the finance
# permission, and admins can do everything.
_RANK = {"member": 0, "staff": 1, "finance": 2, "admin": 3}

Check = Callable[[Any, Any], bool]


@dataclass(frozen=True)
class Rule:
    check: Check
    reason: str = DEFAULT_REASON


RULES: dict[str, Rule] = {}


def register(rules: Mapping[str, Check | tuple[Check, str]]) -> None:
    """Add a domain's rules: each name maps to a check, or to (check, reason shown on refusal)."""
    for action, given in rules.items():
        check, reason = given if isinstance(given, tuple) else (given, DEFAULT_REASON)
        known = RULES.get(action)
        if known is not None and known.check is not check:
            raise LookupError(f"Two rules are named {action!r}")
        RULES[action] = Rule(check, reason)


def signed_in(user: Any) -> bool:
    return bool(user is not None and user.is_authenticated and user.is_active)


def at_least(user: Any, role: str) -> bool:
    return signed_in(user) and _RANK[str(user.role)] >= _RANK[role]


def is_staff(user: Any) -> bool:
    return at_least(user, "staff")


def is_finance(user: Any) -> bool:
    return at_least(user, "finance")


def is_admin(user: Any) -> bool:
    return at_least(user, "admin")


def _rule(action: str) -> Rule:
    try:
        return RULES[action]
    except KeyError:
        raise LookupError(f"No permission rule named {action!r}") from None


def can(user: Any, action: str, obj: Any = None) -> bool:
    if action == PUBLIC:
        return True
    return bool(_rule(action).check(user, obj))


def refusal(user: Any, action: str, obj: Any = None) -> str | None:
    """Why the person may not do this, or None when they may."""
    return None if can(user, action, obj) else _rule(action).reason


def require(action: str, obj: Any = None, user: Any = None) -> None:
    """Stop the request unless allowed: sign-in for visitors, ``NotAllowed`` (403) for signed-in users."""
    user = current_user if user is None else user
    if not signed_in(user):
        abort(login_manager.unauthorized())
    reason = refusal(user, action, obj)
    if reason is not None:
        raise NotAllowed(reason)


F = TypeVar("F", bound=Callable[..., Any])


def permission_required(action: str) -> Callable[[F], F]:
    """Declare and enforce the rule a view needs (without an object)."""

    def decorate(view: F) -> F:
        @wraps(view)
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            require(action)
            return view(*args, **kwargs)

        # Each view carries its rule (the permissions matrix reads it); mypy does not model
        # attributes set on a function.
        wrapped.permission = action  # type: ignore[attr-defined]
        return cast(F, wrapped)  # functools.wraps keeps the view's signature

    return decorate


def public(view: F) -> F:
    """Declare a view open to everyone, visitors included."""
    view.permission = PUBLIC  # type: ignore[attr-defined]  # as in permission_required
    return view


def check_declared(app: Flask) -> None:
    """Fail at start-up if a view declares a rule no domain registered (a typo, or a missing import)."""
    for view in app.view_functions.values():
        action = getattr(view, "permission", None)
        if action is not None and action != PUBLIC:
            _rule(action)

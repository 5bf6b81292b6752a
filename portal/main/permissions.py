"""Rules for the cross-domain dashboards."""

from __future__ import annotations

from portal.core.permissions import is_finance, is_staff, register

register(
    {
        "staff.dashboard": (lambda user, obj: is_staff(user), "The staff dashboard is for programme staff."),
        "finance.dashboard": (lambda user, obj: is_finance(user), "The finance dashboard is for the finance team."),
    }
)

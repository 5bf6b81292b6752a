"""Rules for gatherings: members book; staff and pilot leads organise."""

from __future__ import annotations

from typing import Any

from portal.core.permissions import is_staff, register, signed_in
from portal.teams.access import leads_a_project


def organiser(user: Any, gathering: Any) -> bool:
    return signed_in(user) and gathering is not None and (is_staff(user) or gathering.organiser_id == user.id)


register(
    {
        "gatherings.view": lambda user, obj: signed_in(user),
        "gatherings.create": (
            lambda user, obj: is_staff(user) or leads_a_project(user),
            "Gatherings are organised by programme staff and pilot leads.",
        ),
        # edit, see who booked and their access needs, mark attendance
        "gathering.manage": (organiser, "Only the organiser and programme staff can manage this gathering."),
    }
)

"""Rules for a person's own notifications."""

from __future__ import annotations

from portal.core.permissions import register, signed_in

register({"notifications.own": lambda user, obj: signed_in(user)})

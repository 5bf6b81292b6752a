"""Rules for calendar links: each signed-in person manages their own. The feeds themselves are
public routes: the secret in a private feed's address is its authority."""

from __future__ import annotations

from portal.core.permissions import register, signed_in

register({"calendar.own": lambda user, obj: signed_in(user)})

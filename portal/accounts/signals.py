"""Events of the accounts package that other layers react to, without accounts importing them.

A receiver is a function ``(user, **extra) -> str | None``; the sign-in view and the page that
confirms an email address flash every message the receivers return, then commit what they changed.
"""

from __future__ import annotations

from blinker import Namespace

_signals = Namespace()

#: A person has just signed in, or just confirmed their email address (sender: the ``User``).
person_arrived = _signals.signal("person-arrived")

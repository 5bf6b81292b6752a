"""Events of the accounts package that other layers react to, without accounts importing them.

A receiver is a function ``(user, **extra) -> str | None``; the sign-in and sign-up views flash
every message the receivers return, then commit what they changed.
"""

from __future__ import annotations

from blinker import Namespace

_signals = Namespace()

#: A person has just signed up or signed in (sender: the ``User``).
person_arrived = _signals.signal("person-arrived")

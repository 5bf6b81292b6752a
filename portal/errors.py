"""The domain error every service raises when a rule is broken."""

from __future__ import annotations


class RuleBroken(ValueError):
    """A rule was broken; ``field`` names the form field the message belongs next to."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


class NotAllowed(PermissionError):
    """The person may not do this (views answer 403)."""

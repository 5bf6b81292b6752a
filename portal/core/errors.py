"""The domain error every service raises when a rule is broken."""

from __future__ import annotations


class RuleBroken(ValueError):
    """A rule was broken; ``field`` names the form field the message belongs next to."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


class RulesBroken(RuleBroken):
    """Several rules broken at once, so each message can sit next to its own field."""

    def __init__(self, problems: list[RuleBroken]) -> None:
        super().__init__(problems[0].field, problems[0].message)
        self.problems = problems


class NotAllowed(PermissionError):
    """The person may not do this (views answer 403)."""

"""How money and time are shown: pounds from integer pence, and Europe/London time."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

LONDON = ZoneInfo("Europe/London")


def money(pence: int | None) -> str:
    """1234 -> '£12.34'; 123450 -> '£1,234.50'; negative amounts keep their sign in front."""
    if pence is None:
        return ""
    if isinstance(pence, float):
        raise TypeError("money is integer pence, never float")
    sign = "-" if pence < 0 else ""
    pounds, remainder = divmod(abs(pence), 100)
    return f"{sign}£{pounds:,}.{remainder:02d}"


def london_today() -> date:
    """Today's date where the programme runs (Europe/London), whatever the server's zone."""
    return datetime.now(LONDON).date()


def local_datetime(value: datetime | None) -> str:
    if value is None:
        return ""
    local = value.astimezone(LONDON)
    return local.strftime("%-d %B %Y at %H:%M")


def local_date(value: date | datetime | None) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        value = value.astimezone(LONDON).date()
    return value.strftime("%-d %B %Y")

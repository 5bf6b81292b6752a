"""An iCalendar file (RFC 5545) for one gathering, written by hand: it is short, and writing it
here keeps the rules it must follow in view (CRLF line ends, escaped text, lines folded at 75
octets without splitting a character, times in UTC)."""

from __future__ import annotations

from datetime import UTC, datetime
from urllib.parse import urlsplit

from portal.gatherings.models import Gathering

MAX_OCTETS = 75


def escape_text(value: str) -> str:
    """TEXT values: backslash, semicolon and comma are escaped; new lines become ``\\n``."""
    value = value.replace("\r\n", "\n").replace("\r", "\n")
    return value.replace("\\", "\\\\").replace(";", "\\;").replace(",", "\\,").replace("\n", "\\n")


def fold(line: str) -> str:
    """Split a content line into lines of at most 75 octets; each continuation starts with a space."""
    pieces: list[str] = []
    current, size = "", 0
    limit = MAX_OCTETS
    for char in line:
        width = len(char.encode("utf-8"))
        if size + width > limit:
            pieces.append(current)
            current, size = "", 0
            limit = MAX_OCTETS - 1  # the leading space of a continuation line counts
        current += char
        size += width
    pieces.append(current)
    return "\r\n ".join(pieces)


def utc_stamp(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


def gathering_ics(gathering: Gathering, *, base_url: str, now: datetime) -> str:
    host = urlsplit(base_url).hostname or "portal"
    page = base_url.rstrip("/") + f"/gatherings/{gathering.id}"
    description = gathering.description
    if gathering.accessibility:
        description += f"\n\nAccessibility: {gathering.accessibility}"
    if gathering.online_link:
        description += f"\n\nJoin online: {gathering.online_link}"
    description += f"\n\nMore about this gathering: {page}"
    location = gathering.place or gathering.online_link
    lines = [
        "BEGIN:VCALENDAR",
        "VERSION:2.0",
        "PRODID:-//Co-Production Portal//Gatherings//EN",
        "CALSCALE:GREGORIAN",
        "METHOD:PUBLISH",
        "BEGIN:VEVENT",
        f"UID:gathering-{gathering.id}@{host}",
        f"DTSTAMP:{utc_stamp(now)}",
        f"DTSTART:{utc_stamp(gathering.starts_at)}",
        f"DTEND:{utc_stamp(gathering.ends_at)}",
        f"SEQUENCE:{gathering.sequence}",
        f"LAST-MODIFIED:{utc_stamp(gathering.updated_at)}",
        f"SUMMARY:{escape_text(gathering.title)}",
        f"DESCRIPTION:{escape_text(description)}",
        f"LOCATION:{escape_text(location)}",
        f"URL:{page}",
        "END:VEVENT",
        "END:VCALENDAR",
    ]
    return "".join(fold(line) + "\r\n" for line in lines)

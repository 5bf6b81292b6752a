"""Gatherings as iCalendar (RFC 5545) events, built with the ``icalendar`` library.

The library does the parts that are easy to get subtly wrong by hand: CRLF line ends, escaped
TEXT values, lines folded at 75 octets without splitting a character, and times in UTC. The
per-gathering download and the calendar feeds (``portal.calendar``) share ``gathering_event``,
so an event looks the same wherever a calendar app picks it up, with the same UID and SEQUENCE.
"""

from __future__ import annotations

from datetime import datetime
from urllib.parse import urlsplit

import icalendar

from portal.gatherings.models import Gathering

PRODID = "-//Co-Production Portal//Calendar//EN"


def new_calendar(name: str = "") -> icalendar.Calendar:
    """An empty calendar to publish, named for calendar apps that show a name."""
    calendar = icalendar.Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("method", "PUBLISH")
    if name:
        calendar.add("x-wr-calname", name)
    return calendar


def uid_host(base_url: str) -> str:
    """The domain part of every UID: the portal's own host keeps its UIDs apart from others'."""
    return urlsplit(base_url).hostname or "portal"


def gathering_event(
    gathering: Gathering, *, base_url: str, now: datetime, joining_link: bool = True
) -> icalendar.Event:
    """One gathering as an event. ``joining_link=False`` leaves out the online link, which only
    signed-in members may see (the public feed)."""
    page = base_url.rstrip("/") + f"/gatherings/{gathering.id}"
    online = gathering.online_link if joining_link else ""
    description = gathering.description
    if gathering.accessibility:
        description += f"\n\nAccessibility: {gathering.accessibility}"
    if online:
        description += f"\n\nJoin online: {online}"
    elif gathering.online_link:
        description += "\n\nMembers who sign in to the portal see the online link."
    description += f"\n\nMore about this gathering: {page}"
    event = icalendar.Event()
    event.add("uid", f"gathering-{gathering.id}@{uid_host(base_url)}")
    event.add("dtstamp", now)
    event.add("dtstart", gathering.starts_at)
    event.add("dtend", gathering.ends_at)
    event.add("sequence", gathering.sequence)
    event.add("last-modified", gathering.updated_at)
    event.add("summary", gathering.title)
    event.add("description", description)
    location = gathering.place or online
    if location:
        event.add("location", location)
    event.add("url", page)
    return event


def gathering_ics(gathering: Gathering, *, base_url: str, now: datetime) -> str:
    """The one-gathering file that the gathering page offers to download."""
    calendar = new_calendar()
    calendar.add_component(gathering_event(gathering, base_url=base_url, now=now))
    body: bytes = calendar.to_ical()
    return body.decode("utf-8")

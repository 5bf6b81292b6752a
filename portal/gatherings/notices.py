"""What people are told about gatherings, in one place."""

from __future__ import annotations

from typing import Any

from portal.core.formatting import local_datetime
from portal.notifications.service import notify, notify_each


def send(recipient: Any, kind: str, subject: str, body: str, url_path: str) -> None:
    notify(recipient, kind, subject, body, url_path)


def send_each(kind: str, notices: list[tuple[Any, str, str, str]]) -> None:
    """``send`` to many people at once: (recipient, subject, body, url path) each."""
    notify_each(kind, notices)


def _where(gathering: Any) -> str:
    return gathering.place or "Online (the link is on the gathering's page)"


def _path(gathering: Any) -> str:
    # A plain path, not url_for: notices are also sent outside requests (demo data, commands).
    return f"/gatherings/{gathering.id}"


def place_confirmed(recipient: Any, gathering: Any) -> None:
    send(
        recipient,
        "gathering",
        f"Your place at {gathering.title}",
        f"You have a place at {gathering.title} on {local_datetime(gathering.starts_at)}. "
        f"Where: {_where(gathering)}. If you cannot come, please cancel so someone on the waiting "
        "list can have your place.",
        _path(gathering),
    )


def waiting_list_joined(recipient: Any, gathering: Any) -> None:
    send(
        recipient,
        "gathering",
        f"You are on the waiting list for {gathering.title}",
        f"{gathering.title} on {local_datetime(gathering.starts_at)} is full, so you are on the waiting "
        "list. If a place comes free you get it automatically, and we will tell you.",
        _path(gathering),
    )


def promoted_from_waiting_list(recipient: Any, gathering: Any) -> None:
    send(
        recipient,
        "gathering",
        f"A place came free: you are going to {gathering.title}",
        f"Someone cancelled, so you now have a place at {gathering.title} on "
        f"{local_datetime(gathering.starts_at)}. Where: {_where(gathering)}. If you cannot come, "
        "please cancel so the next person can have it.",
        _path(gathering),
    )


def gathering_changed(recipient: Any, gathering: Any) -> None:
    send(
        recipient,
        "gathering",
        f"{gathering.title} has changed",
        f"The organiser changed the details of {gathering.title}. It is now on "
        f"{local_datetime(gathering.starts_at)}. Where: {_where(gathering)}.",
        _path(gathering),
    )

"""Tell a person something: an in-app notification and an email, as far as they want each.

Other domains call ``notify``; it joins the caller's transaction, so nothing is shown or sent
unless the change that caused it commits. Repeats of the same thing (five claims approved) can
be grouped into one unread notification that names each of them: pass a ``Group``.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from flask import current_app

from portal.core import outbox
from portal.core.db import utcnow
from portal.core.extensions import db
from portal.notifications.models import DIGEST, KINDS, MAX_ITEMS, Notification, NotificationSetting

SUBJECT_LENGTH = 200


@dataclass(frozen=True)
class Group:
    """How repeats of one kind of notification gather into one.

    ``key`` says which repeats belong together (e.g. ``"claims.approved"``), ``item`` names this
    one thing (``"Workshop, 25 Nov 2026"``), ``plural`` is the grouped subject's start with a
    ``{count}`` placeholder (``"{count} claims approved"``), and ``url_path`` is the list the
    things are in, where the grouped notification links."""

    key: str
    item: str
    plural: str
    url_path: str


def wanted(user_id: int, kind: str) -> tuple[bool, bool]:
    """(in the portal, by email) for this person and kind. No choice stored means both, except
    the digest (an email only), which is off until the person asks for it."""
    row = db.session.execute(
        sa.select(NotificationSetting.enabled, NotificationSetting.email).where(
            NotificationSetting.user_id == user_id, NotificationSetting.kind == kind
        )
    ).first()
    if row is None:
        return (False, False) if kind == DIGEST else (True, True)
    enabled, email = bool(row[0]), bool(row[1])
    if kind == DIGEST:
        return False, enabled and email
    return enabled, enabled and email


def email_wanted(user_id: int, kind: str) -> bool:
    return wanted(user_id, kind)[1]


def _quoted(names: list[str]) -> str:
    quoted = [f"'{name}'" for name in names]
    if len(quoted) == 1:
        return quoted[0]
    return ", ".join(quoted[:-1]) + " and " + quoted[-1]


def grouped_subject(plural: str, count: int, names: list[str]) -> str:
    """ "3 claims approved: 'A', 'B' and 'C'", shortened with "and N more" to fit the column."""
    start = plural.format(count=count)
    shown = list(names)
    while shown:
        hidden = count - len(shown)
        if hidden:
            text = f"{start}: " + ", ".join(f"'{name}'" for name in shown) + f" and {hidden} more"
        else:
            text = f"{start}: {_quoted(shown)}"
        if len(text) <= SUBJECT_LENGTH:
            return text
        shown = shown[1:]  # keep the newest
    return start[:SUBJECT_LENGTH]


def _gather(recipient_id: int, kind: str, subject: str, body: str, url_path: str, group: Group) -> None:
    existing = db.session.scalar(
        sa.select(Notification)
        .where(
            Notification.recipient_id == recipient_id,
            Notification.kind == kind,
            Notification.group_key == group.key,
            Notification.read_at.is_(None),
        )
        .order_by(Notification.id.desc())
        .limit(1)
    )
    if existing is None:
        db.session.add(
            Notification(
                recipient_id=recipient_id,
                kind=kind,
                subject=subject[:SUBJECT_LENGTH],
                body=body,
                url_path=url_path[:300],
                group_key=group.key[:120],
                count=1,
                items=json.dumps([group.item]),
            )
        )
        return
    names = [*existing.item_names, group.item][-MAX_ITEMS:]
    existing.count += 1
    existing.items = json.dumps(names)
    existing.subject = grouped_subject(group.plural, existing.count, names)
    existing.body = f"The latest, '{group.item}': {body}"
    existing.url_path = group.url_path[:300]
    existing.created_at = utcnow()


def notify(
    recipient: Any,
    kind: str,
    subject: str,
    body: str,
    url_path: str,
    *,
    email_kind: str | None = None,
    email_text: str | None = None,
    group: Group | None = None,
) -> None:
    """Write the in-app notification and queue an email, as far as the person wants each.

    ``email_kind`` and ``email_text`` let a domain keep its own outbox kind and wording. With a
    ``group``, an unread notification of the same kind and group key is updated instead of a
    new one added; the email still goes for this one event."""
    if kind not in KINDS:
        raise ValueError(f"unknown notification kind {kind!r}")
    if recipient is None or getattr(recipient, "deactivated_at", None) is not None:
        return
    in_portal, email = wanted(recipient.id, kind)
    if in_portal:
        if group is None:
            db.session.add(
                Notification(
                    recipient_id=recipient.id,
                    kind=kind,
                    subject=subject[:SUBJECT_LENGTH],
                    body=body,
                    url_path=url_path[:300],
                )
            )
        else:
            _gather(recipient.id, kind, subject, body, url_path, group)
    if email:
        link = current_app.config["BASE_URL"].rstrip("/") + url_path if url_path else ""
        text = email_text or f"Hello {recipient.name},\n\n{body}\n"
        if link:
            text += f"\n{link}\n"
        text += "\nYou can choose which emails you get on your notification settings page.\n"
        outbox.enqueue(email_kind or f"notification.{kind}", recipient.email, subject[:SUBJECT_LENGTH], text)


# --- many at once (a payment run) --------------------------------------------------------------

CHUNK = 500  # ids per IN (...): well under every database's limit on bound values


def _chunks(ids: list[int]) -> list[list[int]]:
    return [ids[start : start + CHUNK] for start in range(0, len(ids), CHUNK)]


def wanted_many(user_ids: Iterable[int], kind: str) -> dict[int, tuple[bool, bool]]:
    """``wanted`` for many people in one query per 500 of them."""
    ids = sorted(set(user_ids))
    found: dict[int, tuple[bool, bool]] = {}
    for chunk in _chunks(ids):
        rows = db.session.execute(
            sa.select(NotificationSetting.user_id, NotificationSetting.enabled, NotificationSetting.email).where(
                NotificationSetting.user_id.in_(chunk), NotificationSetting.kind == kind
            )
        )
        for user_id, enabled, email in rows:
            if kind == DIGEST:
                found[user_id] = (False, bool(enabled) and bool(email))
            else:
                found[user_id] = (bool(enabled), bool(enabled) and bool(email))
    default = (False, False) if kind == DIGEST else (True, True)
    return {user_id: found.get(user_id, default) for user_id in ids}


@dataclass(frozen=True)
class Notice:
    """One in-app notification for ``notify_many``: what ``notify`` would be called with."""

    recipient_id: int
    subject: str
    body: str
    url_path: str
    group: Group


def notify_many(kind: str, notices: Sequence[Notice]) -> None:
    """The in-app side of ``notify`` for many grouped notices at once, with the same result as
    calling it for each in turn: per person, their newest unread notification of the group is
    updated (or one is added), in a few statements whatever the number. The caller checks
    ``wanted_many`` and who is deactivated, and writes the emails (``outbox.enqueue_many``)."""
    if kind not in KINDS:
        raise ValueError(f"unknown notification kind {kind!r}")
    if not notices:
        return
    keys = sorted({n.group.key for n in notices})
    latest: dict[tuple[int, str], Notification] = {}
    for chunk in _chunks(sorted({n.recipient_id for n in notices})):
        for existing in db.session.scalars(
            sa.select(Notification)
            .where(
                Notification.recipient_id.in_(chunk),
                Notification.kind == kind,
                Notification.group_key.in_(keys),
                Notification.read_at.is_(None),
            )
            .order_by(Notification.id)
        ):
            latest[(existing.recipient_id, existing.group_key)] = existing  # the newest wins
    now = utcnow()
    state: dict[tuple[int, str], dict[str, Any]] = {}
    for notice in notices:
        key = (notice.recipient_id, notice.group.key)
        if key not in state:
            found = latest.get(key)
            state[key] = (
                {"id": found.id, "count": found.count, "names": found.item_names}
                if found is not None
                else {"id": None, "count": 0, "names": []}
            )
        row = state[key]
        row["names"] = [*row["names"], notice.group.item][-MAX_ITEMS:]
        row["count"] += 1
        if row["id"] is None and row["count"] == 1:
            row.update(subject=notice.subject[:SUBJECT_LENGTH], body=notice.body, url_path=notice.url_path[:300])
        else:
            row.update(
                subject=grouped_subject(notice.group.plural, row["count"], row["names"]),
                body=f"The latest, '{notice.group.item}': {notice.body}",
                url_path=notice.group.url_path[:300],
            )
    added, changed = [], []
    for (recipient_id, group_key), row in state.items():
        values = {
            "subject": row["subject"],
            "body": row["body"],
            "url_path": row["url_path"],
            "count": row["count"],
            "items": json.dumps(row["names"]),
        }
        if row["id"] is None:
            added.append(
                {"recipient_id": recipient_id, "kind": kind, "group_key": group_key[:120], "created_at": now, **values}
            )
        else:
            changed.append({"id": row["id"], "created_at": now, **values})
    if added:
        db.session.execute(sa.insert(Notification), added)
    if changed:
        db.session.execute(sa.update(Notification), changed)  # by primary key, one executemany
    for key in latest:
        db.session.expire(latest[key])


def notify_each(kind: str, notices: Sequence[tuple[Any, str, str, str]]) -> None:
    """``notify`` (ungrouped, the kind's own email wording) for many people at once, each
    ``(recipient, subject, body, url_path)``: one query of their choices, one INSERT of the
    notifications and one of the emails (``outbox.enqueue_many``, each with its own key)."""
    if kind not in KINDS:
        raise ValueError(f"unknown notification kind {kind!r}")
    notices = [n for n in notices if n[0] is not None and getattr(n[0], "deactivated_at", None) is None]
    wanted = wanted_many((n[0].id for n in notices), kind)
    rows = [
        {"recipient_id": person.id, "kind": kind, "subject": subject[:SUBJECT_LENGTH], "body": body}
        | {"url_path": url_path[:300], "created_at": utcnow()}
        for person, subject, body, url_path in notices
        if wanted[person.id][0]
    ]
    if rows:
        db.session.execute(sa.insert(Notification), rows)
    base = current_app.config["BASE_URL"].rstrip("/")
    emails = []
    for person, subject, body, url_path in notices:
        if not wanted[person.id][1]:
            continue
        text = f"Hello {person.name},\n\n{body}\n"
        if url_path:
            text += f"\n{base}{url_path}\n"
        text += "\nYou can choose which emails you get on your notification settings page.\n"
        emails.append(outbox.Email(f"notification.{kind}", person.email, subject[:SUBJECT_LENGTH], text))
    outbox.enqueue_many(emails)

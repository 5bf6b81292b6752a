"""Emails as rows written in the same transaction as the change that caused them.

When that transaction commits, a ``deliver`` task is queued; the ``emails`` job sweeps up
anything left every minute (a message whose task was lost, or one waiting to be retried).
Both deliver by SMTP when ``PORTAL_SMTP_HOST`` is set, otherwise to the log (development);
``flask --app portal.app send-outbox`` does the same by hand.

Each message is *claimed* before it is sent, by an UPDATE that only succeeds while nobody else
holds it (``claimed_until`` empty or past): on SQLite and PostgreSQL alike, two workers never
send the same message. A failed message is retried later, each wait twice the last, up to
``MAX_ATTEMPTS`` times, and its last error is kept. A worker killed while sending leaves its
claim to run out (``CLAIM``), and the message is sent by the next sweep.
"""

from __future__ import annotations

import logging
import smtplib
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.message import EmailMessage
from typing import Any

import sqlalchemy as sa
from flask import current_app
from sqlalchemy.orm import Mapped, mapped_column

from portal.core.db import UTCDateTime, utcnow
from portal.core.extensions import Model, db
from portal.core.schedule import job
from portal.core.tasks import enqueue_after_commit, task

log = logging.getLogger("portal.outbox")
MAX_ATTEMPTS = 5
CLAIM = timedelta(minutes=10)  # how long a worker holds a message it is sending
FIRST_RETRY = timedelta(minutes=2)  # then 4, 8, 16 minutes


class OutboxMessage(Model):
    __tablename__ = "outbox_messages"
    __table_args__ = (sa.Index("ix_outbox_messages_pending", "sent_at", "attempts", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(sa.String(60))
    to_email: Mapped[str] = mapped_column(sa.String(254))
    subject: Mapped[str] = mapped_column(sa.String(200))
    body: Mapped[str] = mapped_column(sa.Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    attempts: Mapped[int] = mapped_column(default=0)
    last_error: Mapped[str] = mapped_column(sa.String(500), default="")
    # Held by a worker sending it, or (after a failure) not to be tried again before this.
    claimed_until: Mapped[datetime | None] = mapped_column(UTCDateTime())


def enqueue(kind: str, to_email: str, subject: str, body: str) -> OutboxMessage:
    """Add a message to the current transaction; nothing is sent unless the change commits."""
    message = OutboxMessage(kind=kind, to_email=to_email, subject=subject, body=body)
    db.session.add(message)
    enqueue_after_commit(deliver)
    return message


def _send_smtp(config: dict[str, Any], message: OutboxMessage) -> None:
    email = EmailMessage()
    email["From"] = config["MAIL_FROM"]
    email["To"] = message.to_email
    email["Subject"] = message.subject
    email.set_content(message.body)
    with smtplib.SMTP(config["SMTP_HOST"], config["SMTP_PORT"], timeout=30) as smtp:
        if config["SMTP_STARTTLS"]:
            smtp.starttls()
        if config["SMTP_USERNAME"]:
            smtp.login(config["SMTP_USERNAME"], config["SMTP_PASSWORD"])
        smtp.send_message(email)


def _write_to_log(config: dict[str, Any], message: OutboxMessage) -> None:
    log.info("Email to %s: %s\n%s", message.to_email, message.subject, message.body)


def _pending(now: datetime, after_id: int) -> sa.Select[int]:
    return (
        sa.select(OutboxMessage.id)
        .where(
            OutboxMessage.sent_at.is_(None),
            OutboxMessage.attempts < MAX_ATTEMPTS,
            sa.or_(OutboxMessage.claimed_until.is_(None), OutboxMessage.claimed_until < now),
            OutboxMessage.id > after_id,
        )
        .order_by(OutboxMessage.id)
        .limit(1)
    )


def _claim(message_id: int, now: datetime) -> bool:
    """Take the message for this worker; false when another worker took it first."""
    taken = db.session.execute(
        sa.update(OutboxMessage)
        .where(
            OutboxMessage.id == message_id,
            OutboxMessage.sent_at.is_(None),
            sa.or_(OutboxMessage.claimed_until.is_(None), OutboxMessage.claimed_until < now),
        )
        .values(claimed_until=now + CLAIM, attempts=OutboxMessage.attempts + 1)
        .execution_options(synchronize_session=False)
    )
    db.session.commit()
    return getattr(taken, "rowcount", 0) == 1


def deliver_pending(config: dict[str, Any], *, limit: int = 200) -> tuple[int, int]:
    """Send up to ``limit`` pending messages; returns (sent, failed).

    Each message is claimed first (see the module's notes) and committed on its own, so one
    failure loses nothing and two workers never send the same message."""
    send = _send_smtp if config["SMTP_HOST"] else _write_to_log
    sent = failed = 0
    last_id = 0  # each message is tried at most once per run
    for _ in range(limit):
        now = utcnow()
        message_id = db.session.scalar(_pending(now, last_id))
        if message_id is None:
            break
        last_id = message_id
        if not _claim(message_id, now):
            continue
        message = db.session.get(OutboxMessage, message_id, populate_existing=True)
        assert message is not None
        try:
            send(config, message)
        except (OSError, smtplib.SMTPException) as error:
            message.last_error = str(error)[:500]
            message.claimed_until = utcnow() + FIRST_RETRY * 2 ** (message.attempts - 1)
            failed += 1
        else:
            message.sent_at = utcnow()
            message.claimed_until = None
            sent += 1
        db.session.commit()
    return sent, failed


@dataclass(frozen=True)
class QueueSummary:
    waiting: int
    given_up: int
    oldest_waiting: datetime | None


def queue_summary() -> QueueSummary:
    """How many emails wait, how many failed for good, and since when the oldest waits (one query)."""
    pending = sa.and_(OutboxMessage.sent_at.is_(None), OutboxMessage.attempts < MAX_ATTEMPTS)
    row = db.session.execute(
        sa.select(
            sa.func.count().filter(pending),
            sa.func.count().filter(OutboxMessage.sent_at.is_(None), OutboxMessage.attempts >= MAX_ATTEMPTS),
            sa.func.min(OutboxMessage.created_at).filter(pending),
        ).where(OutboxMessage.sent_at.is_(None))
    ).one()
    return QueueSummary(row[0] or 0, row[1] or 0, row[2])


@task()
def deliver(task: Any = None) -> None:
    """Send what is waiting (queued when a transaction that wrote emails commits)."""
    deliver_pending(current_app.config, limit=200)


@job("emails", "Send waiting emails", every_minutes=1)
def sweep(now: datetime) -> str:
    sent, failed = deliver_pending(current_app.config, limit=500)
    return f"Sent {sent}, failed {failed}."

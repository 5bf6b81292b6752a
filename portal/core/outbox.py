"""Notifications as rows written in the same transaction as the change that caused them.

``flask --app portal send-outbox`` delivers them: by SMTP when ``PORTAL_SMTP_HOST`` is set,
otherwise to the log (development). A message that fails is retried on the next run, up to
``MAX_ATTEMPTS`` times, and its last error is kept.
"""

from __future__ import annotations

import logging
import smtplib
from datetime import datetime
from email.message import EmailMessage
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from portal.core.db import UTCDateTime, utcnow
from portal.core.extensions import Model, db

log = logging.getLogger("portal.outbox")
MAX_ATTEMPTS = 5


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


def enqueue(kind: str, to_email: str, subject: str, body: str) -> OutboxMessage:
    """Add a message to the current transaction; nothing is sent unless the change commits."""
    message = OutboxMessage(kind=kind, to_email=to_email, subject=subject, body=body)
    db.session.add(message)
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


def deliver_pending(config: dict[str, Any], *, limit: int = 200) -> tuple[int, int]:
    """Send up to ``limit`` pending messages; returns (sent, failed).

    Each message is claimed with ``FOR UPDATE SKIP LOCKED`` on PostgreSQL, so two workers
    never send the same message; each is committed on its own, so one failure loses nothing.
    """
    send = _send_smtp if config["SMTP_HOST"] else _write_to_log
    sent = failed = 0
    last_id = 0  # each message is tried at most once per run
    for _ in range(limit):
        message = db.session.scalars(
            sa.select(OutboxMessage)
            .where(
                OutboxMessage.sent_at.is_(None),
                OutboxMessage.attempts < MAX_ATTEMPTS,
                OutboxMessage.id > last_id,
            )
            .order_by(OutboxMessage.id)
            .limit(1)
            .with_for_update(skip_locked=True)
        ).first()
        if message is None:
            break
        last_id = message.id
        message.attempts += 1
        try:
            send(config, message)
        except (OSError, smtplib.SMTPException) as error:
            message.last_error = str(error)[:500]
            failed += 1
        else:
            message.sent_at = utcnow()
            sent += 1
        db.session.commit()
    return sent, failed

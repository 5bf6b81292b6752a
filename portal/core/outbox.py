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

An email never carries words that were withdrawn or hidden after it was written. A message can
name what it is *about* (``about=("story", 12)``: the whole message goes with it) and what it
*mentions* (a digest's lines, as ``Mention``: the line is cut out). ``forget(kind, id)``, called
in the transaction that withdraws or hides the thing, deletes or cuts every waiting message at
once; and just before sending, each mention is checked again by the check its kind registered
(``register_check``), so a line about something withdrawn since is cut even if ``forget`` was
never called. A message whose every line went is not sent at all (``withheld_at``).

Once sent, a message keeps only its kind, recipient and times: its subject and body (which can
hold a password-reset link or someone's words) are erased. Without SMTP, production writes only
the kind and recipient to the log; development writes the body too, so links can be followed.
"""

from __future__ import annotations

import logging
import smtplib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.message import EmailMessage
from typing import Any

import sqlalchemy as sa
from flask import current_app
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.core import keystore
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
    # The message's own key (core.keystore, outside the database): subject and body are sealed
    # with it, and it is destroyed once they are sent, cut or withheld, so no copy the database
    # keeps (dead rows, WAL, backups) can be read afterwards.
    key_id: Mapped[str | None] = mapped_column(sa.String(32))
    sealed_subject: Mapped[str] = mapped_column("subject", sa.Text)
    sealed_body: Mapped[str] = mapped_column("body", sa.Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    attempts: Mapped[int] = mapped_column(default=0)
    last_error: Mapped[str] = mapped_column(sa.String(500), default="")
    # Held by a worker sending it, or (after a failure) not to be tried again before this.
    claimed_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # Not sent, because everything it said was withdrawn or hidden before it could be.
    withheld_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # Written with the message (one batched INSERT for many messages); read by query, never lazily.
    mentions: Mapped[list[OutboxMention]] = relationship(cascade="save-update", lazy="raise_on_sql")

    subject = keystore.SealedText()
    body = keystore.SealedText()

    def seal(self, purpose: str, text: str) -> str:
        if not text:
            return ""
        if self.key_id is None:
            self.key_id = keystore.create()
        return keystore.seal_text(keystore.data_key(self.key_id), text, purpose=f"outbox.{purpose}")

    def unseal(self, purpose: str, sealed: str) -> str:
        """The plain text, or empty once the key is gone (the message is then never sent)."""
        if not sealed or self.key_id is None:
            return ""
        try:
            return keystore.open_text(keystore.data_key(self.key_id), sealed, purpose=f"outbox.{purpose}")
        except keystore.KeyGone:
            return ""

    def shred(self) -> None:
        """Destroy the key, then the sealed words: nothing it said can be read again anywhere."""
        if self.key_id is not None:
            keystore.destroy(self.key_id)
        self.key_id = None
        self.sealed_subject = ""
        self.sealed_body = ""

    def reword(self, subject: str, body: str) -> None:
        """Seal new words under a new key and destroy the old one, so the old words (still in
        the database's older copies of the row) can no longer be opened."""
        self.shred()
        self.subject, self.body = subject, body


class OutboxMention(Model):
    """Something a waiting message is about (``cut_from`` None: the whole message) or mentions
    (the characters ``cut_from:cut_to`` of its body say it). Deleted when the message is sent."""

    __tablename__ = "outbox_mentions"
    __table_args__ = (sa.Index("ix_outbox_mentions_kind_record", "kind", "record_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    message_id: Mapped[int] = mapped_column(sa.ForeignKey("outbox_messages.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(sa.String(30))
    record_id: Mapped[int]
    cut_from: Mapped[int | None]
    cut_to: Mapped[int | None]


@dataclass(frozen=True)
class Mention:
    """``body[start:end]`` speaks of the ``kind`` record ``record_id``."""

    kind: str
    record_id: int
    start: int
    end: int


# kind -> a function given ids that returns those still fit to be emailed (public and shown)
CHECKS: dict[str, Callable[[list[int]], set[int]]] = {}


@keystore.register_holder
def _waiting_keys() -> set[str]:
    return set(db.session.scalars(sa.select(OutboxMessage.key_id).where(OutboxMessage.key_id.is_not(None))))


def register_check(kind: str) -> Callable[[Callable[[list[int]], set[int]]], Callable[[list[int]], set[int]]]:
    """Register how to tell, just before sending, which mentioned ``kind`` records may still be
    emailed. A mention of a kind with no check is kept."""

    def register(check: Callable[[list[int]], set[int]]) -> Callable[[list[int]], set[int]]:
        CHECKS[kind] = check
        return check

    return register


def enqueue(
    kind: str,
    to_email: str,
    subject: str,
    body: str,
    *,
    about: tuple[str, int] | None = None,
    mentions: Sequence[Mention] = (),
) -> OutboxMessage:
    """Add a message to the current transaction; nothing is sent unless the change commits."""
    message = OutboxMessage(kind=kind, to_email=to_email)
    message.subject, message.body = subject, body  # sealed, with a key made for this message
    db.session.add(message)
    if about is not None:
        message.mentions.append(OutboxMention(kind=about[0], record_id=about[1]))
    for mention in mentions:
        message.mentions.append(
            OutboxMention(kind=mention.kind, record_id=mention.record_id, cut_from=mention.start, cut_to=mention.end)
        )
    enqueue_after_commit(deliver)
    return message


@dataclass(frozen=True)
class Email:
    """One message for ``enqueue_many``."""

    kind: str
    to_email: str
    subject: str
    body: str


def seal_many(emails: Sequence[Email]) -> list[dict[str, Any]]:
    """The rows for ``emails``, each sealed with a key of its own. The keys are made here, so a
    caller can do this before its transaction writes anything (no database lock is held while
    the key files are synced), then ``insert_sealed`` the rows."""
    rows = []
    for email, key_id in zip(emails, keystore.create_many(len(emails)), strict=True):
        key = keystore.data_key(key_id)
        rows.append(
            {
                "kind": email.kind,
                "to_email": email.to_email,
                "key_id": key_id,
                "sealed_subject": keystore.seal_text(key, email.subject, purpose="outbox.subject"),
                "sealed_body": keystore.seal_text(key, email.body, purpose="outbox.body"),
                "created_at": utcnow(),
                "attempts": 0,
                "last_error": "",
            }
        )
    return rows


def insert_sealed(rows: list[dict[str, Any]]) -> int:
    """Add rows from ``seal_many`` to the current transaction in one multi-row INSERT."""
    if rows:  # RETURNING: multi-row VALUES on every driver, not one row at a time
        db.session.execute(sa.insert(OutboxMessage).returning(OutboxMessage.id), rows)
        enqueue_after_commit(deliver)
    return len(rows)


def enqueue_many(emails: Sequence[Email]) -> int:
    """``enqueue`` for many messages at once (each with its own key). Returns how many."""
    return insert_sealed(seal_many(emails))


def _cut(message: OutboxMessage, gone: Iterable[OutboxMention], kept: Iterable[OutboxMention]) -> None:
    """Take the ``gone`` mentions out of a waiting message: all of it when one is about the whole
    message or nothing but the greeting would be left, else their characters (``kept`` mentions
    move with the text)."""
    gone = sorted(gone, key=lambda m: m.cut_from if m.cut_from is not None else -1, reverse=True)
    if not gone:
        return
    if any(m.cut_from is None for m in gone) or not [m for m in kept if m.cut_from is not None]:
        message.shred()
        message.withheld_at = utcnow()
        db.session.execute(sa.delete(OutboxMention).where(OutboxMention.message_id == message.id))
        return
    body = message.body
    for mention in gone:
        assert mention.cut_from is not None and mention.cut_to is not None
        body = body[: mention.cut_from] + body[mention.cut_to :]
    for mention in kept:
        if mention.cut_from is None or mention.cut_to is None:
            continue
        before = sum(
            m.cut_to - m.cut_from
            for m in gone
            if m.cut_to is not None and m.cut_from is not None and m.cut_to <= mention.cut_from
        )
        mention.cut_from -= before
        mention.cut_to -= before
    for mention in gone:
        db.session.delete(mention)
    message.reword(message.subject, body)


def forget(kind: str, record_id: int) -> int:
    """In the transaction that withdraws or hides a record: every waiting message about it is
    withheld (its words erased) and every line mentioning it is cut. Returns how many messages
    changed."""
    message_ids = list(
        db.session.scalars(
            sa.select(OutboxMention.message_id)
            .join(OutboxMessage, OutboxMessage.id == OutboxMention.message_id)
            .where(OutboxMention.kind == kind, OutboxMention.record_id == record_id, OutboxMessage.sent_at.is_(None))
            .distinct()
        )
    )
    for message_id in message_ids:
        message = db.session.get(OutboxMessage, message_id)
        assert message is not None
        mentions = list(db.session.scalars(sa.select(OutboxMention).where(OutboxMention.message_id == message_id)))
        hit = [m for m in mentions if m.kind == kind and m.record_id == record_id]
        _cut(message, hit, [m for m in mentions if m not in hit])
    return len(message_ids)


def _check_mentions(message: OutboxMessage) -> None:
    """Just before sending: cut what its kind's check says may no longer be emailed."""
    mentions = list(db.session.scalars(sa.select(OutboxMention).where(OutboxMention.message_id == message.id)))
    gone: list[OutboxMention] = []
    for kind in {m.kind for m in mentions if m.cut_from is not None and m.kind in CHECKS}:
        ids = [m.record_id for m in mentions if m.kind == kind and m.cut_from is not None]
        still = CHECKS[kind](ids)
        gone += [m for m in mentions if m.kind == kind and m.cut_from is not None and m.record_id not in still]
    _cut(message, gone, [m for m in mentions if m not in gone])


def _sent(message: OutboxMessage) -> None:
    """Keep who it went to, what kind and when; erase what it said (links and words)."""
    message.sent_at = utcnow()
    message.claimed_until = None
    message.shred()
    db.session.execute(sa.delete(OutboxMention).where(OutboxMention.message_id == message.id))


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
    if config.get("ENV") == "production":  # the log is kept and read by more people than email
        log.info("Email (%s) to %s, not sent: no SMTP server is set", message.kind, message.to_email)
        return
    log.info("Email to %s: %s\n%s", message.to_email, message.subject, message.body)


def _pending(now: datetime, after_id: int) -> sa.Select[int]:
    return (
        sa.select(OutboxMessage.id)
        .where(
            OutboxMessage.sent_at.is_(None),
            OutboxMessage.withheld_at.is_(None),
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
        _check_mentions(message)
        if message.withheld_at is None and not message.body:  # its key went (a cut that rolled back)
            message.shred()
            message.withheld_at = utcnow()
        if message.withheld_at is not None:
            db.session.commit()
            continue
        try:
            send(config, message)
        except (OSError, smtplib.SMTPException) as error:
            message.last_error = str(error)[:500]
            message.claimed_until = utcnow() + FIRST_RETRY * 2 ** (message.attempts - 1)
            failed += 1
        else:
            _sent(message)
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
    pending = sa.and_(
        OutboxMessage.sent_at.is_(None), OutboxMessage.withheld_at.is_(None), OutboxMessage.attempts < MAX_ATTEMPTS
    )
    row = db.session.execute(
        sa.select(
            sa.func.count().filter(pending),
            sa.func.count().filter(
                OutboxMessage.sent_at.is_(None),
                OutboxMessage.withheld_at.is_(None),
                OutboxMessage.attempts >= MAX_ATTEMPTS,
            ),
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

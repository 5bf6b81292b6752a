"""Emails as rows written in the same transaction as the change that caused them.

When that transaction commits, a ``deliver`` task is queued; the ``emails`` job sweeps up
anything left every minute (a message whose task was lost, or one waiting to be retried).
Both deliver by SMTP when ``PORTAL_SMTP_HOST`` is set, otherwise to the log (development);
``flask --app portal.app send-outbox`` does the same by hand.

Each message is *claimed* before it is sent, by one UPDATE that chooses the next waiting message
and takes it (``claimed_until`` and a ``claim_token`` for this run) and says which (RETURNING):
SQLite runs it under its single write lock, PostgreSQL locks the row (skipping one another
worker is taking), so two workers never hold the same message. The claim commits before
anything is sent, and no transaction is open while it is. A worker held up past its claim
(``CLAIM``, far longer than an SMTP send can take) leaves the message alone; a message is marked
sent or failed only while the claim is still the marking worker's; once the SMTP server has
taken a message, an error after that (QUIT) does not count as a failure, so it is not sent
again. A failed message is retried later, each wait twice the last, up to ``MAX_ATTEMPTS``
times, and its last error is kept; after the last it is failed for good (``failed_at``), logged
at WARNING and listed for staff on ``/admin/emails/failed``, where "Send again" gives it its
attempts back. A worker killed while sending leaves its claim to run out, and the message is
sent by the next sweep.

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
import secrets
import smtplib
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.message import EmailMessage
from typing import Any

import sqlalchemy as sa
from flask import current_app
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.core import audit, keystore
from portal.core.db import UTCDateTime, utcnow
from portal.core.extensions import Model, db
from portal.core.schedule import job
from portal.core.tasks import enqueue_after_commit, task

log = logging.getLogger("portal.outbox")
MAX_ATTEMPTS = 5
# How long a worker holds a message it is sending: far longer than an SMTP send can take (a
# dozen exchanges of at most SMTP_TIMEOUT each).
CLAIM = timedelta(minutes=10)
SMTP_TIMEOUT = 30  # seconds, for each exchange with the SMTP server
MARK_TRIES = 5  # recording that a message went, when the database is busy
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
    # Whose claim ``claimed_until`` is (a random token per sending run): a worker records a
    # message as sent, or as failed, only while the claim is still its own.
    claim_token: Mapped[str | None] = mapped_column(sa.String(32))
    # Failed for good after ``MAX_ATTEMPTS`` attempts: shown to staff, who can send it again.
    failed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
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


@dataclass(frozen=True)
class Outgoing:
    """What a sender needs of a claimed message, read before its transaction ends, so no
    transaction is open while it is sent (an SMTP server can take a while)."""

    id: int
    kind: str
    to_email: str
    subject: str
    body: str


def _send_smtp(config: dict[str, Any], message: Outgoing) -> None:
    """Hand the message to the SMTP server. Once ``send_message`` returns, the server has it:
    an error while saying goodbye (QUIT) is not a failure, or the message would be sent again."""
    email = EmailMessage()
    email["From"] = config["MAIL_FROM"]
    email["To"] = message.to_email
    email["Subject"] = message.subject
    email.set_content(message.body)
    handed_over = False
    try:
        with smtplib.SMTP(config["SMTP_HOST"], config["SMTP_PORT"], timeout=SMTP_TIMEOUT) as smtp:
            if config["SMTP_STARTTLS"]:
                smtp.starttls()
            if config["SMTP_USERNAME"]:
                smtp.login(config["SMTP_USERNAME"], config["SMTP_PASSWORD"])
            smtp.send_message(email)
            handed_over = True
    except (OSError, smtplib.SMTPException) as error:
        if not handed_over:
            raise
        log.info("Email %s was handed over; the SMTP server then said: %s", message.id, error)


def _write_to_log(config: dict[str, Any], message: Outgoing) -> None:
    if config.get("ENV") == "production":  # the log is kept and read by more people than email
        log.info("Email (%s) to %s, not sent: no SMTP server is set", message.kind, message.to_email)
        return
    log.info("Email to %s: %s\n%s", message.to_email, message.subject, message.body)


def _pending_filter(now: datetime) -> sa.ColumnElement[bool]:
    return sa.and_(
        OutboxMessage.sent_at.is_(None),
        OutboxMessage.withheld_at.is_(None),
        OutboxMessage.failed_at.is_(None),
        OutboxMessage.attempts < MAX_ATTEMPTS,
        sa.or_(OutboxMessage.claimed_until.is_(None), OutboxMessage.claimed_until < now),
    )


def _claim_next(now: datetime, after_id: int, token: str) -> int | None:
    """Take the next waiting message after ``after_id`` for this worker, in one statement.

    The UPDATE chooses and claims the message at once and says which (RETURNING): on SQLite it
    runs under the database's single write lock, on PostgreSQL the row is locked (another
    worker's choice is skipped, not waited for) and its conditions are checked again on the
    latest version. Either way only one worker's UPDATE can match a message, and the claim is
    committed before anything is sent. The token says whose claim it is."""
    candidate = (
        sa.select(OutboxMessage.id)
        .where(_pending_filter(now), OutboxMessage.id > after_id)
        .order_by(OutboxMessage.id)
        .limit(1)
        .with_for_update(skip_locked=True)  # PostgreSQL; SQLite has one writer at a time anyway
        .scalar_subquery()
    )
    claimed = db.session.execute(
        sa.update(OutboxMessage)
        .where(OutboxMessage.id == candidate, _pending_filter(now))
        .values(claimed_until=now + CLAIM, claim_token=token, attempts=OutboxMessage.attempts + 1)
        .returning(OutboxMessage.id)
        .execution_options(synchronize_session=False)
    ).scalar()
    db.session.commit()
    return claimed


def _ours(message_id: int, token: str) -> sa.ColumnElement[bool]:
    """The message, while this worker's claim on it holds (nobody took it after it lapsed)."""
    return sa.and_(OutboxMessage.id == message_id, OutboxMessage.claim_token == token, OutboxMessage.sent_at.is_(None))


def _with_retries(change: Callable[[], bool]) -> bool:
    """Run ``change`` and commit, again after a moment if the database was busy: the message has
    already gone, and an unrecorded delivery would be sent again once the claim ran out."""
    for attempt in range(MARK_TRIES):
        try:
            done = change()
            db.session.commit()
            return done
        except sa.exc.OperationalError:
            db.session.rollback()
            if attempt == MARK_TRIES - 1:
                raise
            time.sleep(0.5 * (attempt + 1))
    return False  # pragma: no cover (the loop returns or raises)


def _mark_sent(message_id: int, token: str, key_id: str | None) -> bool:
    """Keep who it went to, what kind and when; erase what it said (links and words). False when
    this worker's claim had lapsed and another worker took the message meanwhile."""

    def change() -> bool:
        marked = db.session.execute(
            sa.update(OutboxMessage)
            .where(_ours(message_id, token))
            .values(
                sent_at=utcnow(), claimed_until=None, claim_token=None, key_id=None, sealed_subject="", sealed_body=""
            )
            .execution_options(synchronize_session=False)
        )
        if getattr(marked, "rowcount", 0) != 1:
            return False
        db.session.execute(sa.delete(OutboxMention).where(OutboxMention.message_id == message_id))
        return True

    marked = _with_retries(change)
    if marked and key_id is not None:
        keystore.destroy(key_id)  # after the commit; a key left by a crash here goes with the key sweep
    return marked


def _mark_failed(message_id: int, token: str, attempts: int, error: str, outgoing: Outgoing) -> None:
    """Try again later (each wait twice the last) or, after the last attempt, fail it for good:
    shown to staff (``/admin/emails/failed``) and logged at WARNING."""
    now = utcnow()
    final = attempts >= MAX_ATTEMPTS
    retry_at = None if final else now + FIRST_RETRY * 2 ** (attempts - 1)

    def change() -> bool:
        db.session.execute(
            sa.update(OutboxMessage)
            .where(_ours(message_id, token))
            .values(last_error=error[:500], claimed_until=retry_at, claim_token=None, failed_at=now if final else None)
            .execution_options(synchronize_session=False)
        )
        return True

    _with_retries(change)
    if final:
        log.warning(
            "Email %s (%s) to %s could not be sent after %d attempts: %s",
            message_id,
            outgoing.kind,
            outgoing.to_email,
            attempts,
            error[:500],
        )
    else:
        log.info(
            "Email %s (%s) not sent (attempt %d), tried again later: %s", message_id, outgoing.kind, attempts, error
        )


def _lapsed(claimed_until: datetime | None) -> bool:
    """True when this worker was held up (a pause, a slow check) past its claim: another worker
    may have the message by now, so this one leaves it alone, sending and recording nothing."""
    if claimed_until is not None and utcnow() < claimed_until:
        return False
    db.session.rollback()
    log.warning("An email was left to another sender: this one's claim on it ran out before it was sent")
    return True


def deliver_pending(config: dict[str, Any], *, limit: int = 200) -> tuple[int, int]:
    """Send up to ``limit`` pending messages; returns (sent, failed).

    Each message is claimed first (see the module's notes), then sent with no transaction open,
    then marked sent only if the claim is still this worker's: one failure loses nothing and
    two workers never send the same message."""
    send = _send_smtp if config["SMTP_HOST"] else _write_to_log
    token = secrets.token_hex(16)  # this run's claims
    sent = failed = 0
    last_id = 0  # each message is tried at most once per run
    for _ in range(limit):
        now = utcnow()
        message_id = _claim_next(now, last_id, token)
        if message_id is None:
            break
        last_id = message_id
        message = db.session.get(OutboxMessage, message_id, populate_existing=True)
        assert message is not None
        claimed_until = message.claimed_until
        _check_mentions(message)
        if _lapsed(claimed_until):
            continue
        if message.withheld_at is None and not message.body:  # its key went (a cut that rolled back)
            message.shred()
            message.withheld_at = utcnow()
        if message.withheld_at is not None:
            message.claimed_until = message.claim_token = None
            db.session.commit()
            continue
        outgoing = Outgoing(message.id, message.kind, message.to_email, message.subject, message.body)
        attempts, key_id = message.attempts, message.key_id
        db.session.commit()  # any cut is kept; nothing is held while the message is sent
        if _lapsed(claimed_until):
            continue
        try:
            send(config, outgoing)
        except Exception as error:  # any failure of one message (a bad address too) is that message's
            _mark_failed(message_id, token, attempts, str(error) or type(error).__name__, outgoing)
            failed += 1
            continue
        if not _mark_sent(message_id, token, key_id):
            log.warning("Email %s was sent after this worker's claim on it ran out", message_id)
        sent += 1
    return sent, failed


@dataclass(frozen=True)
class QueueSummary:
    waiting: int
    given_up: int
    oldest_waiting: datetime | None


def _failed_filter() -> sa.ColumnElement[bool]:
    """Failed for good: its last attempt failed (``failed_at``; rows from before that column
    have only their attempts) and nobody has sent it again since."""
    return sa.and_(
        OutboxMessage.sent_at.is_(None),
        OutboxMessage.withheld_at.is_(None),
        sa.or_(OutboxMessage.failed_at.is_not(None), OutboxMessage.attempts >= MAX_ATTEMPTS),
    )


def queue_summary() -> QueueSummary:
    """How many emails wait, how many failed for good, and since when the oldest waits (one query)."""
    failed = _failed_filter()
    pending = sa.and_(OutboxMessage.withheld_at.is_(None), sa.not_(failed))
    row = db.session.execute(
        sa.select(
            sa.func.count().filter(pending),
            sa.func.count().filter(failed),
            sa.func.min(OutboxMessage.created_at).filter(pending),
        ).where(OutboxMessage.sent_at.is_(None))
    ).one()
    return QueueSummary(row[0] or 0, row[1] or 0, row[2])


def failed_count() -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(OutboxMessage).where(_failed_filter())) or 0


def failed_page(*, before_id: int | None, size: int) -> tuple[list[OutboxMessage], int | None]:
    """Up to ``size`` failed messages, newest first, older than ``before_id`` (keyset: the same
    cost on every page), and the id to ask for the next page with (None on the last page)."""
    query = sa.select(OutboxMessage).where(_failed_filter()).order_by(OutboxMessage.id.desc()).limit(size + 1)
    if before_id is not None:
        query = query.where(OutboxMessage.id < before_id)
    rows = list(db.session.scalars(query))
    more = len(rows) > size
    rows = rows[:size]
    return rows, (rows[-1].id if more and rows else None)


def failed_message(message_id: int) -> OutboxMessage | None:
    return db.session.scalar(sa.select(OutboxMessage).where(OutboxMessage.id == message_id, _failed_filter()))


def _send_again_values() -> dict[str, Any]:
    return {"attempts": 0, "failed_at": None, "claimed_until": None, "claim_token": None}


def send_again(message: OutboxMessage, *, by: Any) -> None:
    """Give a failed message its attempts back: the next sending run takes it (and queue one)."""
    db.session.execute(
        sa.update(OutboxMessage)
        .where(OutboxMessage.id == message.id, _failed_filter())
        .values(**_send_again_values())
        .execution_options(synchronize_session=False)
    )
    audit.record(
        "email.send_again",
        message,
        actor=by,
        before={"attempts": message.attempts, "last_error": message.last_error},
        after={"kind": message.kind},
    )
    enqueue_after_commit(deliver)


def send_all_again(*, by: Any) -> int:
    """Every failed message gets its attempts back, in one statement; returns how many."""
    ids = sorted(
        db.session.scalars(
            sa.update(OutboxMessage)
            .where(_failed_filter())
            .values(**_send_again_values())
            .returning(OutboxMessage.id)
            .execution_options(synchronize_session=False)
        )
    )
    if not ids:
        return 0
    audit.record("email.send_all_again", by, actor=by, after={"messages": len(ids), "first": ids[0], "last": ids[-1]})
    enqueue_after_commit(deliver)
    return len(ids)


@task()
def deliver(task: Any = None) -> None:
    """Send what is waiting (queued when a transaction that wrote emails commits)."""
    deliver_pending(current_app.config, limit=200)


@job("emails", "Send waiting emails", every_minutes=1)
def sweep(now: datetime) -> str:
    sent, failed = deliver_pending(current_app.config, limit=500)
    return f"Sent {sent}, failed {failed}."

"""Outbox: messages commit with the change that caused them; the worker delivers them."""

from __future__ import annotations

import smtplib
from datetime import timedelta
from typing import Any

import sqlalchemy as sa
import time_machine
from flask import Flask

from portal.core import outbox
from portal.core.db import utcnow
from portal.core.extensions import db
from portal.core.outbox import OutboxMessage


def _pending() -> list[OutboxMessage]:
    return list(db.session.scalars(sa.select(OutboxMessage).where(OutboxMessage.sent_at.is_(None))))


def test_message_is_written_only_if_the_change_commits(app: Flask) -> None:
    outbox.enqueue("test", "a@example.test", "Hello", "Body")
    db.session.rollback()
    assert _pending() == []
    outbox.enqueue("test", "a@example.test", "Hello", "Body")
    db.session.commit()
    assert len(_pending()) == 1


def test_send_outbox_writes_to_the_log_without_smtp(app: Flask, caplog: Any) -> None:
    outbox.enqueue("test", "a@example.test", "Hello there", "Body text")
    db.session.commit()
    caplog.set_level("INFO", logger="portal.outbox")
    result = app.test_cli_runner().invoke(args=["send-outbox"])
    assert result.exit_code == 0 and "Sent 1, failed 0" in result.output
    assert "Hello there" in caplog.text and "a@example.test" in caplog.text
    db.session.expire_all()
    assert _pending() == []


class FakeSMTP:
    sent: list[Any] = []
    fail = False

    def __init__(self, host: str, port: int, timeout: int) -> None:
        self.host = host

    def __enter__(self) -> FakeSMTP:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def starttls(self) -> None:
        pass

    def login(self, user: str, password: str) -> None:
        pass

    def send_message(self, message: Any) -> None:
        if FakeSMTP.fail:
            raise smtplib.SMTPServerDisconnected("connection lost")
        FakeSMTP.sent.append(message)


def test_smtp_delivery_and_retry_after_failure(app: Flask, monkeypatch: Any) -> None:
    monkeypatch.setattr(smtplib, "SMTP", FakeSMTP)
    app.config.update(SMTP_HOST="smtp.invalid", SMTP_USERNAME="portal", SMTP_PASSWORD="secret")
    FakeSMTP.sent, FakeSMTP.fail = [], True
    outbox.enqueue("test", "b@example.test", "Claim approved", "Your claim was approved.")
    db.session.commit()
    assert outbox.deliver_pending(app.config) == (0, 1)
    message = _pending()[0]
    assert message.attempts == 1 and "connection lost" in message.last_error
    FakeSMTP.fail = False
    assert outbox.deliver_pending(app.config) == (0, 0)  # not before its retry time
    with time_machine.travel(utcnow() + outbox.FIRST_RETRY + timedelta(seconds=1)):
        assert outbox.deliver_pending(app.config) == (1, 0)
    assert FakeSMTP.sent[0]["To"] == "b@example.test" and FakeSMTP.sent[0]["Subject"] == "Claim approved"
    assert _pending() == []


def test_gives_up_after_max_attempts(app: Flask, monkeypatch: Any) -> None:
    monkeypatch.setattr(smtplib, "SMTP", FakeSMTP)
    app.config.update(SMTP_HOST="smtp.invalid")
    FakeSMTP.fail = True
    outbox.enqueue("test", "c@example.test", "S", "B")
    db.session.commit()
    later = utcnow()
    for _ in range(outbox.MAX_ATTEMPTS + 2):
        with time_machine.travel(later):
            outbox.deliver_pending(app.config)
        later += timedelta(days=1)
    assert _pending()[0].attempts == outbox.MAX_ATTEMPTS
    assert outbox.queue_summary().given_up == 1

"""Every email is delivered exactly once, however many senders run at once (a fault test of
issue 19): two senders in threads with their own connections, two ``send-outbox`` processes, a
sender held up until its claim ran out, and an SMTP server that fails after taking the message.
Runs on SQLite (a database file) and, with TEST_DATABASE_URL, on PostgreSQL."""

from __future__ import annotations

import os
import smtplib
import subprocess
import sys
import threading
import time
from collections import Counter
from datetime import timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from flask import Flask

from portal.core import outbox
from portal.core.extensions import db
from portal.core.outbox import OutboxMessage
from tests.helpers import TEST_SETTINGS

MESSAGES = 300
TIMEOUT = 120


def _write(app: Flask, count: int) -> None:
    with app.app_context():
        for number in range(count):
            outbox.enqueue("test", f"person{number}@example.test", f"Message {number}", f"Hello {number}")
        db.session.commit()
        db.session.remove()


def _states(app: Flask) -> list[tuple[int, bool, int, str | None]]:
    with app.app_context():
        rows = db.session.execute(
            sa.select(
                OutboxMessage.id, OutboxMessage.sent_at.is_not(None), OutboxMessage.attempts, OutboxMessage.key_id
            )
        ).all()
        db.session.remove()
    return [(row[0], bool(row[1]), row[2], row[3]) for row in rows]


def _run_at_once(app: Flask, senders: int, work: Any) -> list[tuple[int, int]]:
    """``work(number)`` in ``senders`` threads, each in its own app context (its own session and
    connection), released together; returns what each sender's deliver_pending returned."""
    start = threading.Barrier(senders)
    results: list[tuple[int, int]] = []
    errors: list[BaseException] = []

    def sender(number: int) -> None:
        with app.app_context():
            try:
                start.wait(TIMEOUT)
                results.append(work(number))
            except BaseException as error:
                errors.append(error)
            finally:
                db.session.remove()

    threads = [threading.Thread(target=sender, args=(n,)) for n in range(senders)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(TIMEOUT * 2)
    assert not errors, errors
    assert len(results) == senders
    return results


def test_two_senders_at_once_deliver_every_message_exactly_once(app_factory: Any, monkeypatch: Any) -> None:
    app = app_factory()
    _write(app, MESSAGES)
    delivered: list[tuple[int, str]] = []
    lock = threading.Lock()

    def record(config: Any, message: outbox.Outgoing) -> None:
        time.sleep(0.001)  # a delivery takes a moment: the other sender runs meanwhile
        with lock:
            delivered.append((message.id, threading.current_thread().name))

    monkeypatch.setattr(outbox, "_write_to_log", record)
    results = _run_at_once(app, 2, lambda number: outbox.deliver_pending(app.config, limit=MESSAGES))

    counts = Counter(message_id for message_id, _thread in delivered)
    assert sorted(counts) == [row[0] for row in sorted(_states(app))]
    assert [message_id for message_id, times in counts.items() if times > 1] == []
    assert len(counts) == MESSAGES
    assert sum(sent for sent, _failed in results) == MESSAGES
    assert all(sent > 0 for sent, _failed in results), results  # both senders did some of it
    assert {(sent, attempts, key) for _id, sent, attempts, key in _states(app)} == {(True, 1, None)}


def test_two_send_outbox_processes_deliver_every_message_exactly_once(app_factory: Any, tmp_path: Path) -> None:
    app = app_factory()
    _write(app, MESSAGES)
    env = {
        **os.environ,
        "PORTAL_ENV": "development",  # each email is logged with its subject, which the test counts
        "PORTAL_SECRET_KEY": TEST_SETTINGS["SECRET_KEY"],
        "PORTAL_DATABASE_URL": app.config["SQLALCHEMY_DATABASE_URI"],
        "PORTAL_INSTANCE_PATH": app.instance_path,
        "PORTAL_TASK_QUEUE_URL": "memory",
    }
    logs = [tmp_path / "sender-1.log", tmp_path / "sender-2.log"]
    files = [log.open("wb") for log in logs]
    command = [sys.executable, "-m", "flask", "--app", "portal.app", "send-outbox", "--limit", str(MESSAGES)]
    senders = [subprocess.Popen(command, env=env, stdout=file, stderr=subprocess.STDOUT) for file in files]
    try:
        codes = [sender.wait(timeout=TIMEOUT) for sender in senders]
    finally:
        for sender in senders:
            if sender.poll() is None:
                sender.kill()
        for file in files:
            file.close()
    output = [log.read_text() for log in logs]
    assert codes == [0, 0], output
    subjects = [line.rsplit(": ", 1)[1] for text in output for line in text.splitlines() if "Email to person" in line]
    assert sorted(subjects) == sorted(f"Message {n}" for n in range(MESSAGES))
    assert {(sent, attempts, key) for _id, sent, attempts, key in _states(app)} == {(True, 1, None)}


def test_a_sender_held_up_past_its_claim_neither_sends_nor_records(app_factory: Any, monkeypatch: Any) -> None:
    """Sender A claims the first message and is held up (a pause, a slow check) until its claim
    has run out; sender B then takes the message and sends it. A must not send it too."""
    app = app_factory()
    _write(app, 3)
    monkeypatch.setattr(outbox, "CLAIM", timedelta(milliseconds=400))
    delivered: list[tuple[int, str]] = []
    lock = threading.Lock()
    held = threading.Event()
    b_done = threading.Event()
    original_check = outbox._check_mentions

    def slow_for_a(message: OutboxMessage) -> None:
        if threading.current_thread().name == "A" and not held.is_set():
            held.set()  # B may start: A holds the first message's claim
            assert b_done.wait(TIMEOUT)
        original_check(message)

    def record(config: Any, message: outbox.Outgoing) -> None:
        with lock:
            delivered.append((message.id, threading.current_thread().name))

    monkeypatch.setattr(outbox, "_check_mentions", slow_for_a)
    monkeypatch.setattr(outbox, "_write_to_log", record)
    results: dict[str, tuple[int, int]] = {}

    def run(name: str) -> None:
        with app.app_context():
            try:
                if name == "B":
                    assert held.wait(TIMEOUT)
                    time.sleep(0.6)  # A's claim runs out
                results[name] = outbox.deliver_pending(app.config)
            finally:
                if name == "B":
                    b_done.set()
                db.session.remove()

    threads = [threading.Thread(target=run, args=(name,), name=name) for name in ("A", "B")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(TIMEOUT)
    first = min(row[0] for row in _states(app))
    assert sorted(delivered) == sorted({*delivered})  # none twice
    assert [name for message_id, name in delivered if message_id == first] == ["B"]
    assert results["B"] == (3, 0) and results["A"] == (0, 0)
    states = {row[0]: row for row in _states(app)}
    assert states[first][1:3] == (True, 2)  # sent once, by B, on the second claim
    with app.app_context():  # and A, whose claim had gone, recorded nothing about it
        assert db.session.get_one(OutboxMessage, first).withheld_at is None
        db.session.remove()


class AcceptsThenHangsUp:
    """An SMTP server that takes the message, then fails to answer QUIT."""

    sent: list[Any] = []

    def __init__(self, host: str, port: int, timeout: int) -> None:
        pass

    def __enter__(self) -> AcceptsThenHangsUp:
        return self

    def __exit__(self, *exc: object) -> None:
        raise smtplib.SMTPResponseException(421, b"Service closing transmission channel")

    def starttls(self) -> None:
        pass

    def login(self, user: str, password: str) -> None:
        pass

    def send_message(self, message: Any) -> None:
        AcceptsThenHangsUp.sent.append(message)


def test_an_smtp_server_that_fails_after_taking_the_message_gets_it_once(app: Flask, monkeypatch: Any) -> None:
    monkeypatch.setattr(smtplib, "SMTP", AcceptsThenHangsUp)
    AcceptsThenHangsUp.sent = []
    app.config.update(SMTP_HOST="smtp.invalid", SMTP_USERNAME="")
    outbox.enqueue("test", "once@example.test", "Once", "Only once")
    db.session.commit()
    assert outbox.deliver_pending(app.config) == (1, 0)
    db.session.expire_all()
    message = db.session.scalars(sa.select(OutboxMessage)).one()
    assert message.sent_at is not None and message.last_error == ""
    assert [m["To"] for m in AcceptsThenHangsUp.sent] == ["once@example.test"]

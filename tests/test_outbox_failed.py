"""Emails that fail: tried again with growing waits, then failed for good, logged at WARNING and
shown to staff on /admin/emails/failed, where "Send again" (one) and "Send all again" give them
their attempts back (audited). Runs on SQLite and, with TEST_DATABASE_URL, on PostgreSQL."""

from __future__ import annotations

import logging
import re
import smtplib
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
import time_machine
from flask import Flask

from portal.core import outbox
from portal.core.audit import AuditEntry
from portal.core.db import utcnow
from portal.core.extensions import db
from portal.core.outbox import OutboxMessage
from tests import factories
from tests.helpers import count_queries, sign_in


class RefusingSMTP:
    """An SMTP server that is down (``up`` False) or takes every message (``sent``)."""

    up = False
    sent: list[Any] = []

    def __init__(self, host: str, port: int, timeout: int) -> None:
        if not RefusingSMTP.up:
            raise ConnectionRefusedError(111, "Connection refused")

    def __enter__(self) -> RefusingSMTP:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def starttls(self) -> None:
        pass

    def login(self, user: str, password: str) -> None:
        pass

    def send_message(self, message: Any) -> None:
        RefusingSMTP.sent.append(message)


def _smtp(app: Flask, monkeypatch: Any, *, up: bool) -> None:
    monkeypatch.setattr(smtplib, "SMTP", RefusingSMTP)
    RefusingSMTP.up, RefusingSMTP.sent = up, []
    app.config.update(SMTP_HOST="smtp.invalid", SMTP_USERNAME="")


def _enqueue(kind: str, to: str, subject: str, body: str) -> int:
    message = outbox.enqueue(kind, to, subject, body)
    db.session.commit()
    return message.id


def _message(message_id: int) -> OutboxMessage:
    db.session.expire_all()
    return db.session.get_one(OutboxMessage, message_id)


def _fail_for_good(app: Flask, count: int = 1, start: datetime | None = None) -> tuple[list[int], datetime]:
    """``count`` messages that fail every attempt; returns their ids and a time after the last."""
    ids = []
    for number in range(count):
        message = outbox.enqueue(
            "claim_update", f"person{number}@example.test", f"Your claim {number}", f"Private body {number}"
        )
        db.session.flush()
        ids.append(message.id)
    db.session.commit()
    when = start or utcnow()
    for _ in range(outbox.MAX_ATTEMPTS):
        with time_machine.travel(when, tick=False):
            outbox.deliver_pending(app.config, limit=1000)
        when += timedelta(days=1)
    return ids, when


def test_a_failing_message_is_retried_with_growing_waits_then_failed_for_good(
    app: Flask, monkeypatch: Any, caplog: Any
) -> None:
    _smtp(app, monkeypatch, up=False)
    message_id = _enqueue("claim_update", "wait@example.test", "Claim approved", "Body")
    caplog.set_level(logging.INFO, logger="portal.outbox")
    start = utcnow()
    when = start
    waits = []
    for attempt in range(1, outbox.MAX_ATTEMPTS + 1):
        with time_machine.travel(when, tick=False):
            assert outbox.deliver_pending(app.config) == (0, 1)
        message = _message(message_id)
        assert message.attempts == attempt and "Connection refused" in message.last_error
        if attempt < outbox.MAX_ATTEMPTS:
            assert message.failed_at is None and message.claimed_until is not None
            wait = message.claimed_until - when
            waits.append(wait)
            with time_machine.travel(message.claimed_until - timedelta(seconds=1), tick=False):
                assert outbox.deliver_pending(app.config) == (0, 0)  # not before its time
            when = message.claimed_until + timedelta(seconds=1)
    assert waits == [outbox.FIRST_RETRY * 2**n for n in range(outbox.MAX_ATTEMPTS - 1)]
    message = _message(message_id)
    assert message.failed_at is not None and message.sent_at is None and message.claimed_until is None
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING and r.name == "portal.outbox"]
    assert len(warnings) == 1
    assert "wait@example.test" in warnings[0].getMessage() and "5 attempts" in warnings[0].getMessage()
    assert "Connection refused" in warnings[0].getMessage()
    with time_machine.travel(when + timedelta(days=30), tick=False):
        assert outbox.deliver_pending(app.config) == (0, 0)  # never again by itself
    assert outbox.queue_summary().given_up == 1 and outbox.queue_summary().waiting == 0
    assert message.subject == "Claim approved"  # kept sealed, to be sent again


def test_a_message_the_sender_cannot_handle_fails_alone(app: Flask, monkeypatch: Any) -> None:
    """An error that is not the network's (here a header no email may carry) fails that message
    and lets the run go on with the others."""
    bad = _enqueue("test", "bad\n@example.test", "Bad", "Body")
    good = _enqueue("test", "good@example.test", "Good", "Body")
    _smtp(app, monkeypatch, up=True)
    assert outbox.deliver_pending(app.config) == (1, 1)
    assert _message(bad).attempts == 1 and _message(bad).last_error
    assert _message(good).sent_at is not None
    assert [m["To"] for m in RefusingSMTP.sent] == ["good@example.test"]


def _token(page: str) -> str:
    found = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page)
    assert found, page
    return found.group(1)


def test_staff_see_failed_emails_without_their_bodies(app: Flask, monkeypatch: Any, as_role: Any) -> None:
    _smtp(app, monkeypatch, up=False)
    ids, _later = _fail_for_good(app, 2)
    waiting = _enqueue("test", "still@example.test", "Still trying", "x")
    staff = as_role("staff")
    jobs = staff.get("/admin/jobs").get_data(as_text=True)
    assert "2 emails could not be sent." in jobs and "/admin/emails/failed" in jobs
    page = staff.get("/admin/emails/failed")
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    for number, message_id in enumerate(ids):
        assert f"person{number}@example.test" in text and f"Your claim {number}" in text
        assert f"/admin/emails/failed/{message_id}/send-again" in text
        assert f"Private body {number}" not in text
    assert "claim_update" in text and "Connection refused" in text
    assert "still@example.test" not in text and f"/{waiting}/send-again" not in text
    assert as_role("member").get("/admin/emails/failed").status_code == 403
    assert as_role("anonymous").get("/admin/emails/failed").status_code in (302, 303)


def test_send_again_gives_the_message_its_attempts_back(app: Flask, monkeypatch: Any, as_role: Any, users: Any) -> None:
    _smtp(app, monkeypatch, up=False)
    (message_id,), later = _fail_for_good(app)
    staff = as_role("staff")
    response = staff.post(f"/admin/emails/failed/{message_id}/send-again", data={})
    assert response.status_code == 303 and response.headers["Location"].endswith("/admin/emails/failed")
    message = _message(message_id)
    assert (message.attempts, message.failed_at, message.claimed_until) == (0, None, None)
    entry = db.session.scalars(sa.select(AuditEntry).where(AuditEntry.action == "email.send_again")).one()
    assert entry.actor_id == users["staff"].id and entry.object_id == str(message_id)
    assert entry.before == {"attempts": outbox.MAX_ATTEMPTS, "last_error": message.last_error}
    assert "Private body" not in str(entry.after) and "Your claim" not in str(entry.after)
    RefusingSMTP.up = True
    with time_machine.travel(later, tick=False):
        assert outbox.deliver_pending(app.config) == (1, 0)
    assert [m["To"] for m in RefusingSMTP.sent] == ["person0@example.test"]
    assert RefusingSMTP.sent[0]["Subject"] == "Your claim 0"
    assert _message(message_id).sent_at is not None
    # Pressed again (a second tab): nothing left to send again, said plainly.
    again = staff.post(f"/admin/emails/failed/{message_id}/send-again", data={}, follow_redirects=True)
    assert again.status_code == 200 and "no longer waiting to be sent again" in again.get_data(as_text=True)
    assert staff.post("/admin/emails/failed/999999/send-again", data={}).status_code == 303


def test_send_all_again_in_one_go(app: Flask, monkeypatch: Any, as_role: Any) -> None:
    _smtp(app, monkeypatch, up=False)
    ids, later = _fail_for_good(app, 3)
    sent_one = _enqueue("test", "fine@example.test", "Fine", "x")
    RefusingSMTP.up = True
    with time_machine.travel(later, tick=False):
        assert outbox.deliver_pending(app.config) == (1, 0)
    staff = as_role("staff")
    response = staff.post("/admin/emails/failed/send-all-again", data={}, follow_redirects=True)
    assert "3 emails will be sent again" in response.get_data(as_text=True)
    assert outbox.queue_summary().given_up == 0 and outbox.queue_summary().waiting == 3
    entry = db.session.scalars(sa.select(AuditEntry).where(AuditEntry.action == "email.send_all_again")).one()
    assert entry.after == {"messages": 3, "first": ids[0], "last": ids[-1]}
    with time_machine.travel(later, tick=False):
        assert outbox.deliver_pending(app.config) == (3, 0)
    assert sorted(m["To"] for m in RefusingSMTP.sent) == sorted(
        ["fine@example.test", "person0@example.test", "person1@example.test", "person2@example.test"]
    )
    assert _message(sent_one).attempts == 1
    nothing = staff.post("/admin/emails/failed/send-all-again", data={}, follow_redirects=True)
    assert "No emails were waiting to be sent again." in nothing.get_data(as_text=True)


def test_send_again_needs_the_forms_token(app_factory: Any, monkeypatch: Any) -> None:
    app = app_factory(WTF_CSRF_ENABLED=True)
    with app.app_context():
        _smtp(app, monkeypatch, up=False)
        (message_id,), _later = _fail_for_good(app)
        staff = factories.one_of_each_role()["staff"]
        client = app.test_client()
        signed_in = sign_in(
            client, staff.email, csrf_token=_token(client.get("/account/sign-in").get_data(as_text=True))
        )
        assert signed_in.status_code == 303
        assert client.post(f"/admin/emails/failed/{message_id}/send-again", data={}).status_code == 400
        assert _message(message_id).failed_at is not None
        page = client.get("/admin/emails/failed").get_data(as_text=True)
        response = client.post(f"/admin/emails/failed/{message_id}/send-again", data={"csrf_token": _token(page)})
        assert response.status_code == 303
        assert _message(message_id).failed_at is None
        db.session.remove()


def test_failed_emails_page_by_page_with_the_same_queries(app: Flask, monkeypatch: Any, as_role: Any) -> None:
    app.config["PAGE_SIZE"] = 4
    _smtp(app, monkeypatch, up=False)
    ids, _later = _fail_for_good(app, 10)
    staff = as_role("staff")
    seen: list[int] = []
    url = "/admin/emails/failed"
    queries = []
    staff.get(url)  # warm up
    while url:
        with count_queries() as statements:
            page = staff.get(url)
        assert page.status_code == 200
        queries.append(len(statements))
        text = page.get_data(as_text=True)
        seen += [int(n) for n in re.findall(r"/admin/emails/failed/(\d+)/send-again", text)]
        older = re.search(r'href="(/admin/emails/failed\?before=\d+)" rel="next"', text)
        url = older.group(1) if older else ""
    assert seen == sorted(ids, reverse=True)  # every one once, newest first
    assert len(queries) == 3 and len(set(queries)) == 1, queries
    for bad in ("?before=abc", "?before=-4", "?before=99999999999"):
        response = staff.get("/admin/emails/failed" + bad)
        assert response.status_code in (200, 400) and response.status_code < 500
    assert staff.get("/admin/emails/failed?before=1").status_code == 200
    assert "No older emails" in staff.get("/admin/emails/failed?before=1").get_data(as_text=True)

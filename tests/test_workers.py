"""Real worker processes (``flask --app portal.app worker``) draining one queue: on SQLite with
the queue in a SQLite file (the embedded default), and on PostgreSQL with the queue in Redis."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from flask import Flask

from portal.core import outbox, tasks
from portal.core.extensions import db
from portal.core.outbox import OutboxMessage
from portal.core.schedule import JOBS, RunState, TaskRun, WorkerHeartbeat
from tests.helpers import TEST_DATABASE_URL, TEST_SETTINGS

REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
MESSAGES = 120


def _queue_settings(tmp_path: Path) -> dict[str, str]:
    if TEST_DATABASE_URL:
        return {"TASK_QUEUE_URL": REDIS_URL, "TASK_QUEUE_NAME": f"portal-test-{uuid.uuid4().hex}"}
    return {"TASK_QUEUE_URL": str(tmp_path / "tasks.sqlite3"), "TASK_QUEUE_NAME": "portal"}


def _start_worker(
    app: Flask, settings: dict[str, str], log: Any, command: list[str] | None = None
) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "PORTAL_ENV": "development",  # logs each email at INFO, which the test counts
        "PORTAL_SECRET_KEY": TEST_SETTINGS["SECRET_KEY"],
        "PORTAL_DATABASE_URL": app.config["SQLALCHEMY_DATABASE_URI"],
        "PORTAL_INSTANCE_PATH": app.instance_path,
        "PORTAL_TASK_QUEUE_URL": settings["TASK_QUEUE_URL"],
        "PORTAL_TASK_QUEUE_NAME": settings["TASK_QUEUE_NAME"],
    }
    given = command or ["worker", "--workers", "2"]
    return subprocess.Popen(
        [sys.executable, "-m", "flask", "--app", "portal.app", *given], env=env, stdout=log, stderr=subprocess.STDOUT
    )


def _wait(condition: Any, seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        db.session.rollback()
        if condition():
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def test_two_workers_send_each_email_once(app_factory: Any, tmp_path: Path) -> None:
    settings = _queue_settings(tmp_path)
    app = app_factory(**settings)
    with app.app_context():
        logs = [tmp_path / "worker-1.log", tmp_path / "worker-2.log"]
        files = [log.open("wb") for log in logs]
        workers = [_start_worker(app, settings, file) for file in files]
        try:
            # Both processes are consuming, and one has run a scheduler tick (its heartbeat).
            _wait(lambda: all("consumer started" in log.read_text() for log in logs), 60, "both workers")
            _wait(lambda: db.session.scalar(sa.select(sa.func.count()).select_from(WorkerHeartbeat)) > 0, 60, "a tick")
            for number in range(MESSAGES):
                outbox.enqueue("test", f"person{number}@example.test", f"Message {number}", "Hello")
            db.session.commit()  # queues one delivery task after the commit
            for _ in range(20):  # and more, so that both workers deliver at the same time
                tasks.enqueue(outbox.deliver)
            pending = sa.select(sa.func.count()).select_from(OutboxMessage).where(OutboxMessage.sent_at.is_(None))
            _wait(lambda: db.session.scalar(pending) == 0, 90, "every email to be sent")
            # Both schedulers claimed the first tick's jobs between them; every claimed run ran.
            unfinished = sa.select(sa.func.count()).select_from(TaskRun).where(TaskRun.state != RunState.SUCCEEDED)
            _wait(lambda: db.session.scalar(unfinished) == 0, 60, "every scheduled run to finish")
            assert db.session.scalar(sa.select(sa.func.count()).select_from(TaskRun)) >= len(JOBS)
        finally:
            for worker in workers:
                worker.send_signal(signal.SIGINT)
            for worker in workers:
                worker.wait(timeout=30)
            for file in files:
                file.close()
            tasks.queue.storage.flush_all()
        output = [log.read_text() for log in logs]
        sends = [line for text in output for line in text.splitlines() if "Email to person" in line]
        subjects = [line.rsplit(": ", 1)[1] for line in sends]
        assert sorted(subjects) == sorted(f"Message {n}" for n in range(MESSAGES)), output
        attempts = db.session.scalars(sa.select(OutboxMessage.attempts)).all()
        assert attempts == [1] * MESSAGES
        # Both processes did some of the sending (the test is of two workers, not one).
        assert all("Email to person" in text for text in output), [t[-2000:] for t in output]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_serve_runs_the_web_server_and_a_worker_in_one_process(app_factory: Any, tmp_path: Path) -> None:
    """``make run``'s command: the pages answer and the schedule ticks, so /healthz is 200."""
    settings = _queue_settings(tmp_path)
    app = app_factory(**settings)
    port = _free_port()
    with app.app_context(), (tmp_path / "serve.log").open("wb") as log:
        server = _start_worker(app, settings, log, command=["serve", "--port", str(port)])
        try:
            _wait(lambda: db.session.scalar(sa.select(sa.func.count()).select_from(WorkerHeartbeat)) > 0, 60, "a tick")
            db.session.rollback()  # hold no SQLite lock while the server's jobs write
            deadline = time.monotonic() + 30
            while True:
                try:
                    with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5) as answer:
                        status, body = answer.status, answer.read().decode()
                    break
                except OSError:
                    if time.monotonic() > deadline or server.poll() is not None:
                        raise
                    time.sleep(0.2)
        finally:
            server.send_signal(signal.SIGINT)
            server.wait(timeout=30)
            tasks.queue.storage.flush_all()
        assert (status, json.loads(body)["worker"]) == (200, "ok"), (tmp_path / "serve.log").read_text()[-2000:]

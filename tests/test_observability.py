"""Structured logs with a request id on every line, and Prometheus metrics at a protected /metrics."""

from __future__ import annotations

import io
import json
import logging
import os
import re
import subprocess
import sys
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from flask import Flask, g
from gunicorn.config import Config
from gunicorn.glogging import Logger, SafeAtoms

from portal.core import logging_setup, tasks
from portal.core.access_logs import QueryStringFilter
from portal.core.db import utcnow
from portal.core.extensions import db
from portal.core.outbox import OutboxMessage
from portal.core.schedule import RunState, TaskRun
from tests.helpers import count_queries, run_tasks

TOKEN = "metrics-token-for-the-tests-0123456789"
GENERATED = re.compile(r"[0-9a-f]{32}")
ROOT = Path(__file__).resolve().parent.parent


def _log_stream() -> io.StringIO:
    """What the portal's root handler writes from now on."""
    handler = next(h for h in logging.getLogger().handlers if isinstance(h, logging_setup._PortalHandler))
    stream = io.StringIO()
    handler.setStream(stream)
    return stream


def _json_lines(stream: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stream.getvalue().splitlines() if line.strip()]


def _production_app(app_factory: Any, **settings: Any) -> Flask:
    app: Flask = app_factory(ENV="production", SECRET_KEY="a-production-secret-of-some-length-0123", **settings)

    def noisy() -> str:
        logging.getLogger("portal.test").info("looked at the noisy page")
        return "ok"

    def broken() -> str:
        raise RuntimeError("the test's own failure")

    noisy.permission = broken.permission = "public"  # type: ignore[attr-defined]
    app.add_url_rule("/test-noisy", "test_noisy", noisy)
    app.add_url_rule("/test-broken", "test_broken", broken)
    return app


# --- request ids ----------------------------------------------------------------------------------


def test_json_lines_carry_the_request_id_in_production(app_factory: Any) -> None:
    app = _production_app(app_factory)
    stream = _log_stream()
    with app.app_context():
        logging.getLogger("portal.test").warning("outside any request")
    response = app.test_client().get("/test-noisy", headers={"X-Request-ID": "lb-1234-abcd"})
    assert response.status_code == 200 and response.headers["X-Request-ID"] == "lb-1234-abcd"
    lines = _json_lines(stream)  # every line is one JSON object, or json.loads fails here
    outside = next(line for line in lines if line["message"] == "outside any request")
    inside = next(line for line in lines if line["message"] == "looked at the noisy page")
    assert "request_id" not in outside
    assert inside["request_id"] == "lb-1234-abcd"
    assert inside["level"] == "INFO" and inside["logger"] == "portal.test" and inside["timestamp"]


def test_development_logs_are_readable_text_with_the_request_id(app_factory: Any) -> None:
    app = app_factory(LOG_FORMAT="text", LOG_LEVEL="INFO")
    app.add_url_rule("/test-noisy", "test_noisy", lambda: logging.getLogger("portal.test").info("hello") or "ok")
    stream = _log_stream()
    response = app.test_client().get("/test-noisy")
    line = next(line for line in stream.getvalue().splitlines() if "hello" in line)
    assert re.search(r" INFO portal\.test: hello \[request_id=[0-9a-f]{32}\]$", line), line
    assert line.endswith(f"[request_id={response.headers['X-Request-ID']}]")


def test_the_request_id_header_round_trips_and_is_kept_in_g(app: Flask) -> None:
    seen: list[str] = []
    app.add_url_rule("/test-id", "test_id", lambda: seen.append(g.request_id) or "ok")
    client = app.test_client()
    given = client.get("/test-id", headers={"X-Request-ID": "0f8e2c1a-5b7d-4c3e-9a1b-2d3e4f5a6b7c"})
    assert given.headers["X-Request-ID"] == "0f8e2c1a-5b7d-4c3e-9a1b-2d3e4f5a6b7c" == seen[-1]
    made = client.get("/test-id")
    assert GENERATED.fullmatch(made.headers["X-Request-ID"]) and made.headers["X-Request-ID"] == seen[-1]
    assert client.get("/test-id").headers["X-Request-ID"] != made.headers["X-Request-ID"]  # one per request
    # Refused before any view (a NUL in the query string is a 400): the page still has its id.
    refused = client.get("/stories?q=%00", headers={"X-Request-ID": "refused-early-1"})
    assert refused.status_code == 400 and refused.headers["X-Request-ID"] == "refused-early-1"
    assert "Reference: <code>refused-early-1</code>" in refused.get_data(as_text=True)


@pytest.mark.parametrize(
    "unsafe",
    ["<script>alert(1)</script>", "x" * 65, "short", "two words here", "id;rm -rf", "ünïcode-id-1", ""],
)
def test_an_unsafe_incoming_id_is_replaced(app: Flask, unsafe: str) -> None:
    response = app.test_client().get("/", headers={"X-Request-ID": unsafe})
    assert response.status_code == 200
    assert GENERATED.fullmatch(response.headers["X-Request-ID"])


def test_the_500_page_and_its_log_line_show_the_request_id(app_factory: Any) -> None:
    app = _production_app(app_factory)
    stream = _log_stream()
    response = app.test_client().get("/test-broken", headers={"X-Request-ID": "quote-me-123"})
    assert response.status_code == 500 and response.headers["X-Request-ID"] == "quote-me-123"
    assert "Reference: <code>quote-me-123</code>" in response.get_data(as_text=True)
    failure = next(line for line in _json_lines(stream) if line["message"].startswith("Exception on /test-broken"))
    assert failure["request_id"] == "quote-me-123" and failure["level"] == "ERROR"
    assert "the test's own failure" in failure["exc_info"]
    # A page the person can quote from, whatever the id was: a generated one shows as well.
    made = app.test_client().get("/test-broken")
    assert f"Reference: <code>{made.headers['X-Request-ID']}</code>" in made.get_data(as_text=True)


logging_test_runs: list[str] = []


@tasks.task()
def _logging_task(word: str, task: Any = None) -> None:
    logging.getLogger("portal.test").warning("task says %s", word)
    logging_test_runs.append(word)


def test_a_task_logs_with_its_name_and_id_and_not_a_request_id(app_factory: Any) -> None:
    app = app_factory(LOG_FORMAT="json")
    stream = _log_stream()
    with app.app_context():
        tasks.enqueue(_logging_task, "hello")
        assert run_tasks() == 1
    line = next(line for line in _json_lines(stream) if line["message"] == "task says hello")
    assert line["task"] == "tests.test_observability._logging_task" and len(line["task_id"]) >= 8
    assert "request_id" not in line


def test_a_scheduled_job_logs_with_its_name_and_run(app_factory: Any) -> None:
    from portal.core import schedule

    def job_run(now: Any) -> str:
        logging.getLogger("portal.test").warning("job ran")
        return "Done."

    app = app_factory(LOG_FORMAT="json")
    stream = _log_stream()
    schedule.job("test-logging-job", "A job for the logging test", every_minutes=5)(job_run)
    try:
        with app.app_context():
            run = schedule.run_now("test-logging-job", utcnow())
            db.session.commit()
            run_tasks()
            assert db.session.get(TaskRun, run.id).state == RunState.SUCCEEDED  # type: ignore[union-attr]
    finally:
        del schedule.JOBS["test-logging-job"]
    line = next(line for line in _json_lines(stream) if line["message"] == "job ran")
    assert line["job"] == "test-logging-job" and line["job_run"] == str(run.id)


def test_gunicorns_json_access_line_has_the_request_id_and_no_query_string(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))  # so reading gunicorn.conf.py makes no folder
    environ = {
        "REQUEST_METHOD": "GET",
        "RAW_URI": "/search?q=Zanzibarquill+Marigold",
        "PATH_INFO": "/search/?q=Zanzibarquill",  # a decoded %3F: the filter must still cut it
        "QUERY_STRING": "q=Zanzibarquill+Marigold",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "192.0.2.7",
        "HTTP_REFERER": "http://portal.test/stories?q=Zanzibarquill",
    }
    response = type("R", (), {"status": "200 OK", "sent": 512, "headers": [("X-Request-ID", "abcd-1234-ef")]})()
    atoms = SafeAtoms(
        Logger(Config()).atoms(response, type("Q", (), {"headers": []})(), environ, timedelta(0, 0, 12500))
    )
    settings: dict[str, Any] = {}
    exec((ROOT / "gunicorn.conf.py").read_text(), settings)  # the file gunicorn reads
    record = logging.LogRecord("gunicorn.access", logging.INFO, __file__, 1, settings["access_log_format"], None, None)
    record.args = atoms  # as gunicorn logs it: the format and its atoms
    assert QueryStringFilter().filter(record)
    line = logging_setup.AccessJsonFormatter().format(record)
    assert "Zanzibarquill" not in line and "Marigold" not in line and "q=" not in line
    fields = json.loads(line)
    assert fields["request_id"] == "abcd-1234-ef" and fields["path"] == "/search/"
    assert fields["status"] == 200 and fields["bytes"] == 512 and fields["duration_ms"] == 12.5
    assert fields["remote_addr"] == "192.0.2.7" and fields["method"] == "GET"
    assert settings["logconfig_dict"]["formatters"]["access"]["()"] == "portal.core.logging_setup.AccessJsonFormatter"


def test_bad_log_settings_are_refused_at_start(app_factory: Any) -> None:
    with pytest.raises(RuntimeError, match="PORTAL_LOG_FORMAT"):
        app_factory(LOG_FORMAT="xml")
    with pytest.raises(RuntimeError, match="PORTAL_LOG_LEVEL"):
        app_factory(LOG_LEVEL="loud")


# --- metrics --------------------------------------------------------------------------------------


def _metric(text: str, name: str, **labels: str) -> float:
    """The value of one sample in the Prometheus text format (labels given must all match)."""
    for line in text.splitlines():
        sample, _, value = line.rpartition(" ")
        metric, _, label_text = sample.partition("{")
        if metric != name:
            continue
        found = dict(re.findall(r'(\w+)="([^"]*)"', label_text))
        if all(found.get(k) == v for k, v in labels.items()):
            return float(value)
    raise AssertionError(f"no {name} {labels} in the metrics")


def test_metrics_are_not_served_without_a_token_or_an_address(client: Any) -> None:
    assert client.get("/metrics").status_code == 404
    assert client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"}).status_code == 404


def test_metrics_refuse_without_the_token_and_show_latency_and_the_outbox_with_it(app_factory: Any) -> None:
    app = app_factory(METRICS_TOKEN=TOKEN)
    client = app.test_client()
    for refused in ({}, {"Authorization": "Bearer wrong-token-of-some-length"}, {"Authorization": TOKEN}):
        answer = client.get("/metrics", headers=refused)
        assert answer.status_code == 401 and answer.headers["WWW-Authenticate"].startswith("Bearer")
        assert b"portal_request" not in answer.data

    with app.app_context():
        now = utcnow()
        db.session.add_all(
            [
                OutboxMessage(kind="t", to_email="a@example.org", sealed_subject="", sealed_body="", created_at=now),
                OutboxMessage(
                    kind="t",
                    to_email="b@example.org",
                    sealed_subject="",
                    sealed_body="",
                    created_at=now - timedelta(minutes=10),
                ),
                TaskRun(job="digest", slot="2026-01-01", state=RunState.FAILED),
                TaskRun(job="digest", slot="2026-01-02", state=RunState.FAILED),
                TaskRun(job="emails", slot="2026-01-01T00:00", state=RunState.SUCCEEDED),
            ]
        )
        db.session.commit()
    before = client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"}).get_data(as_text=True)
    seen_before = _metric_or_zero(before, "portal_request_duration_seconds_count", endpoint="main.home", method="GET")
    assert client.get("/").status_code == 200
    assert client.get("/no-such-page").status_code == 404

    with app.app_context(), count_queries() as statements:
        answer = client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    assert len(statements) <= 2, statements  # the outbox summary and the failed jobs, nothing per row
    assert answer.status_code == 200 and answer.headers["Content-Type"].startswith("text/plain; version=")
    text = answer.get_data(as_text=True)
    assert _metric(text, "portal_request_duration_seconds_count", endpoint="main.home", method="GET") == seen_before + 1
    assert _metric(text, "portal_request_duration_seconds_bucket", endpoint="main.home", method="GET", le="+Inf") >= 1
    assert _metric(text, "portal_request_errors_total", status="404", endpoint="none") >= 1
    assert _metric(text, "portal_request_errors_total", status="401", endpoint="metrics") >= 3
    assert _metric(text, "portal_outbox_waiting") == 2
    assert 600 <= _metric(text, "portal_outbox_oldest_waiting_age_seconds") < 900
    assert _metric(text, "portal_job_runs_failed", job="digest") == 2
    assert 'portal_job_runs_failed{job="emails"}' not in text
    assert _metric(text, "portal_task_queue_length") >= 0 and _metric(text, "portal_metrics_database_up") == 1


def _metric_or_zero(text: str, name: str, **labels: str) -> float:
    try:
        return _metric(text, name, **labels)
    except AssertionError:
        return 0.0


def test_metrics_answer_allowed_addresses_without_a_token(app_factory: Any) -> None:
    app = app_factory(METRICS_ALLOW="10.0.0.0/8, 127.0.0.1")
    client = app.test_client()
    assert client.get("/metrics").status_code == 200  # the test client comes from 127.0.0.1
    assert client.get("/metrics", environ_base={"REMOTE_ADDR": "10.20.30.40"}).status_code == 200
    assert client.get("/metrics", environ_base={"REMOTE_ADDR": "192.0.2.1"}).status_code == 403


def test_the_task_queue_length_is_the_number_waiting(app_factory: Any) -> None:
    app = app_factory(METRICS_TOKEN=TOKEN)
    with app.app_context():
        tasks.drain()
        tasks.enqueue(_logging_task, "one")
        tasks.enqueue(_logging_task, "two")
        text = app.test_client().get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"}).get_data(as_text=True)
        assert _metric(text, "portal_task_queue_length") == 2
        tasks.drain()


def test_bad_metrics_settings_are_refused_at_start(app_factory: Any) -> None:
    with pytest.raises(RuntimeError, match="PORTAL_METRICS_TOKEN"):
        app_factory(METRICS_TOKEN="short")
    with pytest.raises(RuntimeError, match="PORTAL_METRICS_ALLOW"):
        app_factory(METRICS_ALLOW="10.0.0.0/8, not-an-address")


def test_gunicorn_workers_figures_add_up_in_multiprocess_mode(tmp_path: Path) -> None:
    """Two worker processes record a request each; a scrape in a third sees both."""
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(tmp_path)}
    record = "from portal.core import metrics; metrics.REQUEST_SECONDS.labels('main.home', 'GET').observe(0.2)"
    for _ in range(2):
        subprocess.run([sys.executable, "-c", record], env=env, check=True, timeout=60)
    scrape = (
        "from prometheus_client import generate_latest; from portal.core import metrics; "
        "print(generate_latest(metrics._request_metrics()).decode())"
    )
    text = subprocess.run([sys.executable, "-c", scrape], env=env, check=True, timeout=60, capture_output=True).stdout
    assert _metric(text.decode(), "portal_request_duration_seconds_count", endpoint="main.home", method="GET") == 2
    assert _metric(text.decode(), "portal_request_duration_seconds_sum", endpoint="main.home", method="GET") == 0.4


def test_the_development_servers_request_line_carries_the_request_id(app_factory: Any) -> None:
    import threading
    import urllib.request

    from werkzeug.serving import make_server

    app = app_factory(LOG_FORMAT="text", LOG_LEVEL="INFO")
    stream = _log_stream()
    server = make_server("127.0.0.1", 0, app)
    serving = threading.Thread(target=server.serve_forever)
    serving.start()
    try:
        asked = urllib.request.Request(
            f"http://127.0.0.1:{server.server_port}/search?q=Zanzibarquill", headers={"X-Request-ID": "dev-server-42"}
        )
        with urllib.request.urlopen(asked) as answer:
            assert answer.status == 200 and answer.headers["X-Request-ID"] == "dev-server-42"
    finally:
        server.shutdown()
        serving.join()
        server.server_close()
    line = next(line for line in stream.getvalue().splitlines() if "GET /search HTTP" in line)
    assert line.endswith("[request_id=dev-server-42]") and "Zanzibarquill" not in line


def test_metrics_still_answer_when_the_database_does_not(app_factory: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    from sqlalchemy.exc import OperationalError

    from portal.core import metrics

    def database_down() -> None:
        raise OperationalError("SELECT", {}, Exception("connection refused"))

    app = app_factory(METRICS_TOKEN=TOKEN)
    monkeypatch.setattr(metrics, "queue_summary", database_down)
    answer = app.test_client().get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    assert answer.status_code == 200
    text = answer.get_data(as_text=True)
    assert _metric(text, "portal_metrics_database_up") == 0
    assert "portal_outbox_waiting" not in text and "portal_request_duration_seconds_count" in text


def test_a_request_whose_error_page_fails_counts_as_a_500(app_factory: Any) -> None:
    app = _production_app(app_factory, METRICS_TOKEN=TOKEN)

    def error_page_fails(error: Exception) -> str:
        raise RuntimeError("the error page needs the database, which is down")

    app.register_error_handler(500, error_page_fails)
    client = app.test_client()

    def errors() -> float:
        text = client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"}).get_data(as_text=True)
        return _metric_or_zero(text, "portal_request_errors_total", status="500", endpoint="test_broken")

    before = errors()
    with pytest.raises(RuntimeError, match="database, which is down"):
        client.get("/test-broken")  # gunicorn would answer with its own bare page
    assert errors() == before + 1

"""Prometheus metrics at ``/metrics``: request latency and errors, the queues, failed jobs.

What is measured:

- ``portal_request_duration_seconds{endpoint,method}``: a histogram of the time from the first
  hook to the response being ready (for a streamed CSV, until it starts), by Flask endpoint
  (``none`` for an address no route matches, so the labels stay a short fixed list);
- ``portal_request_errors_total{status,endpoint}``: answers of 400 or more, by status; a request
  whose error page itself failed counts as a 500;
- at scrape time, from the stores themselves: ``portal_task_queue_length`` and
  ``portal_task_queue_scheduled`` (Huey: tasks waiting, and retries waiting for their time),
  ``portal_outbox_waiting``, ``portal_outbox_given_up`` and
  ``portal_outbox_oldest_waiting_age_seconds`` (one query, ``outbox.queue_summary``),
  ``portal_job_runs_failed{job}`` (scheduled job runs recorded as failed, one grouped query),
  and ``portal_metrics_database_up`` (0 when those two queries failed: the rest still answers).

Under gunicorn each worker is a process: ``gunicorn.conf.py`` points ``PROMETHEUS_MULTIPROC_DIR``
at an empty folder before any worker starts, so prometheus_client writes each worker's figures
there and a scrape of any worker adds them all up (prometheus_client's multiprocess mode).

Who may read it (``PORTAL_METRICS_TOKEN``, ``PORTAL_METRICS_ALLOW``): a request from an address in
``METRICS_ALLOW`` (comma-separated addresses or networks, ``10.0.0.0/8, 127.0.0.1``), or with
``Authorization: Bearer <METRICS_TOKEN>``. With neither setting the route does not exist (404),
so nothing is published by default; a request that is neither gets 401 (a token is set) or 403.
"""

from __future__ import annotations

import hmac
import ipaddress
import logging
import os
import time
from collections.abc import Iterable
from typing import Any

import sqlalchemy as sa
from flask import Flask, Response, current_app, g, request, request_started
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector
from sqlalchemy.exc import SQLAlchemyError

from portal.core.db import utcnow
from portal.core.extensions import db
from portal.core.outbox import queue_summary
from portal.core.permissions import public
from portal.core.schedule import RunState, TaskRun
from portal.core.tasks import queue

log = logging.getLogger("portal.metrics")

# prometheus_client chooses per-process or multiprocess values when it is first imported, from
# this variable; the scrape reads the same way.
MULTIPROCESS = bool(os.environ.get("PROMETHEUS_MULTIPROC_DIR"))
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
TOKEN_MIN_LENGTH = 16

REQUEST_SECONDS = Histogram(
    "portal_request_duration_seconds",
    "Time to answer a request, by endpoint.",
    ["endpoint", "method"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30),
)
REQUEST_ERRORS = Counter(
    "portal_request_errors", "Answers with a status of 400 or more, by status and endpoint.", ["status", "endpoint"]
)
_STARTED = "_metrics_started"


def _start(sender: Flask, **extra: Any) -> None:
    setattr(g, _STARTED, time.perf_counter())


def _record(status: int) -> None:
    started = g.pop(_STARTED, None)
    if started is None:
        return  # recorded already (or the request began outside the hooks)
    endpoint = request.url_rule.endpoint if request.url_rule is not None else "none"
    method = request.method if request.method in METHODS else "other"
    REQUEST_SECONDS.labels(endpoint, method).observe(time.perf_counter() - started)
    if status >= 400:
        REQUEST_ERRORS.labels(str(status), endpoint).inc()


def _after(response: Response) -> Response:
    _record(response.status_code)
    return response


def _teardown(error: BaseException | None) -> None:
    if error is not None:
        _record(500)  # the error page itself failed: nothing reached after_request


def _request_metrics() -> CollectorRegistry:
    if not MULTIPROCESS:
        return REGISTRY
    registry = CollectorRegistry()
    MultiProcessCollector(registry)  # type: ignore[no-untyped-call]  # prometheus_client leaves it unannotated
    return registry


class PortalState(Collector):
    """The queues and failed jobs, read when scraped: one queue-store call each, two database queries."""

    def collect(self) -> Iterable[Metric]:
        yield from self._task_queue()
        yield from self._database()

    def _task_queue(self) -> Iterable[Metric]:
        try:
            waiting, scheduled = queue.pending_count(), queue.scheduled_count()
        except Exception:  # the queue's store is down: say so in the log, keep the other figures
            log.warning("Could not read the task queue's length", exc_info=True)
            return
        yield GaugeMetricFamily("portal_task_queue_length", "Tasks waiting for a worker.", value=waiting)
        yield GaugeMetricFamily(
            "portal_task_queue_scheduled", "Tasks waiting for their time (retries).", value=scheduled
        )

    def _database(self) -> Iterable[Metric]:
        try:
            summary = queue_summary()
            failed = db.session.execute(
                sa.select(TaskRun.job, sa.func.count())
                .where(TaskRun.state == RunState.FAILED)
                .group_by(TaskRun.job)
                .order_by(TaskRun.job)
            ).all()
        except SQLAlchemyError:
            db.session.rollback()
            log.warning("Could not read the outbox and job figures", exc_info=True)
            yield GaugeMetricFamily("portal_metrics_database_up", "1 when the figures below could be read.", value=0)
            return
        yield GaugeMetricFamily("portal_metrics_database_up", "1 when the figures below could be read.", value=1)
        yield GaugeMetricFamily("portal_outbox_waiting", "Emails waiting to be sent.", value=summary.waiting)
        yield GaugeMetricFamily("portal_outbox_given_up", "Emails that failed for good.", value=summary.given_up)
        age = (utcnow() - summary.oldest_waiting).total_seconds() if summary.oldest_waiting else 0.0
        yield GaugeMetricFamily(
            "portal_outbox_oldest_waiting_age_seconds",
            "How long the oldest waiting email has waited.",
            value=max(age, 0),
        )
        jobs = GaugeMetricFamily("portal_job_runs_failed", "Scheduled job runs recorded as failed.", labels=["job"])
        for job, count in failed:
            jobs.add_metric([job], count)
        yield jobs


def allowed_networks(setting: str) -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    networks = []
    for part in (p.strip() for p in setting.split(",")):
        if not part:
            continue
        try:
            networks.append(ipaddress.ip_network(part, strict=False))
        except ValueError:
            raise RuntimeError(
                f"PORTAL_METRICS_ALLOW: {part!r} is not an address or a network (10.0.0.0/8, 127.0.0.1)."
            ) from None
    return networks


def _from_allowed_address() -> bool:
    try:
        address = ipaddress.ip_address(request.remote_addr or "")
    except ValueError:
        return False
    return any(address in network for network in current_app.extensions["portal.metrics_allow"])


def _has_token(token: str) -> bool:
    scheme, _, given = request.headers.get("Authorization", "").partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode(), token.encode())


@public  # its own check below: an address allowed, or the bearer token
def metrics() -> Response:
    token = current_app.config["METRICS_TOKEN"]
    if not (_from_allowed_address() or (token and _has_token(token))):
        if token:
            return Response(
                "A bearer token is needed.\n",
                401,
                {"WWW-Authenticate": 'Bearer realm="metrics"'},
                mimetype="text/plain",
            )
        return Response("Not from an allowed address.\n", 403, mimetype="text/plain")
    state = CollectorRegistry()
    state.register(PortalState())
    body = generate_latest(_request_metrics()) + generate_latest(state)
    return Response(body, headers={"Content-Type": CONTENT_TYPE_LATEST, "Cache-Control": "no-store"})


def init_metrics(app: Flask) -> None:
    """Time every request (from ``request_started``, before any hook); serve /metrics when allowed."""
    request_started.connect(_start, app)
    app.after_request(_after)
    app.teardown_request(_teardown)
    token: Any = app.config["METRICS_TOKEN"]
    if token and len(token) < TOKEN_MIN_LENGTH:
        raise RuntimeError(f"PORTAL_METRICS_TOKEN must be a random string of at least {TOKEN_MIN_LENGTH} characters.")
    app.extensions["portal.metrics_allow"] = allowed_networks(app.config["METRICS_ALLOW"])
    if token or app.extensions["portal.metrics_allow"]:
        app.add_url_rule("/metrics", "metrics", metrics, methods=["GET"])

"""Scheduled jobs: what the portal does by itself, when, and what happened the last time.

A domain declares a job with ``@job(name, title, every_minutes=N)`` or ``daily_at=time(7, 0)``
(UK time). Every minute each worker's scheduler queues one ``tick``; the tick records that a
worker is alive (``/healthz`` reads it) and, for each job whose time has come, claims the
job's *slot* (``emails@2026-12-03T09:05``, ``digest@2026-12-03``) by inserting a ``TaskRun``
row: the pair is unique, so however many workers tick, a slot is claimed once and its job
queued once. A slot missed while no worker ran is caught up by the next tick (only the latest
slot: a daily job runs once, not once per day missed).

A job's function takes ``now`` and returns a one-line result; it must be idempotent (the
reminders record what they sent). It runs in one transaction with its run's record: if it
raises, nothing it did is kept, the error is recorded and Huey retries it with backoff; after
the last retry the run is marked failed, which the admin jobs page and ``flask jobs`` show.
"""

from __future__ import annotations

import enum
import os
import socket
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import Any

import sqlalchemy as sa
from huey import crontab
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, mapped_column

from portal.core.db import UTCDateTime, str_enum, utcnow
from portal.core.extensions import Model, db
from portal.core.formatting import LONDON
from portal.core.logging_setup import log_context
from portal.core.tasks import current_app_for_tasks, enqueue_after_commit, queue, task

STALE_RUN = timedelta(minutes=30)  # a run still "running" after this was lost with its worker


class RunState(enum.StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    RETRYING = "retrying"
    SUCCEEDED = "succeeded"
    FAILED = "failed"

    @property
    def label(self) -> str:
        return {"retrying": "Failed, will retry"}.get(self.value, self.value.capitalize())


class TaskRun(Model):
    """One slot of one job: claimed once, then run (and perhaps retried) until it ends."""

    __tablename__ = "task_runs"
    __table_args__ = (
        sa.UniqueConstraint("job", "slot"),
        sa.Index("ix_task_runs_job_id", "job", "id"),
        sa.Index("ix_task_runs_state_job", "state", "job"),  # the failed runs /metrics counts (core/metrics.py)
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    job: Mapped[str] = mapped_column(sa.String(80))
    slot: Mapped[str] = mapped_column(sa.String(40))
    state: Mapped[RunState] = mapped_column(str_enum(RunState, "task_run_state"), default=RunState.QUEUED)
    attempts: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    result: Mapped[str] = mapped_column(sa.String(500), default="")
    error: Mapped[str] = mapped_column(sa.Text, default="")


class WorkerHeartbeat(Model):
    """A worker process, and when its scheduler last ticked."""

    __tablename__ = "worker_heartbeats"

    name: Mapped[str] = mapped_column(sa.String(200), primary_key=True)
    seen_at: Mapped[datetime] = mapped_column(UTCDateTime())


@dataclass(frozen=True)
class Job:
    name: str
    title: str
    run: Callable[[datetime], str]
    every_minutes: int | None = None
    daily_at: time | None = None
    retries: int = 2
    retry_delay: int = 30  # seconds before the first retry; doubled for each one after

    @property
    def schedule(self) -> str:
        if self.every_minutes == 1:
            return "every minute"
        if self.every_minutes:
            return f"every {self.every_minutes} minutes"
        assert self.daily_at is not None
        return f"daily at {self.daily_at:%H:%M} UK time"

    def slot(self, now: datetime) -> str:
        """The latest slot that has begun at ``now``."""
        local = now.astimezone(LONDON)
        if self.every_minutes:
            minutes = (local.hour * 60 + local.minute) // self.every_minutes * self.every_minutes
            return f"{local:%Y-%m-%d}T{minutes // 60:02d}:{minutes % 60:02d}"
        assert self.daily_at is not None
        day = local.date() if local.time() >= self.daily_at else local.date() - timedelta(days=1)
        return day.isoformat()


JOBS: dict[str, Job] = {}


def job(
    name: str,
    title: str,
    *,
    every_minutes: int | None = None,
    daily_at: time | None = None,
    retries: int = 2,
    retry_delay: int = 30,
) -> Callable[[Callable[[datetime], str]], Callable[[datetime], str]]:
    """Declare a scheduled job (exactly one of ``every_minutes`` or ``daily_at``)."""
    if (every_minutes is None) == (daily_at is None):
        raise ValueError("give every_minutes or daily_at")
    if every_minutes is not None and not 1 <= every_minutes <= 60 * 24:
        raise ValueError("every_minutes must be from 1 to 1440")

    def register(fn: Callable[[datetime], str]) -> Callable[[datetime], str]:
        JOBS[name] = Job(name, title, fn, every_minutes, daily_at, retries, retry_delay)
        return fn

    return register


def _claim(job_name: str, slot: str) -> TaskRun | None:
    run = TaskRun(job=job_name, slot=slot, state=RunState.QUEUED)
    try:
        with db.session.begin_nested():
            db.session.add(run)
    except IntegrityError:
        return None
    return run


def _queue_run(found: Job, run: TaskRun) -> None:
    enqueue_after_commit(run_job, run.id, retries=found.retries, retry_delay=found.retry_delay, retry_backoff=2)


def run_due(now: datetime) -> list[TaskRun]:
    """Claim and queue every job whose slot has come at ``now``; returns the runs claimed.

    Commits: the claims must be visible to every other worker before the jobs are queued."""
    claimed = []
    for found in JOBS.values():
        run = _claim(found.name, found.slot(now))
        if run is not None:
            _queue_run(found, run)
            claimed.append(run)
    db.session.commit()
    return claimed


def run_now(job_name: str, now: datetime) -> TaskRun:
    """Queue a job outside its schedule (staff's "Run now"); its normal slots still run."""
    found = JOBS[job_name]
    run = TaskRun(job=found.name, slot=f"now-{now:%Y%m%dT%H%M%S.%f}", state=RunState.QUEUED)
    db.session.add(run)
    db.session.flush()
    _queue_run(found, run)
    return run


def _start(run_id: int, now: datetime) -> bool:
    """Take the run for this worker; false when it is finished or another worker has it."""
    taken = db.session.execute(
        sa.update(TaskRun)
        .where(
            TaskRun.id == run_id,
            sa.or_(
                TaskRun.state.in_([RunState.QUEUED, RunState.RETRYING]),
                sa.and_(TaskRun.state == RunState.RUNNING, TaskRun.started_at < now - STALE_RUN),
            ),
        )
        .values(state=RunState.RUNNING, attempts=TaskRun.attempts + 1, started_at=now)
        .execution_options(synchronize_session=False)
    )
    db.session.commit()
    return getattr(taken, "rowcount", 0) == 1


@task()
def run_job(run_id: int, task: Any = None) -> None:
    """Run one claimed slot of a job (queued by ``run_due``; Huey retries it when it raises)."""
    if not _start(run_id, utcnow()):
        return
    run = db.session.get(TaskRun, run_id)
    assert run is not None
    found = JOBS.get(run.job)
    try:
        if found is None:
            raise LookupError(f"no job called {run.job!r} in this version of the portal")
        with log_context(job=run.job, job_run=run_id):  # every line the job logs names it (core/logging_setup.py)
            result = found.run(utcnow())
    except Exception as error:
        db.session.rollback()
        run = db.session.get(TaskRun, run_id)
        assert run is not None
        final = found is None or task is None or not task.retries
        run.state = RunState.FAILED if final else RunState.RETRYING
        run.error = f"{type(error).__name__}: {error}"[:4000]
        run.finished_at = utcnow()
        db.session.commit()
        if final:
            return  # recorded; nothing left to retry
        raise
    run.state = RunState.SUCCEEDED
    run.result = (result or "Done.")[:500]
    run.error = ""
    run.finished_at = utcnow()
    db.session.commit()


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def beat(now: datetime) -> None:
    """Record that this worker is alive (an update, or the first insert; two threads may race)."""
    name = worker_name()
    seen = sa.update(WorkerHeartbeat).where(WorkerHeartbeat.name == name).values(seen_at=now)
    if getattr(db.session.execute(seen), "rowcount", 0) == 0:
        try:
            with db.session.begin_nested():
                db.session.add(WorkerHeartbeat(name=name, seen_at=now))
        except IntegrityError:
            db.session.execute(seen)
    db.session.commit()


def tick(now: datetime) -> list[TaskRun]:
    """What each worker's scheduler does every minute."""
    beat(now)
    return run_due(now)


@queue.periodic_task(crontab(minute="*"), name="portal.core.schedule.every_minute")  # type: ignore[untyped-decorator]
def _every_minute() -> None:
    with current_app_for_tasks().app_context():
        try:
            tick(utcnow())
        finally:
            db.session.remove()


def last_seen_worker() -> datetime | None:
    return db.session.scalar(sa.select(sa.func.max(WorkerHeartbeat.seen_at)))


def worker_health(now: datetime, stale_minutes: int) -> tuple[bool, datetime | None]:
    seen = last_seen_worker()
    return seen is not None and seen >= now - timedelta(minutes=stale_minutes), seen


@dataclass(frozen=True)
class JobStatus:
    job: Job
    last: TaskRun | None
    last_success: TaskRun | None


def statuses() -> list[JobStatus]:
    """Every job with its latest run and latest success (two queries, however many jobs)."""
    latest = sa.select(sa.func.max(TaskRun.id)).group_by(TaskRun.job)
    succeeded = sa.select(sa.func.max(TaskRun.id)).where(TaskRun.state == RunState.SUCCEEDED).group_by(TaskRun.job)
    last = {r.job: r for r in db.session.scalars(sa.select(TaskRun).where(TaskRun.id.in_(latest)))}
    ok = {r.job: r for r in db.session.scalars(sa.select(TaskRun).where(TaskRun.id.in_(succeeded)))}
    return [JobStatus(j, last.get(j.name), ok.get(j.name)) for j in sorted(JOBS.values(), key=lambda j: j.title)]


def failed_runs_query() -> sa.Select[TaskRun]:
    return sa.select(TaskRun).where(TaskRun.state == RunState.FAILED).order_by(TaskRun.id.desc())


def runs_query(job_name: str) -> sa.Select[TaskRun]:
    return sa.select(TaskRun).where(TaskRun.job == job_name).order_by(TaskRun.id.desc())

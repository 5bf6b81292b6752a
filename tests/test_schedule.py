"""The scheduler: slots claimed once, retries with backoff, failures on the jobs page, and
funding rounds that open and close by themselves at their dates (with a frozen clock)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import pytest
import sqlalchemy as sa
import time_machine
from flask import Flask

from portal.accounts.models import PasswordResetToken
from portal.core import outbox, schedule, tasks
from portal.core.extensions import db
from portal.core.formatting import LONDON
from portal.core.schedule import JOBS, RunState, TaskRun
from portal.grants.models import Application, ApplicationState, Phase, PhaseState, ReviewerAssignment
from portal.notifications.models import Notification
from tests import factories
from tests.helpers import run_tasks, sign_in


def london(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=LONDON)


def tick_at(moment: datetime) -> list[TaskRun]:
    """One scheduler tick at ``moment`` and every task it queued, run at that time."""
    with time_machine.travel(moment, tick=False):
        runs = schedule.tick(moment.astimezone(UTC))
        run_tasks()
    db.session.expire_all()
    return runs


def runs_of(name: str) -> list[TaskRun]:
    return list(db.session.scalars(sa.select(TaskRun).where(TaskRun.job == name).order_by(TaskRun.id)))


@pytest.fixture
def only_job() -> Iterator[Any]:
    """Run the tick with just the jobs a test declares (the real ones are put back after)."""
    saved = dict(JOBS)
    JOBS.clear()
    yield JOBS
    JOBS.clear()
    JOBS.update(saved)


# --- slots ---------------------------------------------------------------------------------------


def test_slots_every_n_minutes_and_daily_in_uk_time() -> None:
    every_five = schedule.Job("x", "X", lambda now: "", every_minutes=5)
    daily = schedule.Job("y", "Y", lambda now: "", daily_at=time(8, 0))
    assert every_five.slot(london(2026, 12, 3, 9, 7)) == "2026-12-03T09:05"
    assert daily.slot(london(2026, 12, 3, 7, 59)) == "2026-12-02"
    assert daily.slot(london(2026, 12, 3, 8, 0)) == "2026-12-03"
    # 08:00 in London in summer is 07:00 UTC
    assert daily.slot(datetime(2026, 7, 1, 7, 0, tzinfo=UTC)) == "2026-07-01"
    assert daily.slot(datetime(2026, 7, 1, 6, 59, tzinfo=UTC)) == "2026-06-30"
    with pytest.raises(ValueError):
        schedule.job("z", "Z")


def test_a_slot_is_claimed_once_however_many_workers_tick(app: Flask, only_job: Any) -> None:
    calls: list[datetime] = []

    @schedule.job("count", "Count", every_minutes=1)
    def count(now: datetime) -> str:
        calls.append(now)
        return "counted"

    moment = london(2026, 12, 3, 9, 0)
    assert len(tick_at(moment)) == 1
    assert tick_at(moment + timedelta(seconds=30)) == []  # a second worker, the same minute
    assert len(tick_at(moment + timedelta(minutes=1))) == 1
    assert len(calls) == 2
    assert [r.state for r in runs_of("count")] == [RunState.SUCCEEDED, RunState.SUCCEEDED]
    assert runs_of("count")[0].result == "counted"


def test_a_task_that_fails_twice_then_succeeds_is_retried_and_succeeds(app: Flask, only_job: Any) -> None:
    attempts: list[int] = []

    @schedule.job("flaky", "Flaky", every_minutes=60, retries=2)
    def flaky(now: datetime) -> str:
        attempts.append(1)
        if len(attempts) < 3:
            raise ConnectionError(f"attempt {len(attempts)} failed")
        return "third time lucky"

    tick_at(london(2026, 12, 3, 9, 0))
    (run,) = runs_of("flaky")
    assert len(attempts) == 3
    assert run.state == RunState.SUCCEEDED and run.attempts == 3 and run.result == "third time lucky"
    assert run.error == ""


def test_a_failed_attempt_keeps_nothing_it_did(app: Flask, only_job: Any, users: dict[str, Any]) -> None:
    member = users["member"]

    @schedule.job("half-done", "Half done", every_minutes=60, retries=0)
    def half_done(now: datetime) -> str:
        db.session.add(Notification(recipient_id=member.id, kind="claim", subject="should not stay"))
        db.session.flush()
        raise RuntimeError("stopped half way")

    tick_at(london(2026, 12, 3, 9, 0))
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Notification)) == 0
    assert runs_of("half-done")[0].state == RunState.FAILED


def test_a_job_that_always_fails_shows_on_the_jobs_page(app: Flask, only_job: Any, users: dict[str, Any]) -> None:
    @schedule.job("broken", "A broken job", every_minutes=60, retries=2)
    def broken(now: datetime) -> str:
        raise ValueError("the mail server refused the login")

    tick_at(london(2026, 12, 3, 9, 0))
    (run,) = runs_of("broken")
    assert run.state == RunState.FAILED and run.attempts == 3
    assert "the mail server refused the login" in run.error

    staff = app.test_client()
    sign_in(staff, users["staff"].email)
    page = staff.get("/admin/jobs").get_data(as_text=True)
    assert "A broken job" in page and "Failed after every retry" in page
    assert "ValueError: the mail server refused the login" in page
    history = staff.get("/admin/jobs/broken").get_data(as_text=True)
    assert "Failed" in history and "2026-12-03T09:00" in history
    member = app.test_client()
    sign_in(member, users["member"].email)
    assert member.get("/admin/jobs").status_code == 403


def test_staff_can_run_a_job_now(app: Flask, only_job: Any, users: dict[str, Any]) -> None:
    ran: list[int] = []

    @schedule.job("on-demand", "On demand", daily_at=time(3, 0))
    def on_demand(now: datetime) -> str:
        ran.append(1)
        return "ran"

    staff = app.test_client()
    sign_in(staff, users["staff"].email)
    response = staff.post("/admin/jobs/on-demand/run")
    assert response.status_code == 303
    run_tasks()
    assert ran == [1]
    assert staff.post("/admin/jobs/no-such-job/run").status_code == 404


def test_jobs_command_lists_jobs_and_runs_one(app: Flask) -> None:
    runner = app.test_cli_runner()
    listed = runner.invoke(args=["jobs"])
    assert listed.exit_code == 0
    assert "Worker: not running" in listed.output
    for name in ("emails", "rounds", "report-reminders", "payment-reminders", "gathering-reminders"):
        assert name in listed.output
    ran = runner.invoke(args=["jobs", "run", "emails"])
    assert ran.exit_code == 0 and "emails: Succeeded. Sent 0, failed 0." in ran.output
    listed = runner.invoke(args=["jobs"])
    assert "Sent 0, failed 0." in listed.output


def test_housekeeping_removes_old_heartbeats(app: Flask) -> None:
    old = datetime(2026, 1, 1, tzinfo=UTC)
    db.session.add(schedule.WorkerHeartbeat(name="gone:1", seen_at=old))
    db.session.add(schedule.WorkerHeartbeat(name="alive:1", seen_at=datetime(2026, 12, 2, tzinfo=UTC)))
    db.session.commit()
    result = JOBS["housekeeping"].run(datetime(2026, 12, 3, tzinfo=UTC))
    assert result == "Removed 1 heartbeats."
    assert db.session.scalars(sa.select(schedule.WorkerHeartbeat.name)).all() == ["alive:1"]


# --- funding rounds open and close by date ---------------------------------------------------


def _round(opens: date, closes: date, **kwargs: Any) -> Phase:
    phase = factories.make_phase(state=PhaseState.DRAFT, opens=opens, closes=closes, **kwargs)
    phase.opens_time = time(9, 0)
    phase.closes_time = time(17, 0)
    db.session.commit()
    return phase


def _state(phase_id: int) -> PhaseState:
    return db.session.get_one(Phase, phase_id).state


def test_a_round_opens_and_closes_at_its_dates(app: Flask, users: dict[str, Any]) -> None:
    phase = _round(date(2026, 12, 10), date(2026, 12, 20))
    tick_at(london(2026, 12, 10, 8, 59))
    assert _state(phase.id) == PhaseState.DRAFT
    tick_at(london(2026, 12, 10, 9, 0))
    assert _state(phase.id) == PhaseState.OPEN
    sent = factories.make_application(db.session.get_one(Phase, phase.id), users["member"])
    sent.state = ApplicationState.SUBMITTED
    db.session.commit()
    tick_at(london(2026, 12, 20, 16, 59))
    assert _state(phase.id) == PhaseState.OPEN
    tick_at(london(2026, 12, 20, 17, 0))
    assert _state(phase.id) == PhaseState.ASSESSING
    assert db.session.get_one(Application, sent.id).state == ApplicationState.UNDER_REVIEW
    moves = db.session.execute(
        sa.text("SELECT actor_id, after FROM audit_entries WHERE action = 'phase.state_changed' ORDER BY id")
    ).all()
    assert len(moves) == 2 and all(actor is None for actor, _ in moves)


def test_a_round_that_cannot_open_tells_staff_once(app: Flask, users: dict[str, Any]) -> None:
    phase = _round(date(2026, 12, 10), date(2026, 12, 20), criteria=())
    tick_at(london(2026, 12, 10, 9, 0))
    tick_at(london(2026, 12, 10, 9, 1))
    assert _state(phase.id) == PhaseState.DRAFT
    told = list(db.session.scalars(sa.select(Notification).where(Notification.recipient_id == users["staff"].id)))
    assert len(told) == 1 and "could not open by itself" in told[0].subject
    assert "scoring criterion" in told[0].body
    assert not db.session.scalars(sa.select(Notification).where(Notification.recipient_id == users["member"].id)).all()


def test_applicants_with_drafts_are_told_7_days_and_1_day_before_closing(app: Flask, users: dict[str, Any]) -> None:
    phase = _round(date(2026, 12, 1), date(2026, 12, 20))
    phase.state = PhaseState.OPEN
    db.session.commit()
    draft = factories.make_application(phase, users["member"], title="Cafés")
    done = factories.make_application(phase, users["finance"], state=ApplicationState.SUBMITTED)

    def told(person: Any) -> list[str]:
        return list(
            db.session.scalars(
                sa.select(Notification.subject).where(Notification.recipient_id == person.id).order_by(Notification.id)
            )
        )

    tick_at(london(2026, 12, 13, 16, 0))  # 7 days and an hour before
    assert told(users["member"]) == []
    tick_at(london(2026, 12, 13, 17, 30))
    tick_at(london(2026, 12, 14, 10, 0))
    assert told(users["member"]) == ["'Phase 3' closes in 7 days: your application 'Cafés' is not sent yet"]
    tick_at(london(2026, 12, 19, 17, 30))
    tick_at(london(2026, 12, 20, 9, 0))
    assert told(users["member"])[1:] == ["'Phase 3' closes tomorrow: your application 'Cafés' is not sent yet"]
    assert told(users["finance"]) == []
    assert draft.id and done.id


def test_a_round_closing_later_today_says_today(app: Flask, users: dict[str, Any]) -> None:
    phase = _round(date(2026, 12, 20), date(2026, 12, 20))
    factories.make_application(phase, users["member"], title="Cafés")
    tick_at(london(2026, 12, 20, 9, 0))  # opens, and closes at 17:00 the same day
    assert _state(phase.id) == PhaseState.OPEN
    subjects = db.session.scalars(
        sa.select(Notification.subject).where(Notification.recipient_id == users["member"].id)
    )
    assert list(subjects) == ["'Phase 3' closes today: your application 'Cafés' is not sent yet"]
    tick_at(london(2026, 12, 20, 17, 0))
    assert _state(phase.id) == PhaseState.ASSESSING


def test_reviews_cannot_be_sent_after_the_panels_deadline(app: Flask, users: dict[str, Any]) -> None:
    from portal.core.errors import RuleBroken
    from portal.grants import reviews

    phase = factories.make_phase(state=PhaseState.ASSESSING)
    phase.reviews_close_on = date(2026, 12, 10)
    application = factories.make_application(phase, users["member"], state=ApplicationState.UNDER_REVIEW)
    db.session.add(
        ReviewerAssignment(phase_id=phase.id, reviewer_id=users["staff"].id, assigned_by_id=users["admin"].id)
    )
    db.session.commit()
    with pytest.raises(RuleBroken, match="closed on"):
        reviews.submit_review(
            application, by=users["staff"], now=datetime(2026, 12, 11, tzinfo=UTC), today=date(2026, 12, 11)
        )


def test_expired_reset_links_are_removed(app: Flask, users: dict[str, Any]) -> None:
    db.session.add(
        PasswordResetToken(
            user_id=users["member"].id, token_hash="a" * 64, expires_at=datetime(2026, 11, 1, tzinfo=UTC)
        )
    )
    db.session.add(
        PasswordResetToken(
            user_id=users["member"].id, token_hash="b" * 64, expires_at=datetime(2026, 12, 3, 9, tzinfo=UTC)
        )
    )
    db.session.commit()
    assert JOBS["reset-links"].run(datetime(2026, 12, 3, 8, tzinfo=UTC)) == "Removed 1 expired reset links."


def test_work_asked_for_in_a_transaction_is_queued_only_when_the_outermost_commits(
    app: Flask, users: dict[str, Any]
) -> None:
    """A savepoint's release is not a commit: a task queued before it would run before its rows exist
    (two workers on PostgreSQL lost scheduled runs that way)."""
    tasks.queue.storage.flush_all()
    tasks.enqueue_after_commit(outbox.deliver)
    with db.session.begin_nested():
        db.session.add(TaskRun(job="emails", slot="a", state=RunState.QUEUED))
    assert tasks.queue.pending_count() == 0
    db.session.commit()
    assert tasks.queue.pending_count() == 1
    tasks.queue.storage.flush_all()
    tasks.enqueue_after_commit(outbox.deliver)
    db.session.add(TaskRun(job="emails", slot="b", state=RunState.QUEUED))
    db.session.rollback()
    db.session.commit()
    assert tasks.queue.pending_count() == 0

"""The retention schedule: how long each kind of record is kept, and the daily job that applies it.

Each kind has one rule: a setting naming its period in days (``PORTAL_RETENTION_*``, defaults
in ``core/config.py``) and a function that removes (or blanks) what is older than the cut-off
and says how many it touched. Core declares the rules for its own records here; each domain
declares its own with ``@rule`` in its ``retention.py``, so core imports no domain. The
``retention`` job runs every rule once a day and reports what each removed; the staff jobs
page shows it with the other jobs.

The README's retention table lists every kind, its default and its setting.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, time, timedelta

import sqlalchemy as sa
from flask import current_app

from portal.core import audit, outbox
from portal.core.extensions import db
from portal.core.schedule import RunState, TaskRun, job

Purge = Callable[[datetime], int]  # given the cut-off, removes what is older; returns how many


@dataclass(frozen=True)
class Rule:
    kind: str  # in the users' words: "sent emails"
    setting: str  # the config key holding the period in days
    purge: Purge


RULES: dict[str, Rule] = {}

# Audit entries whose action starts with one of these record money, consent or decisions and
# are kept for AUDIT_RECORDS_KEPT_DAYS (domains add theirs with ``keep_audit_longer``).
KEPT_LONGER: set[str] = set()


def rule(kind: str, setting: str) -> Callable[[Purge], Purge]:
    """Declare the retention rule for one kind of record."""

    def register(purge: Purge) -> Purge:
        RULES[kind] = Rule(kind, setting, purge)
        return purge

    return register


def keep_audit_longer(*action_prefixes: str) -> None:
    KEPT_LONGER.update(action_prefixes)


def period(setting: str) -> timedelta:
    days = current_app.config[setting]
    if not isinstance(days, int) or days < 1:
        raise ValueError(f"PORTAL_{setting} must be a whole number of days, at least 1 (it is {days!r})")
    return timedelta(days=days)


def rowcount(result: object) -> int:
    return int(getattr(result, "rowcount", 0) or 0)


def apply_all(now: datetime) -> dict[str, int]:
    """Apply every rule at ``now``; returns how many records each kind lost."""
    return {found.kind: found.purge(now - period(found.setting)) for found in RULES.values()}


@job("retention", "Apply the retention schedule (remove records past their keeping period)", daily_at=time(4, 0))
def retention(now: datetime) -> str:
    removed = apply_all(now)
    return "Removed " + "; ".join(f"{kind}: {count}" for kind, count in removed.items()) + "."


@rule("sent emails", "RETENTION_SENT_EMAIL_DAYS")
def sent_emails(cutoff: datetime) -> int:
    """Sent and withheld emails (kind, recipient and times only, by now), and those given up on."""
    message = outbox.OutboxMessage
    done = sa.or_(
        message.sent_at < cutoff,
        message.withheld_at < cutoff,
        sa.and_(message.sent_at.is_(None), message.attempts >= outbox.MAX_ATTEMPTS, message.created_at < cutoff),
    )
    return rowcount(db.session.execute(sa.delete(message).where(done)))


@rule("finished job records", "RETENTION_JOB_RECORD_DAYS")
def job_records(cutoff: datetime) -> int:
    finished = TaskRun.state.in_([RunState.SUCCEEDED, RunState.FAILED])
    return rowcount(db.session.execute(sa.delete(TaskRun).where(TaskRun.created_at < cutoff, finished)))


@rule("audit entries", "RETENTION_AUDIT_DAYS")
def audit_entries(cutoff: datetime) -> int:
    """Everything but money, consent and decisions (the next rule)."""
    kept_longer = sa.or_(*(audit.AuditEntry.action.startswith(prefix) for prefix in sorted(KEPT_LONGER)))
    return audit.purge(cutoff, sa.not_(kept_longer) if KEPT_LONGER else sa.true())


@rule("audit entries about money, consent and decisions", "RETENTION_AUDIT_RECORDS_KEPT_DAYS")
def audit_records_kept_longer(cutoff: datetime) -> int:
    if not KEPT_LONGER:
        return 0
    return audit.purge(cutoff, sa.or_(*(audit.AuditEntry.action.startswith(prefix) for prefix in sorted(KEPT_LONGER))))

"""Twenty staff approve twenty claims on one project at the same moment: the award holds.

Each approval runs in its own thread with its own database connection, all released together by
a barrier. Approving locks the project's budget row (``budgets.lock_budget``: SELECT ... FOR
UPDATE on PostgreSQL; SQLite's single write lock, where the threads take turns), so each
approval reads a total that includes every approval committed before it. Runs on SQLite, and on
PostgreSQL when TEST_DATABASE_URL is set.
"""

from __future__ import annotations

import re
import threading
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa

from portal.accounts.models import User
from portal.core.audit import AuditEntry
from portal.core.extensions import db
from portal.remuneration import budgets, claims, rates
from portal.remuneration.models import Claim, ClaimState, Unit
from tests import factories

THREADS = 20
CLAIM_PENCE = 2000  # one hour's meeting
AWARD_PENCE = 5 * CLAIM_PENCE  # room for five of the twenty
NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
TIMEOUT = 60


def _claims_on_one_project(users: dict[str, User]) -> tuple[int, list[int]]:
    meeting = rates.add_activity_type(name="Meeting", unit=Unit.HOUR, by=users["admin"])
    rates.set_rate(meeting, amount_pence=CLAIM_PENCE, effective_from=date(2025, 1, 1), by=users["admin"])
    lead = factories.user()
    project = factories.project(lead=lead)
    project.award_pence = AWARD_PENCE
    made = []
    for _ in range(THREADS):
        claim = claims.create_claim(
            lead, claims.ClaimDetails(meeting.id, date(2026, 11, 2), Decimal(1), project.id), today=date(2026, 11, 23)
        )
        assert claims.submit_claim(claim, by=lead, now=NOW) == []
        made.append(claim.id)
    db.session.commit()
    return project.id, made


def _approve_all_at_once(app: Any, claim_ids: list[int], approver_id: int, confirmed: set[int]) -> dict[int, str]:
    db.session.rollback()  # this thread holds nothing while the approvals race
    start = threading.Barrier(len(claim_ids))
    outcomes: dict[int, str] = {}
    errors: list[BaseException] = []

    def approve(claim_id: int) -> None:
        with app.app_context():
            try:
                claim = db.session.get_one(Claim, claim_id)
                approver = db.session.get_one(User, approver_id)
                db.session.commit()  # nothing held at the barrier, on either database
                start.wait(TIMEOUT)
                try:
                    claims.approve_claim(claim, by=approver, now=NOW, over_budget_confirmed=claim_id in confirmed)
                    db.session.commit()
                    outcomes[claim_id] = "approved"
                except claims.OverBudget:
                    db.session.rollback()
                    outcomes[claim_id] = "over budget"
            except BaseException as error:
                errors.append(error)
            finally:
                db.session.remove()

    threads = [threading.Thread(target=approve, args=(claim_id,)) for claim_id in claim_ids]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(TIMEOUT * 2)
    assert not errors, errors
    assert len(outcomes) == len(claim_ids)
    db.session.expire_all()
    return outcomes


def _approvals_in_order() -> list[tuple[int, str]]:
    """Each approval's claim and audit note, in the order the approvals took the lock."""
    rows = db.session.execute(
        sa.select(AuditEntry.object_id, AuditEntry.note)
        .where(AuditEntry.action == "claim.approved")
        .order_by(AuditEntry.id)
    )
    return [(int(object_id), note) for object_id, note in rows]


def test_simultaneous_approvals_never_take_a_project_over_its_award(app: Any, users: dict[str, User]) -> None:
    project_id, claim_ids = _claims_on_one_project(users)

    outcomes = _approve_all_at_once(app, claim_ids, users["staff"].id, confirmed=set())

    assert sorted(outcomes.values()).count("approved") == AWARD_PENCE // CLAIM_PENCE
    assert budgets.project_spend_pence(project_id) == AWARD_PENCE
    approved = db.session.scalar(
        sa.select(sa.func.count(Claim.id)).where(Claim.project_id == project_id, Claim.state == ClaimState.APPROVED)
    )
    assert approved == 5
    assert all(note == "" for _claim, note in _approvals_in_order())  # none went over budget


def test_going_over_the_award_at_once_is_always_on_record(app: Any, users: dict[str, User]) -> None:
    """Every fourth approver ticks "approve anyway": whenever the approved total passes the award,
    the approval that took it there says so, with the true total at that moment."""
    project_id, claim_ids = _claims_on_one_project(users)
    confirmed = set(claim_ids[::4])

    outcomes = _approve_all_at_once(app, claim_ids, users["staff"].id, confirmed=confirmed)

    assert all(outcomes[claim_id] == "approved" for claim_id in confirmed)
    running = 0
    for claim_id, note in _approvals_in_order():
        running += CLAIM_PENCE
        if running > AWARD_PENCE:
            assert claim_id in confirmed
            total = re.fullmatch(r"approved over budget: £([\d,.]+) against an award of £100\.00", note)
            assert total is not None, note
            assert Decimal(total.group(1).replace(",", "")) * 100 == running
        else:
            assert note == ""
    assert budgets.project_spend_pence(project_id) == running
    assert running > AWARD_PENCE  # the confirmed ones did go over, on record

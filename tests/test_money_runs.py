"""Payment batches made and paid as sets (``remuneration/runs.py``): the statements do not grow
with the claims, every claim keeps its audit entry, notification and email exactly as the old
one-claim-at-a-time code wrote them, a failure leaves nothing half made, big runs carry on in a
task, and a concurrent writer is never locked out."""

from __future__ import annotations

import csv
import html
import io
import re
import threading
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask

from portal.accounts.models import User
from portal.core import audit, outbox
from portal.core.audit import AuditEntry
from portal.core.csv_export import csv_lines
from portal.core.db import utcnow
from portal.core.errors import RuleBroken
from portal.core.extensions import db
from portal.core.formatting import london_today
from portal.core.outbox import OutboxMessage
from portal.gatherings import services as gathering_services
from portal.gatherings.models import Rsvp, RsvpState
from portal.notifications.models import Notification, NotificationSetting
from portal.remuneration import batches, claims, runs
from portal.remuneration.models import (
    ActivityType,
    BatchState,
    Claim,
    ClaimState,
    ExpenseCategory,
    ExpenseLine,
    PaymentBatch,
    PaymentMethod,
    PaymentPreference,
    PaymentRun,
    Rate,
    RunState,
    Unit,
)
from tests import factories
from tests.helpers import client_for, count_queries, run_tasks

TODAY = london_today()
PAID_ON = TODAY - timedelta(days=1)
SENT = datetime(2026, 11, 2, 12, 0, tzinfo=UTC)


@pytest.fixture
def activities(app: Flask) -> list[ActivityType]:
    made = []
    for name, unit, pence in (("Meeting", Unit.HOUR, 2000), ("Workshop", Unit.HALF_DAY, 7500)):
        activity = ActivityType(name=name, unit=unit)
        db.session.add(activity)
        db.session.flush()
        db.session.add(Rate(activity_type_id=activity.id, amount_pence=pence, effective_from=date(2025, 1, 1)))
        made.append(activity)
    db.session.commit()
    return made


@pytest.fixture
def claimants(app: Flask) -> list[Any]:
    """Five people: one with claim emails off, one with claim notifications off altogether, one
    who left (deactivated), one who declines payment, and one with an unread grouped notice."""
    people = [factories.user(name=f"Claimant {n}") for n in range(5)]
    db.session.add_all(
        [
            NotificationSetting(user_id=people[1].id, kind="claim", enabled=True, email=False),
            NotificationSetting(user_id=people[2].id, kind="claim", enabled=False, email=False),
            PaymentPreference(user_id=people[4].id, method=PaymentMethod.VOUCHER, payee_reference="SUP-0042"),
            Notification(
                recipient_id=people[0].id,
                kind="claim",
                subject="Your payment for 'Meeting, 1 Oct 2026' is on its way",
                body="Earlier.",
                url_path="/claims/1",
                group_key="claims.batched",
                count=1,
                items='["Meeting, 1 Oct 2026"]',
            ),
        ]
    )
    people[3].deactivated_at = utcnow()
    db.session.commit()
    return people


def approved_claims(count: int, people: list[Any], activities: list[ActivityType], staff: Any) -> list[int]:
    """``count`` approved claims shared among ``people`` (written directly: fast for hundreds)."""
    rows = []
    for n in range(count):
        activity = activities[n % len(activities)]
        rate = 2000 if activity.unit == Unit.HOUR else 7500
        units = Decimal(1 + n % 3)
        rows.append(
            Claim(
                claimant_id=people[n % len(people)].id,
                activity_type_id=activity.id,
                activity_date=date(2026, 10, 1) + timedelta(days=n % 28),
                units=units,
                unit=activity.unit,
                rate_pence=rate,
                full_fee_pence=int(units * rate),
                fee_pence=int(units * rate),
                payment_declined=n % 7 == 3,
                cost_code=claims.PROGRAMME_COST_CODE,
                state=ClaimState.APPROVED,
                submitted_at=SENT,
                approved_at=SENT,
                approved_by_id=staff.id,
            )
        )
    db.session.add_all(rows)
    db.session.flush()
    db.session.add_all(
        ExpenseLine(claim_id=c.id, category=ExpenseCategory.TRAVEL, description="Bus", amount_pence=350)
        for c in rows[::4]
    )
    db.session.commit()
    return [c.id for c in rows]


# --- what the old, one claim at a time, code did ------------------------------------------------


def old_create_batch(reference: str, ids: list[int], by: Any) -> PaymentBatch:
    batch = PaymentBatch(reference=reference, created_by_id=by.id)
    db.session.add(batch)
    db.session.flush()
    for claim in db.session.scalars(sa.select(Claim).where(Claim.id.in_(ids)).order_by(Claim.id)):
        claims.move_into_batch(claim, by=by, batch_id=batch.id, reference=reference)
    audit.record("batch.created", batch, actor=by, after={"reference": reference, "claims": ids})
    db.session.flush()
    return batch


def old_mark_paid(batch: PaymentBatch, by: Any, reference: str) -> None:
    batch.state, batch.paid_on, batch.payment_reference, batch.marked_paid_by_id = (
        BatchState.PAID,
        PAID_ON,
        reference,
        by.id,
    )
    for claim in db.session.scalars(sa.select(Claim).where(Claim.batch_id == batch.id).order_by(Claim.id)):
        claims.mark_paid(claim, by=by, paid_on=PAID_ON, reference=reference)
    audit.record("batch.paid", batch, actor=by, after={"paid_on": PAID_ON.isoformat(), "payment_reference": reference})
    db.session.flush()


def snapshot(batch: PaymentBatch) -> dict[str, Any]:
    """Everything a run leaves behind, without ids that differ between two runs (the batch's)."""
    db.session.expire_all()
    csv_text = "".join(csv_lines(batches.CSV_COLUMNS, batches.batch_rows(batch)))
    return {
        "claims": [
            # the version only has to move on (the old code's autoflushes moved it more often)
            (c.id, c.state, c.batch_id is not None, c.paid_on, c.version > 1)
            for c in db.session.scalars(sa.select(Claim).order_by(Claim.id))
        ],
        "audit": sorted(
            (e.action, e.object_type, e.object_id if e.object_type == "Claim" else "", e.before, e.after, e.note)
            for e in db.session.scalars(sa.select(AuditEntry).where(AuditEntry.action.like("%batch%")))
        )
        + sorted(
            (e.action, e.object_type, e.object_id, e.before, e.after, e.note)
            for e in db.session.scalars(sa.select(AuditEntry).where(AuditEntry.action.in_(["claim.paid"])))
        ),
        "notifications": sorted(
            (n.recipient_id, n.kind, n.subject, n.body, n.url_path, n.group_key, n.count, n.items)
            for n in db.session.scalars(sa.select(Notification))
        ),
        "emails": sorted((m.kind, m.to_email, m.subject, m.body) for m in db.session.scalars(sa.select(OutboxMessage))),
        "csv": list(csv.reader(io.StringIO(csv_text))),
    }


def test_a_run_gives_what_the_old_per_claim_code_gave(
    app: Flask, users: dict[str, Any], activities: list[ActivityType], claimants: list[Any]
) -> None:
    ids = approved_claims(30, claimants, activities, users["staff"])
    finance = users["finance"]
    old = old_create_batch("PAY-1", ids, finance)
    old_mark_paid(old, finance, "BACS-1")
    before = snapshot(old)
    db.session.rollback()

    new = batches.create_batch(reference="PAY-1", claim_ids=ids, by=finance)
    batches.mark_batch_paid(new, paid_on=PAID_ON, payment_reference="BACS-1", by=finance, today=TODAY)
    db.session.flush()
    after = snapshot(new)
    assert after == before
    # what that covers, so the comparison cannot pass by being empty
    assert {state for _, state, _, _, _ in after["claims"]} == {ClaimState.PAID}
    assert len([e for e in after["audit"] if e[0] == "claim.batched"]) == 30
    assert len([e for e in after["audit"] if e[0] == "claim.paid"]) == 30
    emails = after["emails"]
    assert {kind for kind, *_ in emails} == {"claim_batched", "claim_paid"}
    # people 1 (emails off), 2 (notifications off) and 3 (left) get no email: 2 of 5 do, 12 claims each
    assert len(emails) == 2 * 12
    assert len(after["csv"]) == 31 and after["csv"][1][-1] == "PAY-1"


def test_emails_written_after_a_big_run_are_the_same(
    app: Flask,
    users: dict[str, Any],
    activities: list[ActivityType],
    claimants: list[Any],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    ids = approved_claims(25, claimants, activities, users["staff"])
    finance = users["finance"]
    old = old_create_batch("PAY-2", ids, finance)
    before = snapshot(old)["emails"]
    db.session.rollback()

    app.config["BATCH_EMAILS_INLINE_MAX"] = 3  # more than 3: the task writes them
    monkeypatch.setattr(outbox, "deliver_pending", lambda *args, **kwargs: (0, 0))  # kept to compare
    batch = batches.create_batch(reference="PAY-2", claim_ids=ids, by=finance)
    db.session.commit()
    assert db.session.scalar(sa.select(sa.func.count()).select_from(OutboxMessage)) == 0
    run = db.session.scalar(sa.select(PaymentRun).where(PaymentRun.batch_id == batch.id))
    assert run is not None and run.emails_pending and run.state == RunState.WORKING
    page = client_for(app, finance).get(f"/finance/batches/{batch.id}").get_data(as_text=True)
    assert "Download the batch" in page and "being made" not in page  # the claims are all in: it is ready
    run_tasks()
    assert snapshot(batch)["emails"] == before and len(before) == 10
    assert db.session.get_one(PaymentRun, run.id).state == RunState.DONE
    keyed = db.session.scalars(sa.select(OutboxMessage.key_id)).all()
    assert len(set(keyed)) == len(keyed) == 10  # each email is sealed with a key of its own


def test_statements_do_not_grow_with_the_number_of_claims(
    app: Flask, users: dict[str, Any], activities: list[ActivityType], claimants: list[Any]
) -> None:
    finance = users["finance"]

    def statements(count: int, reference: str) -> tuple[int, int]:
        ids = approved_claims(count, claimants, activities, users["staff"])
        db.session.execute(sa.update(Notification).values(read_at=utcnow()))  # each run starts new groups
        db.session.commit()
        with count_queries() as made:
            batch = batches.create_batch(reference=reference, claim_ids=ids, by=finance)
            db.session.commit()
        with count_queries() as paid:
            batches.mark_batch_paid(batch, paid_on=PAID_ON, payment_reference="B", by=finance, today=TODAY)
            db.session.commit()
        assert db.session.scalar(sa.select(sa.func.count()).where(Claim.batch_id == batch.id)) == count
        return len(made), len(paid)

    app.config["BATCH_EMAILS_INLINE_MAX"] = 1_000  # the emails written in the run itself
    small, large = statements(10, "S"), statements(200, "L")
    assert small == large
    assert small[0] < 30 and small[1] < 30


def test_every_claim_gets_its_audit_entry_notification_and_email(
    app: Flask, users: dict[str, Any], activities: list[ActivityType], claimants: list[Any]
) -> None:
    ids = approved_claims(12, claimants[:1], activities, users["staff"])  # one person, 12 claims
    batch = batches.create_batch(reference="PAY-3", claim_ids=ids, by=users["finance"])
    db.session.commit()
    entries = db.session.scalars(sa.select(AuditEntry).where(AuditEntry.action == "claim.batched")).all()
    assert sorted(int(e.object_id) for e in entries) == ids
    assert {(e.actor_id, e.note, e.after["state"]) for e in entries} == {(users["finance"].id, "PAY-3", "in_batch")}
    [notice] = db.session.scalars(sa.select(Notification).where(Notification.recipient_id == claimants[0].id)).all()
    assert notice.count == 13 and notice.subject.startswith("Payments for 13 claims are on their way")
    assert len(notice.item_names) == 10
    emails = db.session.scalars(sa.select(OutboxMessage).where(OutboxMessage.kind == "claim_batched")).all()
    assert len(emails) == 12 and all("payment run PAY-3" in m.body for m in emails)
    assert {f"Claim {i}:" in " ".join(m.body for m in emails) for i in ids} == {True}
    assert batch.state == BatchState.AWAITING_PAYMENT


def test_a_failure_midway_leaves_no_half_made_batch(
    app: Flask,
    users: dict[str, Any],
    activities: list[ActivityType],
    claimants: list[Any],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    ids = approved_claims(20, claimants, activities, users["staff"])

    def broken(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("the database went away")

    monkeypatch.setattr(runs, "record_moves", broken)  # after the claims' UPDATE, before the rest
    with pytest.raises(RuntimeError):
        batches.create_batch(reference="PAY-4", claim_ids=ids, by=users["finance"])
    db.session.rollback()
    assert db.session.scalar(sa.select(sa.func.count()).select_from(PaymentBatch)) == 0
    assert db.session.scalar(sa.select(sa.func.count()).select_from(PaymentRun)) == 0
    assert set(db.session.scalars(sa.select(Claim.state))) == {ClaimState.APPROVED}
    assert db.session.scalar(sa.select(sa.func.count()).where(Claim.batch_id.is_not(None))) == 0
    assert (
        db.session.scalar(sa.select(sa.func.count()).select_from(AuditEntry).where(AuditEntry.action.like("%batch%")))
        == 0
    )


def test_a_claim_changed_meanwhile_stops_the_whole_run(
    app: Flask,
    users: dict[str, Any],
    activities: list[ActivityType],
    claimants: list[Any],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    ids = approved_claims(8, claimants, activities, users["staff"])
    sealed = runs.sealed_emails_now

    def voided_meanwhile(*args: Any) -> Any:  # someone cancels a claim after the checks
        db.session.execute(sa.update(Claim).where(Claim.id == ids[5]).values(state=ClaimState.VOIDED))
        return sealed(*args)

    monkeypatch.setattr(runs, "sealed_emails_now", voided_meanwhile)
    with pytest.raises(RuleBroken, match="changed one of these claims"):
        batches.create_batch(reference="PAY-5", claim_ids=ids, by=users["finance"])
    db.session.rollback()
    assert db.session.scalar(sa.select(sa.func.count()).select_from(PaymentBatch)) == 0
    assert set(db.session.scalars(sa.select(Claim.state))) == {ClaimState.APPROVED}


def test_the_old_rules_still_hold(
    app: Flask, users: dict[str, Any], activities: list[ActivityType], claimants: list[Any]
) -> None:
    ids = approved_claims(3, claimants, activities, users["staff"])
    mine = approved_claims(1, [users["finance"]], activities, users["staff"])
    with pytest.raises(RuleBroken, match="is your own"):
        batches.create_batch(reference="R", claim_ids=ids + mine, by=users["finance"])
    with pytest.raises(RuleBroken, match=f"not approved and waiting to be paid: {ids[0] + 10_000}"):
        batches.create_batch(reference="R", claim_ids=[*ids, ids[0] + 10_000], by=users["finance"])
    batch = batches.create_batch(reference="R", claim_ids=ids + mine, by=users["admin"])
    db.session.commit()
    with pytest.raises(RuleBroken, match="your own claim"):
        batches.mark_batch_paid(batch, paid_on=PAID_ON, payment_reference="P", by=users["finance"], today=TODAY)
    with pytest.raises(RuleBroken, match="today or in the past"):
        batches.mark_batch_paid(
            batch, paid_on=TODAY + timedelta(days=1), payment_reference="P", by=users["admin"], today=TODAY
        )


# --- big runs: in the background, with progress ---------------------------------------------------


def test_a_big_batch_is_made_and_paid_in_the_background(
    app: Flask,
    users: dict[str, Any],
    activities: list[ActivityType],
    claimants: list[Any],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    ids = approved_claims(12, claimants, activities, users["staff"])
    app.config["BATCH_INLINE_MAX"] = 5
    monkeypatch.setattr(runs, "RUN_CHUNK", 4)
    finance = client_for(app, users["finance"])
    response = finance.post("/finance/batches", data={"reference": "BIG-1", "claim_ids": [str(i) for i in ids]})
    assert response.status_code == 303
    batch = db.session.scalar(sa.select(PaymentBatch).where(PaymentBatch.reference == "BIG-1"))
    assert batch is not None
    page = finance.get(response.headers["Location"]).get_data(as_text=True)
    assert "This batch is being made" in page and "0 of 12 claims done." in page
    assert 'hx-trigger="every 2s"' in page and "Refresh this page to see how far it has got" in page
    assert "Download the batch" not in page and "Mark the batch paid" not in page
    fragment = finance.get(f"/finance/batches/{batch.id}", headers={"HX-Request": "true"}).get_data(as_text=True)
    assert fragment.lstrip().startswith('<section id="run-progress"') and "<html" not in fragment
    assert finance.get(f"/finance/batches/{batch.id}/csv").status_code == 303  # not while it is being made
    db.session.execute(sa.update(Claim).where(Claim.id == ids[6]).values(state=ClaimState.VOIDED))  # meanwhile
    db.session.commit()

    run_tasks()
    in_batch = set(db.session.scalars(sa.select(Claim.id).where(Claim.batch_id == batch.id)))
    assert in_batch == set(ids) - {ids[6]}
    run = db.session.scalar(sa.select(PaymentRun).where(PaymentRun.batch_id == batch.id))
    assert run is not None and run.state == RunState.DONE and run.skipped == [ids[6]]
    audited = db.session.scalar(sa.select(sa.func.count()).where(AuditEntry.action == "claim.batched"))
    assert audited == 11
    page = finance.get(f"/finance/batches/{batch.id}").get_data(as_text=True)
    assert "1 claim was left out of this" in page and "Mark the batch paid" in page
    done = finance.get(f"/finance/batches/{batch.id}", headers={"HX-Request": "true"}).get_data(as_text=True)
    assert "The batch is made" in done and "hx-trigger" not in done  # the polling stops

    data = {"paid_on": PAID_ON.isoformat(), "payment_reference": "BACS-9", "confirm": "yes"}
    response = finance.post(f"/finance/batches/{batch.id}/paid", data=data)
    assert response.status_code == 303
    assert db.session.get_one(PaymentBatch, batch.id).state == BatchState.AWAITING_PAYMENT
    page = finance.get(f"/finance/batches/{batch.id}").get_data(as_text=True)
    assert "This batch is being marked paid" in page and "0 of 11 claims done." in page
    run_tasks()
    db.session.expire_all()
    paid = db.session.get_one(PaymentBatch, batch.id)
    assert paid.state == BatchState.PAID and paid.payment_reference == "BACS-9" and paid.paid_on == PAID_ON
    assert set(db.session.scalars(sa.select(Claim.state).where(Claim.batch_id == batch.id))) == {ClaimState.PAID}
    assert db.session.scalar(sa.select(sa.func.count()).where(AuditEntry.action == "claim.paid")) == 11
    assert db.session.scalar(sa.select(sa.func.count()).where(AuditEntry.action == "batch.paid")) == 1
    emailed = db.session.scalar(sa.select(sa.func.count()).where(OutboxMessage.kind == "claim_paid"))
    assert emailed == len([i for n, i in enumerate(ids) if n % 5 in (0, 4) and i != ids[6]])


def test_a_background_run_that_stops_carries_on_where_it_stopped(
    app: Flask,
    users: dict[str, Any],
    activities: list[ActivityType],
    claimants: list[Any],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    ids = approved_claims(10, claimants, activities, users["staff"])
    app.config["BATCH_INLINE_MAX"] = 3
    monkeypatch.setattr(runs, "RUN_CHUNK", 4)
    batch = batches.create_batch(reference="BIG-2", claim_ids=ids, by=users["finance"])
    db.session.commit()
    record, calls = runs.record_moves, []

    def fails_on_the_second_chunk(*args: Any, **kwargs: Any) -> None:
        calls.append(1)
        if len(calls) == 2:
            raise RuntimeError("worker lost its connection")
        record(*args, **kwargs)

    monkeypatch.setattr(runs, "record_moves", fails_on_the_second_chunk)
    run_tasks()
    run = db.session.scalar(sa.select(PaymentRun).where(PaymentRun.batch_id == batch.id))
    assert run is not None and run.state == RunState.FAILED and run.claims_done == 4
    assert "worker lost its connection" in run.error
    assert db.session.scalar(sa.select(sa.func.count()).where(Claim.batch_id == batch.id)) == 4
    finance = client_for(app, users["finance"])
    page = finance.get(f"/finance/batches/{batch.id}").get_data(as_text=True)
    assert "It stopped before the end" in page and "Carry on" in page
    assert finance.post(f"/finance/batches/{batch.id}/carry-on").status_code == 303
    run_tasks()
    db.session.expire_all()
    assert db.session.get_one(PaymentRun, run.id).state == RunState.DONE
    assert set(db.session.scalars(sa.select(Claim.id).where(Claim.batch_id == batch.id))) == set(ids)
    entries = db.session.scalars(sa.select(AuditEntry.object_id).where(AuditEntry.action == "claim.batched")).all()
    assert sorted(int(i) for i in entries) == ids  # once each: nothing moved twice


# --- a concurrent writer ---------------------------------------------------------------------------


def test_another_writer_gets_in_while_ten_thousand_claims_are_batched(
    app: Flask, users: dict[str, Any], activities: list[ActivityType], monkeypatch: pytest.MonkeyPatch
) -> None:
    people = [factories.user(name=f"Payee {n}") for n in range(20)]
    activity = activities[0]
    db.session.execute(
        sa.insert(Claim),
        [
            {
                "claimant_id": people[n % 20].id,
                "activity_type_id": activity.id,
                "activity_date": date(2026, 10, 1),
                "units": Decimal(1),
                "unit": Unit.HOUR,
                "rate_pence": 2000,
                "full_fee_pence": 2000,
                "fee_pence": 2000,
                "payment_declined": False,
                "cost_code": claims.PROGRAMME_COST_CODE,
                "state": ClaimState.APPROVED,
                "version": 1,
                "notes": "",
                "question": "",
                "decision_reason": "",
                "created_at": SENT,
                "updated_at": SENT,
            }
            for n in range(10_000)
        ],
    )
    db.session.commit()
    ids = list(db.session.scalars(sa.select(Claim.id).order_by(Claim.id)))
    finance_id, member_id = users["finance"].id, users["member"].id
    writing = threading.Event()
    record = runs.record_moves

    def signal_while_writing(*args: Any, **kwargs: Any) -> None:
        writing.set()  # the run's UPDATE has run: it holds the write lock until it commits
        record(*args, **kwargs)

    monkeypatch.setattr(runs, "record_moves", signal_while_writing)
    outcome: list[str] = []

    def other_writer() -> None:
        assert writing.wait(timeout=60)
        with app.app_context():
            try:
                db.session.add(
                    Notification(recipient_id=member_id, kind="comment", subject="A comment on your post", body="")
                )
                db.session.commit()
                outcome.append("written")
            except Exception as error:  # "database is locked" would land here
                outcome.append(repr(error))
            finally:
                db.session.remove()

    thread = threading.Thread(target=other_writer)
    thread.start()
    batch = batches.create_batch(reference="HUGE", claim_ids=ids, by=db.session.get_one(User, finance_id))
    db.session.commit()
    thread.join(timeout=60)
    assert outcome == ["written"]
    assert db.session.scalar(sa.select(sa.func.count()).where(Claim.batch_id == batch.id)) == 10_000
    assert db.session.scalar(sa.select(sa.func.count()).where(AuditEntry.action == "claim.batched")) == 10_000


# --- drafting attendance claims for everyone who came --------------------------------------------


def people_who_came(gathering: Any, count: int, tag: str) -> list[int]:
    """``count`` people with lived experience booked on ``gathering`` (written directly: fast)."""
    password = factories.user(name=f"Template {tag}").password_hash
    db.session.execute(
        sa.insert(User),
        [
            {
                "email": f"{tag}{n}@example.test",
                "name": f"{tag} {n}",
                "password_hash": password,
                "session_token": f"{tag}{n}",
            }
            for n in range(count)
        ],
    )
    people = list(db.session.scalars(sa.select(User.id).where(User.email.like(f"{tag}%@example.test"))))
    db.session.execute(
        sa.insert(Rsvp),
        [
            {"gathering_id": gathering.id, "user_id": p, "state": RsvpState.GOING, "lived_experience": True}
            for p in people
        ],
    )
    db.session.commit()
    return list(db.session.scalars(sa.select(Rsvp.id).where(Rsvp.gathering_id == gathering.id)))


def test_marking_attendance_drafts_every_claim_in_statements_that_do_not_grow(
    app: Flask, users: dict[str, Any]
) -> None:
    organiser = users["staff"]

    def mark(count: int, tag: str) -> tuple[int, Any]:
        gathering = factories.make_gathering(organiser, paid=True, capacity=100, title=f"Workshop {tag}")
        rsvps = people_who_came(gathering, count, tag)
        gathering.starts_at = utcnow() - timedelta(hours=4)
        gathering.ends_at = utcnow() - timedelta(hours=1)
        db.session.commit()
        with count_queries() as statements:
            result = gathering_services.mark_attendance(gathering, rsvps, by=organiser)
            db.session.commit()
        return len(statements), result

    (small, _), (large, many) = mark(4, "few"), mark(40, "many")
    assert small == large
    assert (many.marked, many.claims_drafted, many.no_rate) == (40, 40, 0)
    drafted = db.session.scalars(sa.select(Claim).where(Claim.notes.like('%"Workshop many"%'))).all()
    assert len(drafted) == 40 and {(c.state, c.fee_pence, c.cost_code) for c in drafted} == {
        (ClaimState.DRAFT, 8250, claims.PROGRAMME_COST_CODE)
    }
    came = db.session.scalars(sa.select(Rsvp).where(Rsvp.claim_id.in_([c.id for c in drafted]))).all()
    assert len(came) == 40 and all(r.attended_at is not None for r in came)
    attended = db.session.scalars(sa.select(AuditEntry.object_id).where(AuditEntry.action == "gathering.attended"))
    assert {str(r.id) for r in came} <= set(attended)
    told = db.session.scalars(
        sa.select(Notification).where(Notification.subject == "A claim for Workshop many is ready for you")
    ).all()
    assert sorted(n.url_path for n in told) == sorted(f"/claims/{c.id}" for c in drafted)
    emails = db.session.scalars(sa.select(OutboxMessage).where(OutboxMessage.kind == "notification.claim")).all()
    mine = [m for m in emails if m.subject == "A claim for Workshop many is ready for you"]
    assert len(mine) == 40 and len({m.key_id for m in mine}) == 40
    assert all("so we started a claim for your time" in m.body and "/claims/" in m.body for m in mine)


def test_every_approved_claim_goes_in_one_batch_from_the_finance_page(
    app: Flask, users: dict[str, Any], activities: list[ActivityType], claimants: list[Any]
) -> None:
    app.config["PAGE_SIZE"] = 5
    ids = approved_claims(12, claimants, activities, users["staff"])
    mine = approved_claims(1, [users["finance"]], activities, users["staff"])
    finance = client_for(app, users["finance"])
    page = finance.get("/finance").get_data(as_text=True)
    assert "Put every approved claim in this batch" in page  # more than one page of claims
    seen = re.search(r'name="approved_until" type="hidden" value="([^"]+)"', page) or re.search(
        r'type="hidden" name="approved_until" value="([^"]+)"', page
    )
    assert seen is not None
    later = approved_claims(1, claimants, activities, users["staff"])  # approved after the page was shown
    db.session.execute(sa.update(Claim).where(Claim.id.in_(later)).values(approved_at=utcnow() + timedelta(minutes=1)))
    db.session.commit()
    response = finance.post(
        "/finance/batches",
        data={"reference": "ALL-1", "every_approved": "y", "approved_until": html.unescape(seen.group(1))},
    )
    assert response.status_code == 303
    batch = db.session.scalar(sa.select(PaymentBatch).where(PaymentBatch.reference == "ALL-1"))
    assert batch is not None
    in_batch = set(db.session.scalars(sa.select(Claim.id).where(Claim.batch_id == batch.id)))
    assert in_batch == set(ids)  # every page's claims; not their own, not one approved later
    assert not in_batch & set(mine + later)


def test_every_approved_claim_from_a_stale_or_forged_page_is_refused(
    app: Flask, users: dict[str, Any], activities: list[ActivityType], claimants: list[Any]
) -> None:
    approved_claims(3, claimants, activities, users["staff"])
    finance = client_for(app, users["finance"])
    for forged in ("", "yesterday", "2026-12-01T10:00:00"):  # no time zone: not one the page wrote
        response = finance.post(
            "/finance/batches", data={"reference": "ALL-2", "every_approved": "y", "approved_until": forged}
        )
        assert response.status_code == 422
        assert "This page is out of date. Reload it and try again." in response.get_data(as_text=True)
    assert db.session.scalar(sa.select(PaymentBatch).where(PaymentBatch.reference == "ALL-2")) is None

"""Money runs as sets: moving many claims into a batch, or paying them, in a handful of statements.

Per claim, a run does what ``claims.move_into_batch`` and ``claims.mark_paid`` do one by one (the
state table's move, the claim's version, an audit entry, the claimant's grouped notification and
email), but 500 claims to a statement: a conditional UPDATE that only moves claims still in the
state the move starts from (a claim someone changed meanwhile is not moved, and the run notices),
one multi-row INSERT of the audit entries, one of the notifications (and one UPDATE of those
grouped into), and one of the emails.

Runs up to ``BATCH_INLINE_MAX`` claims happen in the request, in one transaction (a failure
leaves nothing half made). A larger run is a ``PaymentRun`` a task carries out chunk by chunk
(``RUN_CHUNK`` claims a transaction, so no SQLite writer waits long), picking up where it stopped
if it was interrupted; the batch page shows how far it has gone.

Emails: each has its own key file (``core.keystore``), and writing one costs a few milliseconds
(an fsync), so 10,000 of them take far longer than the rest of the run. Up to
``BATCH_EMAILS_INLINE_MAX`` they are written in the run's transaction; beyond that the run's
row says they are pending and a task writes them just after, 200 to a transaction, with their
keys made before the transaction writes anything.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from flask import current_app

from portal.accounts.models import User
from portal.core import audit
from portal.core.db import utcnow
from portal.core.errors import RuleBroken
from portal.core.extensions import db
from portal.core.formatting import money
from portal.core.outbox import Email, insert_sealed, seal_many
from portal.core.schedule import job
from portal.core.tasks import enqueue_after_commit, task
from portal.notifications.service import Group, Notice, notify_many, wanted_many
from portal.remuneration.claims import CLAIMS_LIST
from portal.remuneration.models import (
    ActivityType,
    BatchState,
    Claim,
    ClaimState,
    ExpenseLine,
    PaymentBatch,
    PaymentRun,
    RunKind,
    RunState,
)

log = logging.getLogger("portal.remuneration.runs")
CHUNK = 500  # claim ids to a statement: well under every database's limit on bound values
RUN_CHUNK = 2_000  # claims to a transaction in a background run
EMAIL_CHUNK = 200  # emails to a transaction when they are written after the run
CHANGED_MEANWHILE = "Someone else changed one of these claims at the same time. Check the list and try again."


def chunks(ids: list[int], size: int = CHUNK) -> list[list[int]]:
    return [ids[start : start + size] for start in range(0, len(ids), size)]


@dataclass(frozen=True)
class Fact:
    """What a claim's audit entry, notification and email need, read in one query."""

    claim_id: int
    claimant_id: int
    claimant_name: str
    claimant_email: str
    deactivated: bool
    name: str  # "Workshop, 25 Nov 2026", as ``claims.claim_name``
    amount_pence: int  # what it pays: the payable fee and the expenses


def claim_facts(where: sa.ColumnElement[bool], *, limit: int | None = None) -> list[Fact]:
    expenses = (
        sa.select(sa.func.coalesce(sa.func.sum(ExpenseLine.amount_pence), 0))
        .where(ExpenseLine.claim_id == Claim.id)
        .scalar_subquery()
    )
    payable = sa.case((Claim.payment_declined.is_(True), 0), else_=Claim.fee_pence)
    query = (
        sa.select(
            Claim.id,
            Claim.claimant_id,
            User.name,
            User.email,
            User.deactivated_at,
            ActivityType.name,
            Claim.activity_date,
            payable + expenses,
        )
        .join(User, User.id == Claim.claimant_id)
        .join(ActivityType, ActivityType.id == Claim.activity_type_id)
        .where(where)
        .order_by(Claim.id)
    )
    if limit is not None:
        query = query.limit(limit)
    return [
        Fact(claim_id, claimant_id, person, email, gone is not None, f"{activity}, {day:%-d %b %Y}", int(amount or 0))
        for claim_id, claimant_id, person, email, gone, activity, day, amount in db.session.execute(query)
    ]


@dataclass(frozen=True)
class Move:
    """One of the two moves a run makes, worded as ``claims.move_into_batch`` / ``mark_paid``."""

    action: str
    start: ClaimState
    to: ClaimState
    subject: str
    plural: str
    body: Callable[[Fact], str]


def batched_move(reference: str) -> Move:
    return Move(
        "batched",
        ClaimState.APPROVED,
        ClaimState.IN_BATCH,
        "Your payment for {claim} is on its way",
        "Payments for {count} claims are on their way",
        lambda fact: f"Your claim is in payment run {reference}. You will be told when it is paid.",
    )


def paid_move(paid_on: date) -> Move:
    return Move(
        "paid",
        ClaimState.IN_BATCH,
        ClaimState.PAID,
        "Your claim {claim} has been paid",
        "{count} claims paid",
        lambda fact: f"Your claim was paid {money(fact.amount_pence)} on {paid_on:%d %B %Y}.",
    )


def move_for(run: PaymentRun, batch: PaymentBatch) -> Move:
    if run.kind == RunKind.CREATE:
        return batched_move(batch.reference)
    assert run.paid_on is not None
    return paid_move(run.paid_on)


def record_moves(move: Move, facts: list[Fact], *, by: User, note: str) -> None:
    """The audit entries and in-app notifications for claims just moved (in this transaction)."""
    for chunk in chunks([f.claim_id for f in facts]):
        audit.record_for_each(
            f"claim.{move.action}",
            "Claim",
            sa.select(Claim.id).where(Claim.id.in_(chunk)).order_by(Claim.id),
            actor=by,
            before={"state": move.start.value},
            after={"state": move.to.value},
            note=note,
        )
    wanted = wanted_many((f.claimant_id for f in facts), "claim")
    notify_many(
        "claim",
        [
            Notice(
                f.claimant_id,
                move.subject.format(claim=f"'{f.name}'"),
                move.body(f),
                f"/claims/{f.claim_id}",
                Group(key=f"claims.{move.action}", item=f.name, plural=move.plural, url_path=CLAIMS_LIST),
            )
            for f in facts
            if not f.deactivated and wanted[f.claimant_id][0]
        ],
    )


def emails_for(move: Move, facts: list[Fact]) -> list[Email]:
    """The claimants' emails, as ``notify`` words them, for those who want them."""
    wanted = wanted_many((f.claimant_id for f in facts), "claim")
    base = current_app.config["BASE_URL"].rstrip("/")
    emails = []
    for f in facts:
        if f.deactivated or not wanted[f.claimant_id][1]:
            continue
        body = move.body(f)
        text = f"Hello {f.claimant_name},\n\n{body}\n\nClaim {f.claim_id}: {f.name}.\n"
        text += f"\n{base}/claims/{f.claim_id}\n"
        text += "\nYou can choose which emails you get on your notification settings page.\n"
        subject = move.subject.format(claim=f"'{f.name}'")
        emails.append(Email(f"claim_{move.action}", f.claimant_email, subject[:200], text))
    return emails


def sealed_emails_now(move: Move, facts: list[Fact]) -> list[dict[str, Any]] | None:
    """The run's emails sealed (keys made) before its transaction writes, when there are few
    enough to write with it; None when the task writes them after (``emails_later``)."""
    if len(facts) > current_app.config["BATCH_EMAILS_INLINE_MAX"]:
        return None
    return seal_many(emails_for(move, facts))


def emails_later(run: PaymentRun) -> None:
    run.state = RunState.WORKING
    run.emails_pending = True
    run.emails_after_id = 0
    enqueue_after_commit(carry_on, run.id)


def expire_claims() -> None:
    """Claims loaded in this session were changed behind its back (by UPDATE statements)."""
    for obj in list(db.session.identity_map.values()):
        if isinstance(obj, Claim):
            db.session.expire(obj)


def move_claims(move: Move, ids: list[int], *, batch: PaymentBatch, by: User) -> list[int]:
    """Move those of ``ids`` still in ``move.start`` (never ``by``'s own); returns the ids this
    statement moved (RETURNING), so a claim moved by someone else meanwhile is not counted twice."""
    values: dict[str, object] = {"state": move.to, "version": Claim.version + 1, "updated_at": utcnow()}
    where: list[sa.ColumnElement[bool]] = [Claim.state == move.start, Claim.claimant_id != by.id]
    if move.to == ClaimState.IN_BATCH:
        values["batch_id"] = batch.id
        where.append(Claim.batch_id.is_(None))
    else:
        values["paid_on"] = batch.paid_on
        where.append(Claim.batch_id == batch.id)
    moved: list[int] = []
    for chunk in chunks(ids):
        moved += db.session.scalars(
            sa.update(Claim).where(Claim.id.in_(chunk), *where).values(**values).returning(Claim.id),
            execution_options={"synchronize_session": False},
        )
    return sorted(moved)


# --- the background run ------------------------------------------------------------------------


def unfinished_run(batch_id: int) -> PaymentRun | None:
    """The run still moving this batch's claims, if any (emails still being written do not count)."""
    return db.session.scalar(
        sa.select(PaymentRun)
        .where(
            PaymentRun.batch_id == batch_id,
            PaymentRun.state != RunState.DONE,
            PaymentRun.claims_done < PaymentRun.claims_total,
        )
        .order_by(PaymentRun.id.desc())
        .limit(1)
    )


def latest_run(batch_id: int) -> PaymentRun | None:
    return db.session.scalar(
        sa.select(PaymentRun).where(PaymentRun.batch_id == batch_id).order_by(PaymentRun.id.desc()).limit(1)
    )


def _lock(run_id: int) -> PaymentRun | None:
    """The run's row, locked for this transaction: a write first (PostgreSQL locks the row,
    SQLite takes its one write lock), so two workers carrying the same run on take turns."""
    db.session.execute(
        sa.update(PaymentRun).where(PaymentRun.id == run_id).values(claims_done=PaymentRun.claims_done),
        execution_options={"synchronize_session": False},
    )
    return db.session.get(PaymentRun, run_id, populate_existing=True)


def _step(run: PaymentRun) -> bool:
    """One chunk of the run, in the caller's transaction; False when nothing is left to do."""
    batch = db.session.get_one(PaymentBatch, run.batch_id)
    by = db.session.get_one(User, run.by_id)
    move = move_for(run, batch)
    if run.claims_done < run.claims_total:
        if run.kind == RunKind.CREATE:
            ids = list((run.claim_ids or [])[run.claims_done : run.claims_done + RUN_CHUNK])
        else:
            ids = list(
                db.session.scalars(
                    sa.select(Claim.id)
                    .where(Claim.batch_id == batch.id, Claim.state == ClaimState.IN_BATCH)
                    .order_by(Claim.id)
                    .limit(RUN_CHUNK)
                )
            )
            batch.paid_on = run.paid_on  # what the claims' paid_on is set from
        moved = move_claims(move, ids, batch=batch, by=by) if ids else []
        record_moves(move, claim_facts(Claim.id.in_(moved)) if moved else [], by=by, note=_note(run, batch))
        if run.kind == RunKind.CREATE:
            if len(moved) < len(ids):
                run.skipped = [*(run.skipped or []), *sorted(set(ids) - set(moved))]
            run.claims_done += len(ids)
        else:
            if ids and not moved:
                raise RuntimeError(f"claims {ids[:5]} in the batch could not be marked paid")
            run.claims_done += len(moved)
            left = db.session.scalar(
                sa.select(sa.func.count()).where(Claim.batch_id == batch.id, Claim.state == ClaimState.IN_BATCH)
            )
            if left:
                run.claims_done = min(run.claims_done, run.claims_total - 1)
            else:
                _batch_paid(batch, run, by)
                run.claims_done = run.claims_total
        if run.claims_done >= run.claims_total:
            run.emails_pending, run.emails_after_id = True, 0
        return True
    run.state, run.finished_at = RunState.DONE, utcnow()
    return False


def _emails_step(run: PaymentRun) -> None:
    """The next emails of a run, their keys made before anything is written; the run's place
    moves on only if no other worker moved it meanwhile (then this one's rows roll back)."""
    batch = db.session.get_one(PaymentBatch, run.batch_id)
    after = run.emails_after_id
    facts = claim_facts(sa.and_(Claim.batch_id == batch.id, Claim.id > after), limit=EMAIL_CHUNK)
    rows = seal_many(emails_for(move_for(run, batch), facts))
    values: dict[str, object] = {"emails_after_id": facts[-1].claim_id} if facts else {"emails_pending": False}
    if not facts and run.claims_done >= run.claims_total:
        values.update(state=RunState.DONE, finished_at=utcnow())
    placed = db.session.execute(
        sa.update(PaymentRun)
        .where(PaymentRun.id == run.id, PaymentRun.emails_after_id == after, PaymentRun.emails_pending.is_(True))
        .values(**values),
        execution_options={"synchronize_session": False},
    )
    if getattr(placed, "rowcount", 0) == 1:
        insert_sealed(rows)


def _note(run: PaymentRun, batch: PaymentBatch) -> str:
    return batch.reference if run.kind == RunKind.CREATE else run.payment_reference


def _batch_paid(batch: PaymentBatch, run: PaymentRun, by: User) -> None:
    assert run.paid_on is not None
    batch.state = BatchState.PAID
    batch.paid_on = run.paid_on
    batch.payment_reference = run.payment_reference
    batch.marked_paid_by_id = by.id
    audit.record(
        "batch.paid",
        batch,
        actor=by,
        after={"paid_on": run.paid_on.isoformat(), "payment_reference": run.payment_reference},
    )


def run_to_the_end(run_id: int) -> None:
    """Carry the run on, one committed chunk at a time, until it is done (or fails: then it is
    marked failed with the reason, and ``resume`` can start it again where it stopped)."""
    while True:
        try:
            run = db.session.get(PaymentRun, run_id, populate_existing=True)
            if run is not None and run.state == RunState.WORKING and run.emails_pending:
                _emails_step(run)
                db.session.commit()
                continue
            run = _lock(run_id)
            if run is None or run.state != RunState.WORKING:
                db.session.rollback()
                return
            more = _step(run)
            db.session.commit()
        except Exception as error:
            db.session.rollback()
            log.exception("Payment run %s stopped", run_id)
            failed = db.session.get_one(PaymentRun, run_id, populate_existing=True)
            failed.state = RunState.FAILED
            failed.error = (str(error) or type(error).__name__)[:500]
            db.session.commit()
            return
        if not more:
            return


@task()
def carry_on(run_id: int, task: object = None) -> None:
    run_to_the_end(run_id)


def resume(run: PaymentRun) -> None:
    """Start a failed (or lost) run again from where it stopped; in the caller's transaction."""
    if run.state == RunState.DONE:
        raise RuleBroken("run", "This run has finished: there is nothing to carry on with.")
    run.state = RunState.WORKING
    run.error = ""
    enqueue_after_commit(carry_on, run.id)


@job("payment-runs", "Carry on payment runs left unfinished", every_minutes=5)
def sweep(now: datetime) -> str:
    """A run whose task was lost (the queue restarted) carries on here. Two at once cannot both
    move a claim: each move is a conditional UPDATE, and the second finds nothing to move."""
    ids = list(db.session.scalars(sa.select(PaymentRun.id).where(PaymentRun.state == RunState.WORKING)))
    for run_id in ids:
        run_to_the_end(run_id)
    return f"Carried on {len(ids)} payment runs."

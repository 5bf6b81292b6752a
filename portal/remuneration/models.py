"""Rate card, claims for paid time, expense lines, payment preferences and payment batches.

Money is integer pence. Units of time are exact decimals (1.5 hours), never floats.
"""

from __future__ import annotations

import enum
from datetime import date, datetime
from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.accounts.models import User
from portal.core.db import UTCDateTime, str_enum, utcnow
from portal.core.edits import Edited
from portal.core.extensions import Model
from portal.teams.models import Project


class Unit(enum.StrEnum):
    HOUR = "hour"
    HALF_DAY = "half_day"
    DAY = "day"
    FIXED_FEE = "fixed_fee"

    @property
    def label(self) -> str:
        return {"hour": "hour", "half_day": "half day", "day": "day", "fixed_fee": "fixed fee"}[self.value]


class ActivityType(Edited, Model):
    """One line of the rate card. Rates are never changed in place: a new ``Rate`` comes into force
    from a date. Setting one is an edit of this line (``Edited``), so an admin saving a rate from a
    rate card opened before someone else's change is refused and shown both."""

    __tablename__ = "activity_types"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(80), unique=True)
    unit: Mapped[Unit] = mapped_column(str_enum(Unit, "unit"))
    is_active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    rates: Mapped[list[Rate]] = relationship(
        back_populates="activity_type", lazy="raise_on_sql", order_by="Rate.effective_from"
    )


class Rate(Model):
    """The amount paid per unit from ``effective_from`` until the next rate's date."""

    __tablename__ = "rates"
    __table_args__ = (
        sa.UniqueConstraint("activity_type_id", "effective_from"),
        sa.CheckConstraint("amount_pence > 0", name="amount_positive"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    activity_type_id: Mapped[int] = mapped_column(sa.ForeignKey("activity_types.id"), index=True)
    amount_pence: Mapped[int]
    effective_from: Mapped[date]
    created_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    activity_type: Mapped[ActivityType] = relationship(back_populates="rates")


class PaymentMethod(enum.StrEnum):
    BANK_TRANSFER = "bank_transfer"
    VOUCHER = "voucher"
    CHARITY = "charity"
    DECLINE = "decline"

    @property
    def label(self) -> str:
        return {
            "bank_transfer": "Bank transfer (set up with the finance team)",
            "voucher": "Shopping voucher",
            "charity": "Donate it to a charity",
            "decline": "I do not want to be paid for my time",
        }[self.value]


class PaymentPreference(Model):
    """Private to the person, staff and finance. No bank details are ever stored here."""

    __tablename__ = "payment_preferences"

    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    method: Mapped[PaymentMethod] = mapped_column(
        str_enum(PaymentMethod, "payment_method"), default=PaymentMethod.BANK_TRANSFER
    )
    payee_reference: Mapped[str] = mapped_column(sa.String(60), default="")  # set by finance
    charity_name: Mapped[str] = mapped_column(sa.String(120), default="")
    weekly_limit_pence: Mapped[int | None]
    monthly_limit_pence: Mapped[int | None]
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)

    user: Mapped[User] = relationship(lazy="raise_on_sql")


class ClaimState(enum.StrEnum):
    DRAFT = "draft"
    SUBMITTED = "submitted"
    CONFIRMED = "confirmed"
    APPROVED = "approved"
    IN_BATCH = "in_batch"
    PAID = "paid"
    QUERIED = "queried"
    REJECTED = "rejected"
    VOIDED = "voided"

    @property
    def label(self) -> str:
        return {
            "draft": "Draft",
            "submitted": "Submitted",
            "confirmed": "Confirmed by project lead",
            "approved": "Approved",
            "in_batch": "Being paid",
            "paid": "Paid",
            "queried": "Question for you",
            "rejected": "Rejected",
            "voided": "Cancelled",
        }[self.value]


# Every allowed move; services refuse anything else.
TRANSITIONS: dict[ClaimState, set[ClaimState]] = {
    ClaimState.DRAFT: {ClaimState.SUBMITTED, ClaimState.VOIDED},
    ClaimState.SUBMITTED: {
        ClaimState.CONFIRMED,
        ClaimState.APPROVED,
        ClaimState.QUERIED,
        ClaimState.REJECTED,
        ClaimState.VOIDED,
    },
    ClaimState.CONFIRMED: {ClaimState.APPROVED, ClaimState.QUERIED, ClaimState.REJECTED, ClaimState.VOIDED},
    ClaimState.QUERIED: {ClaimState.SUBMITTED, ClaimState.REJECTED, ClaimState.VOIDED},
    ClaimState.APPROVED: {ClaimState.IN_BATCH, ClaimState.VOIDED},
    ClaimState.IN_BATCH: {ClaimState.PAID},
    ClaimState.PAID: set(),
    ClaimState.REJECTED: set(),
    ClaimState.VOIDED: set(),
}

# Claims whose fee counts as earnings (for benefits totals and project spend).
COUNTED_STATES = (ClaimState.SUBMITTED, ClaimState.CONFIRMED, ClaimState.APPROVED, ClaimState.IN_BATCH, ClaimState.PAID)
# Claims that are money the programme has committed to pay.
COMMITTED_STATES = (ClaimState.APPROVED, ClaimState.IN_BATCH, ClaimState.PAID)


class Claim(Model):
    __tablename__ = "claims"
    __table_args__ = (
        # Each list's filter, then its keyset order (sort key, id): the queue and confirmations,
        # the finance dashboard, a claimant's own claims, a batch's claims.
        sa.Index("ix_claims_state_submitted_id", "state", "submitted_at", "id"),
        sa.Index("ix_claims_state_approved_id", "state", "approved_at", "id"),
        sa.Index("ix_claims_state_paid_on", "state", "paid_on"),  # days to payment over the last 90 days
        sa.Index("ix_claims_claimant_activity_id", "claimant_id", "activity_date", "id"),
        sa.Index("ix_claims_batch_id_id", "batch_id", "id"),
        # A project's spend (fees and expenses of its claims in the committed states): with the
        # state beside the project, SQLite no longer reads every committed claim for each project.
        sa.Index("ix_claims_project_state", "project_id", "state"),
        sa.CheckConstraint("units > 0", name="units_positive"),
        sa.CheckConstraint("fee_pence >= 0", name="fee_not_negative"),
        sa.CheckConstraint("fee_pence <= full_fee_pence", name="fee_at_most_full_fee"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    claimant_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"))  # indexed with activity_date
    activity_type_id: Mapped[int] = mapped_column(sa.ForeignKey("activity_types.id"))
    activity_date: Mapped[date]
    units: Mapped[Decimal] = mapped_column(sa.Numeric(7, 2))
    # The rate in force on the activity date, kept so a later rate change never alters the claim.
    unit: Mapped[Unit] = mapped_column(str_enum(Unit, "claim_unit"))
    rate_pence: Mapped[int]
    full_fee_pence: Mapped[int]  # units x rate
    fee_pence: Mapped[int]  # what the claimant asks for: the full fee unless they reduced it
    payment_declined: Mapped[bool] = mapped_column(default=False)  # time counted, fee paid as £0
    project_id: Mapped[int | None] = mapped_column(sa.ForeignKey("projects.id"))  # indexed with state
    cost_code: Mapped[str] = mapped_column(sa.String(40), default="")  # programme claims
    notes: Mapped[str] = mapped_column(sa.Text, default="")

    state: Mapped[ClaimState] = mapped_column(str_enum(ClaimState, "claim_state"), default=ClaimState.DRAFT)
    question: Mapped[str] = mapped_column(sa.Text, default="")  # the latest query to the claimant
    decision_reason: Mapped[str] = mapped_column(sa.Text, default="")  # rejection or cancellation
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    # Any change to the claim's row; a draft untouched for RETENTION_DRAFT_CLAIM_DAYS is deleted.
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)
    submitted_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    confirmed_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    approved_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    approved_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    batch_id: Mapped[int | None] = mapped_column(sa.ForeignKey("payment_batches.id"))  # indexed with id
    paid_on: Mapped[date | None]
    # Optimistic locking: two people acting on the same claim at once, one wins, one is told.
    version: Mapped[int] = mapped_column(default=1)

    __mapper_args__ = {"version_id_col": version}

    claimant: Mapped[User] = relationship(foreign_keys=[claimant_id], lazy="raise_on_sql")
    approved_by: Mapped[User | None] = relationship(foreign_keys=[approved_by_id], lazy="raise_on_sql")
    activity_type: Mapped[ActivityType] = relationship(lazy="raise_on_sql")
    project: Mapped[Project | None] = relationship(lazy="raise_on_sql")
    batch: Mapped[PaymentBatch | None] = relationship(back_populates="claims", lazy="raise_on_sql")
    expenses: Mapped[list[ExpenseLine]] = relationship(
        back_populates="claim", lazy="raise_on_sql", cascade="all, delete-orphan", order_by="ExpenseLine.id"
    )

    @property
    def payable_fee_pence(self) -> int:
        return 0 if self.payment_declined else self.fee_pence


class ExpenseCategory(enum.StrEnum):
    TRAVEL = "travel"
    MILEAGE = "mileage"
    CARER = "carer"
    CHILDCARE = "childcare"
    SUBSISTENCE = "subsistence"
    OTHER = "other"

    @property
    def label(self) -> str:
        return {
            "travel": "Travel (fares, taxis, parking)",
            "mileage": "Mileage",
            "carer": "Carer or support worker",
            "childcare": "Childcare",
            "subsistence": "Food and drink",
            "other": "Other",
        }[self.value]


class ExpenseLine(Model):
    __tablename__ = "expense_lines"
    __table_args__ = (sa.CheckConstraint("amount_pence >= 0", name="amount_not_negative"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    claim_id: Mapped[int] = mapped_column(sa.ForeignKey("claims.id", ondelete="CASCADE"), index=True)
    category: Mapped[ExpenseCategory] = mapped_column(str_enum(ExpenseCategory, "expense_category"))
    description: Mapped[str] = mapped_column(sa.String(200), default="")
    miles: Mapped[Decimal | None] = mapped_column(sa.Numeric(7, 1))
    mileage_rate_pence: Mapped[int | None]
    amount_pence: Mapped[int]
    receipt_stored_name: Mapped[str | None] = mapped_column(sa.String(64), unique=True)
    receipt_filename: Mapped[str] = mapped_column(sa.String(120), default="")
    receipt_content_type: Mapped[str] = mapped_column(sa.String(40), default="")

    claim: Mapped[Claim] = relationship(back_populates="expenses")


class BatchState(enum.StrEnum):
    AWAITING_PAYMENT = "awaiting_payment"
    PAID = "paid"


class PaymentBatch(Model):
    __tablename__ = "payment_batches"
    __table_args__ = (
        sa.Index("ix_payment_batches_created_id", "created_at", "id"),  # the batches list, newest first
        sa.Index("ix_payment_batches_state_created_id", "state", "created_at", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    reference: Mapped[str] = mapped_column(sa.String(60), unique=True)
    state: Mapped[BatchState] = mapped_column(
        str_enum(BatchState, "batch_state"), default=BatchState.AWAITING_PAYMENT, index=True
    )
    created_by_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    paid_on: Mapped[date | None]
    payment_reference: Mapped[str] = mapped_column(sa.String(80), default="")
    marked_paid_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))

    claims: Mapped[list[Claim]] = relationship(back_populates="batch", lazy="raise_on_sql")


class RunKind(enum.StrEnum):
    CREATE = "create"  # claims moving into a new batch
    PAY = "pay"  # a batch's claims being marked paid


class RunState(enum.StrEnum):
    WORKING = "working"
    DONE = "done"
    FAILED = "failed"


class PaymentRun(Model):
    """One making or paying of a batch, as a set: how far it has gone, so a run too big for one
    request (``BATCH_INLINE_MAX``) carries on in a task, chunk by chunk, and picks up where it
    stopped; and which of its claims still wait for their email (``emails_after_id``)."""

    __tablename__ = "payment_runs"

    id: Mapped[int] = mapped_column(primary_key=True)
    batch_id: Mapped[int] = mapped_column(sa.ForeignKey("payment_batches.id", ondelete="CASCADE"), index=True)
    kind: Mapped[RunKind] = mapped_column(str_enum(RunKind, "run_kind"))
    state: Mapped[RunState] = mapped_column(str_enum(RunState, "run_state"), default=RunState.WORKING)
    by_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"))
    # The claims chosen, for a batch made in the background (the first ``claims_done`` are done).
    claim_ids: Mapped[list[int] | None] = mapped_column(sa.JSON)
    claims_total: Mapped[int] = mapped_column(default=0)
    claims_done: Mapped[int] = mapped_column(default=0)
    # Claims the run left out because they changed while it ran (voided meanwhile, say).
    skipped: Mapped[list[int] | None] = mapped_column(sa.JSON)
    emails_pending: Mapped[bool] = mapped_column(default=False)
    emails_after_id: Mapped[int] = mapped_column(default=0)
    paid_on: Mapped[date | None]
    payment_reference: Mapped[str] = mapped_column(sa.String(80), default="")
    error: Mapped[str] = mapped_column(sa.String(500), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    @property
    def moving_claims(self) -> bool:
        return self.state == RunState.WORKING and self.claims_done < self.claims_total

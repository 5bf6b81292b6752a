"""Reports to staff about a member, or about a message a member was sent, and staff decisions.

A member says why (``ReportReason``) and may add details (needed for "something else"). A
reported message's words are copied into the report, so staff read what was said even if the
message goes later. Staff dismiss a report, or suspend the reported person's account
(``accounts.suspension``); each decision is audited. Safety concerns head the queue.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import joinedload

from portal.accounts import suspension
from portal.accounts.models import User
from portal.core import audit
from portal.core.db import utcnow
from portal.core.errors import RuleBroken
from portal.core.extensions import db
from portal.directory.models import Block, DirectoryEntry, MemberReport, PeerMessage, ReportReason, ReportState

DETAILS_LENGTH = 1000
NOTE_LENGTH = 500


def may_report(reporter_id: int, person_id: int) -> bool:
    """Someone may report a person they can come across: listed in the directory, someone they
    exchanged messages with, or someone they blocked. (Not any account by its number.)"""
    if reporter_id == person_id:
        return False
    listed = sa.select(DirectoryEntry.user_id).where(DirectoryEntry.user_id == person_id, DirectoryEntry.listed)
    wrote = sa.select(PeerMessage.id).where(
        sa.or_(
            sa.and_(PeerMessage.sender_id == person_id, PeerMessage.recipient_id == reporter_id),
            sa.and_(PeerMessage.sender_id == reporter_id, PeerMessage.recipient_id == person_id),
        )
    )
    blocked = sa.select(Block.blocked_id).where(Block.blocker_id == reporter_id, Block.blocked_id == person_id)
    return bool(db.session.scalar(sa.select(sa.or_(listed.exists(), wrote.exists(), blocked.exists()))))


def _reason_and_details(reason: str, details: str) -> tuple[ReportReason, str]:
    try:
        chosen = ReportReason(reason)
    except ValueError:
        raise RuleBroken("reason", "Choose why you are reporting this.") from None
    text = (details or "").strip()
    if chosen == ReportReason.OTHER and not text:
        raise RuleBroken("details", "Tell us what happened, so staff can understand your concern.")
    if len(text) > DETAILS_LENGTH:
        raise RuleBroken("details", f"Keep this to {DETAILS_LENGTH:,} characters or fewer.")
    return chosen, text


def _open_report(reporter: User, subject_id: int, message_id: int | None) -> MemberReport | None:
    return db.session.scalar(
        sa.select(MemberReport).where(
            MemberReport.reporter_id == reporter.id,
            MemberReport.subject_id == subject_id,
            MemberReport.message_id.is_(None) if message_id is None else MemberReport.message_id == message_id,
            MemberReport.state == ReportState.OPEN,
        )
    )


def _file(reporter: User, subject_id: int, chosen: ReportReason, text: str, message: PeerMessage | None) -> bool:
    if _open_report(reporter, subject_id, message.id if message else None) is not None:
        return False  # already with staff; a second copy would only lengthen the queue
    report = MemberReport(
        reporter_id=reporter.id,
        subject_id=subject_id,
        message_id=message.id if message else None,
        message_text=message.body if message else "",
        message_sent_at=message.created_at if message else None,
        reason=chosen,
        details=text,
        priority=0 if chosen == ReportReason.SAFETY else 1,
        state=ReportState.OPEN,
    )
    db.session.add(report)
    db.session.flush()
    audit.record("report.made", report, actor=reporter, after={"reason": chosen.value, "subject": subject_id})
    return True


def report_member(reporter: User, person: User, *, reason: str, details: str) -> bool:
    """Report a member; false when this reporter already has an open report about them."""
    if not may_report(reporter.id, person.id):
        raise RuleBroken("reason", "You can report someone you can find in the directory or have messages with.")
    chosen, text = _reason_and_details(reason, details)
    return _file(reporter, person.id, chosen, text, None)


def report_message(reporter: User, message: PeerMessage, *, reason: str, details: str) -> bool:
    """Report a message sent to you, keeping a copy of its words; false when already reported."""
    if message.recipient_id != reporter.id:
        raise RuleBroken("reason", "You can report only messages sent to you.")
    chosen, text = _reason_and_details(reason, details)
    return _file(reporter, message.sender_id, chosen, text, message)


# --- staff ------------------------------------------------------------------------------


def queue_query(state: ReportState = ReportState.OPEN) -> sa.Select[MemberReport]:
    """Reports in one state: open ones with safety concerns first, then oldest first."""
    query = sa.select(MemberReport).where(MemberReport.state == state).options(joinedload(MemberReport.subject))
    if state == ReportState.OPEN:
        return query.order_by(MemberReport.priority, MemberReport.created_at, MemberReport.id)
    return query.order_by(MemberReport.created_at.desc(), MemberReport.id.desc())


def count_open() -> int:
    return (
        db.session.scalar(sa.select(sa.func.count(MemberReport.id)).where(MemberReport.state == ReportState.OPEN)) or 0
    )


def earlier_reports(report: MemberReport) -> int:
    """How many other reports there have been about the same person (a pattern matters)."""
    return (
        db.session.scalar(
            sa.select(sa.func.count(MemberReport.id)).where(
                MemberReport.subject_id == report.subject_id, MemberReport.id != report.id
            )
        )
        or 0
    )


def _decide(report: MemberReport, state: ReportState, *, by: User, note: str) -> None:
    if report.state != ReportState.OPEN:
        raise RuleBroken("note", "Someone has already decided about this report.")
    before = {"state": report.state.value}
    report.state = state
    report.decided_at = utcnow()
    report.decided_by_id = by.id
    report.decision_note = note
    audit.record(f"report.{state.value}", report, actor=by, before=before, after={"state": state.value}, note=note)


def _note(text: str, field: str) -> str:
    note = " ".join((text or "").split())
    if len(note) > NOTE_LENGTH:
        raise RuleBroken(field, f"Keep this to {NOTE_LENGTH} characters or fewer.")
    return note


def dismiss(report: MemberReport, *, by: User, note: str = "") -> None:
    """Staff looked and no action is needed on the account."""
    _decide(report, ReportState.DISMISSED, by=by, note=_note(note, "note"))


def suspend_subject(report: MemberReport, *, by: User, reason: str) -> None:
    """Staff suspend the reported person's account; the person is emailed the reason and how to appeal."""
    reason = _note(reason, "reason")
    person = db.session.get_one(User, report.subject_id)
    if person.suspended_at is None:
        suspension.suspend(person, by=by, reason=reason)
    elif not reason:
        raise RuleBroken("reason", "Say why the account is suspended.")
    _decide(report, ReportState.SUSPENDED, by=by, note=reason)

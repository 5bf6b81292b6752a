"""The panel's decisions, recorded by staff: award (which creates the pilot project) or decline.

An award is at most what was asked for, which is at most the phase's maximum, and the phase's
awards together stay within its pot. The phase row is locked while the pot is checked, so two
staff awarding at the same moment cannot overspend it together.

An award's project starts today or later. Recording an award made earlier (history) may start
it up to ``AWARD_BACKDATE_DAYS`` days ago, and then only with the reason, kept in the audit log.
Decisions are offered only while the phase can take them (``can_decide``).
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from flask import current_app

from portal.accounts.models import User
from portal.core import permissions
from portal.core.errors import NotAllowed, RuleBroken, RulesBroken
from portal.core.extensions import db
from portal.core.formatting import LONDON, local_date, money
from portal.grants.applications import check_move, move_application, requested_total_pence
from portal.grants.models import Application, ApplicationState, Decision, Outcome, Phase, PhaseState
from portal.grants.projects import create_project_from_award

# Decisions wait until the window has closed and the panel has met: deciding while applications
# are still coming in could spend the pot before everyone has applied.
DECIDING_STATES = (PhaseState.ASSESSING, PhaseState.ACTIVE)
RATIONALE_LENGTH = 5_000
BACKDATE_REASON_LENGTH = 1_000
NOT_DECIDING = (
    "Decisions are recorded once the phase is with the panel. Move the phase to \u201cpanel assessing\u201d first."
)


def can_decide(phase: Phase) -> bool:
    """Whether the phase takes decisions now (its applications are in and the panel has met)."""
    return phase.state in DECIDING_STATES


def backdate_days() -> int:
    return int(current_app.config["AWARD_BACKDATE_DAYS"])


def _require(user: User, rule: str, obj: Any = None) -> None:
    if not permissions.can(user, rule, obj):
        raise NotAllowed(f"{rule} refused")


def decision_of(application_id: int) -> Decision | None:
    return db.session.scalar(sa.select(Decision).where(Decision.application_id == application_id))


def awarded_total_pence(phase_id: int) -> int:
    return int(
        db.session.scalar(
            sa.select(sa.func.coalesce(sa.func.sum(Decision.amount_pence), 0))
            .join(Application, Application.id == Decision.application_id)
            .where(Application.phase_id == phase_id, Decision.outcome == Outcome.AWARD)
        )
        or 0
    )


def _locked_phase(phase_id: int) -> Phase:
    return db.session.scalars(
        sa.select(Phase).where(Phase.id == phase_id).with_for_update().execution_options(populate_existing=True)
    ).one()


def _start_problems(start_date: date | None, reason: str, today: date) -> list[RuleBroken]:
    if start_date is None:
        return [RuleBroken("start_date", "Enter the date the project starts.")]
    if start_date >= today:
        return []
    earliest = today - timedelta(days=backdate_days())
    if start_date < earliest:
        return [
            RuleBroken(
                "start_date",
                f"The start date cannot be before {local_date(earliest)}. To record an award made earlier, "
                f"a project can start at most {backdate_days()} days ago.",
            )
        ]
    if not reason:
        return [
            RuleBroken(
                "backdate_reason",
                "The start date is in the past. Say why, like \u201cRecording an award the panel made in "
                "June\u201d, or choose today or a later date.",
            )
        ]
    if len(reason) > BACKDATE_REASON_LENGTH:
        return [RuleBroken("backdate_reason", f"Keep the reason to {BACKDATE_REASON_LENGTH:,} characters or fewer.")]
    return []


def _award_problems(
    phase: Phase, application: Application, amount_pence: int | None, start_date: date | None
) -> list[RuleBroken]:
    problems = []
    requested = requested_total_pence(application.id)
    if amount_pence is None or amount_pence <= 0:
        problems.append(RuleBroken("amount", "Enter the amount to award, more than £0."))
    elif amount_pence > requested:
        problems.append(RuleBroken("amount", f"The award cannot be more than the {money(requested)} asked for."))
    elif amount_pence > phase.max_award_pence:
        problems.append(
            RuleBroken(
                "amount", f"The award cannot be more than this phase's maximum of {money(phase.max_award_pence)}."
            )
        )
    else:
        awarded = awarded_total_pence(phase.id)
        if awarded + amount_pence > phase.pot_pence:
            left = max(phase.pot_pence - awarded, 0)
            problems.append(
                RuleBroken(
                    "amount",
                    f"This award would take the phase's awards to {money(awarded + amount_pence)}, "
                    f"over its pot of {money(phase.pot_pence)}. {money(left)} is left in the pot.",
                )
            )
    return problems


def record_decision(
    application: Application,
    *,
    by: User,
    outcome: Outcome,
    rationale: str,
    now: datetime,
    amount_pence: int | None = None,
    start_date: date | None = None,
    backdate_reason: str = "",
) -> Decision:
    """Record the panel's decision; an award also creates the pilot project. Nothing is saved
    when a rule is broken. The lead is told either way, with the panel's reasons. A start date
    in the past needs ``backdate_reason`` (see the module's docstring)."""
    _require(by, "panel.manage")
    to = ApplicationState.AWARDED if outcome == Outcome.AWARD else ApplicationState.DECLINED
    check_move(application, to)
    if decision_of(application.id) is not None:
        raise RuleBroken("outcome", "A decision has already been recorded for this application.")
    phase = _locked_phase(application.phase_id)
    if not can_decide(phase):
        raise RuleBroken("outcome", NOT_DECIDING)
    rationale = rationale.strip()
    problems = []
    if not rationale:
        problems.append(
            RuleBroken("rationale", "Write the panel's reasons for this decision. The applicant will read them.")
        )
    elif len(rationale) > RATIONALE_LENGTH:
        problems.append(RuleBroken("rationale", f"Keep the reasons to {RATIONALE_LENGTH:,} characters or fewer."))
    backdate_reason = backdate_reason.strip()
    if outcome == Outcome.AWARD:
        problems += _award_problems(phase, application, amount_pence, start_date)
        problems += _start_problems(start_date, backdate_reason, now.astimezone(LONDON).date())
    if problems:
        raise RulesBroken(problems)
    if outcome != Outcome.AWARD or (start_date and start_date >= now.astimezone(LONDON).date()):
        backdate_reason = ""  # only a start in the past has one to keep

    amount = amount_pence if outcome == Outcome.AWARD else None
    decision = Decision(
        application_id=application.id,
        outcome=outcome,
        amount_pence=amount,
        rationale=rationale,
        decided_by_id=by.id,
        decided_at=now,
    )
    db.session.add(decision)
    db.session.flush()
    if outcome == Outcome.AWARD:
        assert amount is not None and start_date is not None
        subject = "Your application {application} has been funded"
        body = (
            f"Good news: the panel has decided to fund your project with {money(amount)}. It starts on "
            f"{local_date(start_date)}.\n\nThe panel's reasons:\n\n{rationale}\n\n"
            "Sign in to see your pilot project, its budget and when progress reports are due."
        )
    else:
        subject = "The panel's decision on your application {application}"
        body = (
            f"Thank you for applying to {phase.name}. The panel has decided not to fund this application.\n\n"
            f"The panel's reasons:\n\n{rationale}\n\nWe hope this helps with future applications."
        )
    move_application(
        application,
        to,
        by=by,
        action="decided",
        subject=subject,
        body=body,
        note=rationale,
        details={
            "outcome": outcome.value,
            "amount_pence": amount,
            "decision": decision.id,
            "rationale": rationale,
            **({"start_date": start_date.isoformat()} if outcome == Outcome.AWARD and start_date else {}),
            **({"backdate_reason": backdate_reason} if outcome == Outcome.AWARD and backdate_reason else {}),
        },
    )
    if outcome == Outcome.AWARD:
        assert amount is not None and start_date is not None
        create_project_from_award(application, amount_pence=amount, start_date=start_date, by=by)
    return decision

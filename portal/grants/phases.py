"""Grant phases (funding rounds): making and changing them, and moving them through their states.

Every function checks who may act (``portal.permissions``) and the state table
(``models.PHASE_TRANSITIONS``), and works in the caller's transaction: nothing commits here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, time
from typing import Any

import sqlalchemy as sa

from portal.accounts.models import User
from portal.core import audit, edits, permissions
from portal.core.errors import NotAllowed, RuleBroken, RulesBroken
from portal.core.extensions import db
from portal.core.formatting import local_date, money
from portal.grants import applications
from portal.grants.models import (
    PHASE_TRANSITIONS,
    Application,
    ApplicationState,
    Criterion,
    Phase,
    PhaseState,
)

MAX_POT_PENCE = 100_000_000_00  # £100 million: far above any real round, and well inside an integer column
MAX_DELIVERY_MONTHS = 36
# Details can change while applicants can still act on them; after that the panel relies on them.
EDITABLE_STATES = (PhaseState.DRAFT, PhaseState.OPEN)
# Public once opened: drafts are staff's work in progress.
PUBLIC_STATES = (PhaseState.OPEN, PhaseState.ASSESSING, PhaseState.ACTIVE, PhaseState.CLOSED)


@dataclass(frozen=True)
class CriterionDetails:
    name: str
    weight: int | None
    description: str = ""
    row: int = 1  # the form row it came from, so a message can sit next to it


@dataclass(frozen=True)
class PhaseDetails:
    name: str
    max_award_pence: int
    pot_pence: int
    delivery_months: int
    target_awards: int
    opens_on: date
    closes_on: date
    summary: str = ""
    opens_time: time = time(0, 0)  # UK time
    closes_time: time = time(23, 59)
    reviews_close_on: date | None = None
    eligibility: str = ""
    criteria: list[CriterionDetails] = field(default_factory=list)


def _require(user: User, rule: str, obj: Any = None) -> None:
    if not permissions.can(user, rule, obj):
        raise NotAllowed(f"{rule} refused")


def _detail_problems(details: PhaseDetails) -> list[RuleBroken]:
    problems = []
    if not details.name.strip():
        problems.append(RuleBroken("name", "Enter the phase's name."))
    if details.max_award_pence <= 0:
        problems.append(RuleBroken("max_award", "Enter a maximum award of more than £0."))
    if details.pot_pence > MAX_POT_PENCE:
        problems.append(RuleBroken("pot", f"Enter a pot of no more than {money(MAX_POT_PENCE)}."))
    elif details.pot_pence < details.max_award_pence:
        problems.append(
            RuleBroken(
                "pot",
                f"The pot must be at least the maximum award ({money(details.max_award_pence)}), "
                "so at least one award can be made.",
            )
        )
    if not 1 <= details.delivery_months <= MAX_DELIVERY_MONTHS:
        problems.append(
            RuleBroken(
                "delivery_months", f"Enter how many months pilots have to deliver, from 1 to {MAX_DELIVERY_MONTHS}."
            )
        )
    if details.target_awards < 1:
        problems.append(RuleBroken("target_awards", "Enter how many awards you aim to make: 1 or more."))
    if details.closes_on < details.opens_on:
        problems.append(RuleBroken("closes_on", "The closing date must be the same as the opening date or after it."))
    elif details.closes_on == details.opens_on and details.closes_time <= details.opens_time:
        problems.append(
            RuleBroken("closes_time", "On a round that opens and closes on one day, close it after the opening time.")
        )
    if details.reviews_close_on is not None and details.reviews_close_on < details.closes_on:
        problems.append(
            RuleBroken("reviews_close_on", "Panel reviews can only close on or after the day applications close.")
        )
    return problems


def _criteria_problems(criteria: list[CriterionDetails]) -> list[RuleBroken]:
    if not criteria:
        return [RuleBroken("criteria", "Add at least one scoring criterion, with a name and a weight.")]
    problems = []
    for criterion in criteria:
        if not criterion.name.strip():
            problems.append(RuleBroken(f"criterion_{criterion.row}_name", f"Give criterion {criterion.row} a name."))
        if criterion.weight is None or not 1 <= criterion.weight <= 100:
            problems.append(
                RuleBroken(
                    f"criterion_{criterion.row}_weight", f"Give criterion {criterion.row} a weight from 1 to 100."
                )
            )
    return problems


def _values(phase: Phase) -> dict[str, Any]:
    return {
        "name": phase.name,
        "max_award_pence": phase.max_award_pence,
        "pot_pence": phase.pot_pence,
        "delivery_months": phase.delivery_months,
        "target_awards": phase.target_awards,
        "opens_on": phase.opens_on.isoformat(),
        "closes_on": phase.closes_on.isoformat(),
        "opens_time": phase.opens_time.strftime("%H:%M"),
        "closes_time": phase.closes_time.strftime("%H:%M"),
        "reviews_close_on": phase.reviews_close_on.isoformat() if phase.reviews_close_on else None,
    }


# The phase form's labels, for the conflict panel when two staff change one phase.
LABELS = {
    "name": "Name",
    "summary": "Summary",
    "eligibility": "Who can apply",
    "max_award_pence": "Largest award",
    "pot_pence": "Pot",
    "delivery_months": "Delivery time, in months",
    "target_awards": "Number of awards you aim to make",
    "opens_on": "Applications open on",
    "opens_time": "Opening time, UK time",
    "closes_on": "Applications close on",
    "closes_time": "Closing time, UK time",
    "reviews_close_on": "Panel reviews close on",
}


def _changes(details: PhaseDetails) -> dict[str, Any]:
    return {
        "name": details.name.strip(),
        "summary": details.summary.strip(),
        "eligibility": details.eligibility.strip(),
        "max_award_pence": details.max_award_pence,
        "pot_pence": details.pot_pence,
        "delivery_months": details.delivery_months,
        "target_awards": details.target_awards,
        "opens_on": details.opens_on,
        "closes_on": details.closes_on,
        "opens_time": details.opens_time,
        "closes_time": details.closes_time,
        "reviews_close_on": details.reviews_close_on,
    }


def _shown(name: str, value: Any) -> str:
    if name.endswith("_pence") and isinstance(value, int):
        return money(value)
    if isinstance(value, time):
        return value.strftime("%H:%M")
    if isinstance(value, date):
        return local_date(value)
    return edits.shown(value)


def _apply(phase: Phase, details: PhaseDetails) -> None:
    for name, value in _changes(details).items():
        setattr(phase, name, value)


def criteria_of(phase_id: int) -> list[Criterion]:
    return list(
        db.session.scalars(
            sa.select(Criterion).where(Criterion.phase_id == phase_id).order_by(Criterion.position, Criterion.id)
        )
    )


def _set_criteria(phase: Phase, criteria: list[CriterionDetails]) -> None:
    """Change rows in place by position, so a criterion keeps its id while the phase is a draft."""
    existing = criteria_of(phase.id)
    for position, details in enumerate(criteria):
        criterion = existing[position] if position < len(existing) else Criterion(phase_id=phase.id)
        criterion.name = details.name.strip()
        criterion.description = details.description.strip()
        criterion.weight = details.weight or 0
        criterion.position = position
        db.session.add(criterion)
    for extra in existing[len(criteria) :]:
        db.session.delete(extra)


def create_phase(details: PhaseDetails, *, by: User) -> Phase:
    _require(by, "phases.manage")
    problems = _detail_problems(details) + _criteria_problems(details.criteria)
    if problems:
        raise RulesBroken(problems)
    phase = Phase(state=PhaseState.DRAFT)
    _apply(phase, details)
    db.session.add(phase)
    db.session.flush()
    _set_criteria(phase, details.criteria)
    audit.record("phase.created", phase, actor=by, after=_values(phase))
    return phase


def _criteria_text(phase_id: int) -> list[tuple[str, str, int]]:
    return [(c.name, c.description, c.weight) for c in criteria_of(phase_id)]


def update_phase(phase: Phase, details: PhaseDetails, *, by: User, seen: int | None = None) -> None:
    """Change a draft or open phase, from a form opened at version ``seen`` (None: not checked):
    one saved since is not touched (``EditConflict``, with both versions). Criteria change only
    while it is a draft (``details.criteria`` is ignored once it is open), so every application
    in a round is scored the same way."""
    _require(by, "phases.manage")
    edits.check_fresh(phase, seen, _changes(details), by=by, labels=LABELS, display=_shown)
    if phase.state not in EDITABLE_STATES:
        raise RuleBroken("name", f"This phase is {phase.state.label.lower()}, so its details can no longer change.")
    change_criteria = phase.state == PhaseState.DRAFT
    problems = _detail_problems(details) + (_criteria_problems(details.criteria) if change_criteria else [])
    if problems:
        raise RulesBroken(problems)
    before, criteria_before = _values(phase), _criteria_text(phase.id)
    changed = edits.edit(phase, _changes(details), by=by, seen=seen, labels=LABELS, display=_shown)
    if change_criteria:
        _set_criteria(phase, details.criteria)
        db.session.flush()
        if _criteria_text(phase.id) != criteria_before and not changed:
            edits.stamp(phase, by=by)  # the criteria are part of the phase: its version moves on
    after = _values(phase)
    if after != before or change_criteria:
        audit.record("phase.changed", phase, actor=by, before=before, after=after)


def in_window(phase: Phase, today: date) -> bool:
    return phase.opens_on <= today <= phase.closes_on


def check_move(phase: Phase, to: PhaseState, *, by: User | None, today: date) -> None:
    """What moving a phase asks, checked before the confirmation page is shown and again on moving it."""
    if by is not None:
        _require(by, "phases.manage")
    if to not in PHASE_TRANSITIONS[phase.state]:
        raise RuleBroken(
            "state",
            f"A phase that is {phase.state.label.lower()} cannot move to "
            f"{to.label.lower()}. Phases move one step at a time: draft, open for "
            "applications, panel assessing, pilots running, closed.",
        )
    if to == PhaseState.OPEN and not in_window(phase, today):
        raise RuleBroken(
            "state",
            f"This phase can open only between {local_date(phase.opens_on)} and "
            f"{local_date(phase.closes_on)}, and today is outside those dates. "
            "Change the dates first.",
        )
    if to == PhaseState.OPEN and not criteria_of(phase.id):
        raise RuleBroken("state", "Add at least one scoring criterion before opening this phase.")


def move_phase(phase: Phase, to: PhaseState, *, by: User | None, today: date) -> list[Application]:
    """Move a phase one step on. Opening needs today inside the window; moving to assessing puts
    every submitted application with the panel (returned, so the caller can say how many).

    ``by`` is the staff member moving it, or None for the scheduler acting on the phase's own
    dates (``grants.schedule``), which checks nothing else but the same rules."""
    check_move(phase, to, by=by, today=today)
    before = phase.state
    phase.state = to
    audit.record("phase.state_changed", phase, actor=by, before={"state": before.value}, after={"state": to.value})
    moved: list[Application] = []
    if to == PhaseState.ASSESSING:
        for application in db.session.scalars(
            sa.select(Application)
            .where(Application.phase_id == phase.id, Application.state == ApplicationState.SUBMITTED)
            .order_by(Application.id)
        ):
            applications.put_under_review(application, by=by, phase=phase)
            moved.append(application)
    return moved


def public_phases_query() -> sa.Select[Phase]:
    return sa.select(Phase).where(Phase.state.in_(PUBLIC_STATES)).order_by(Phase.opens_on.desc(), Phase.id.desc())


def staff_phases_query() -> sa.Select[Phase]:
    return sa.select(Phase).order_by(Phase.opens_on.desc(), Phase.id.desc())


def application_counts(phase_ids: list[int]) -> dict[int, dict[ApplicationState, int]]:
    """For each phase, how many applications are in each state (one query)."""
    counts: dict[int, dict[ApplicationState, int]] = {phase_id: {} for phase_id in phase_ids}
    if not phase_ids:
        return counts
    for phase_id, state, count in db.session.execute(
        sa.select(Application.phase_id, Application.state, sa.func.count())
        .where(Application.phase_id.in_(phase_ids))
        .group_by(Application.phase_id, Application.state)
    ):
        counts[phase_id][ApplicationState(state)] = count
    return counts

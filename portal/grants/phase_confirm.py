"""The "are you sure?" page for moving a funding round (phase) to its next stage: what the move
does, and to how many applications and people (``core.confirm``). ``phase_views.move_phase``
shows it before it moves anything."""

from __future__ import annotations

from collections.abc import Callable

import sqlalchemy as sa
from flask import url_for
from flask_login import current_user
from werkzeug.wrappers import Response

from portal.core.changes import apply
from portal.core.confirm import Confirmation, ask, counted
from portal.core.extensions import db
from portal.core.formatting import local_date, london_today
from portal.core.forms import given
from portal.grants import phases
from portal.grants.forms import PhaseStateForm
from portal.grants.models import Application, ApplicationState, Phase, PhaseState

CHOOSE_STATE = "Choose the state to move the phase to."


def _applications(phase: Phase, state: ApplicationState) -> tuple[int, int]:
    """How many of the phase's applications are in ``state``, and how many different leads they have."""
    applications, leads = db.session.execute(
        sa.select(sa.func.count(Application.id), sa.func.count(sa.distinct(Application.lead_id))).where(
            Application.phase_id == phase.id, Application.state == state
        )
    ).one()
    return int(applications), int(leads)


def _what_happens(phase: Phase, to: PhaseState) -> list[str]:
    if to == PhaseState.OPEN:
        return [
            f"This will open {phase.name} for applications. It will show on the public list of funding rounds, "
            f"and anyone signed in can start an application until {local_date(phase.closes_on)}.",
            "Its scoring criteria can no longer be changed once it is open.",
        ]
    if to == PhaseState.ASSESSING:
        sent, leads = _applications(phase, ApplicationState.SUBMITTED)
        drafts, _ = _applications(phase, ApplicationState.DRAFT)
        words = [
            f"This will close {phase.name} to applications and send {counted(sent, 'submitted application')} "
            f"to the panel. We will tell {counted(leads, 'person', 'people')}: the lead of each one.",
        ]
        if drafts:
            words.append(f"{counted(drafts, 'application')} still being written can no longer be sent.")
        return words
    if to == PhaseState.ACTIVE:
        return [f"This will move {phase.name} on to pilots running. Decisions can still be recorded."]
    return [
        f"This will close {phase.name} for good. No more reviewers can be added to its panel, "
        "and it cannot be moved again."
    ]


def move_question(phase: Phase, to: PhaseState) -> Confirmation:
    return Confirmation(
        title=f"Move {phase.name} to: {to.label.lower()}?",
        will=_what_happens(phase, to),
        button=f"Yes, move it to: {to.label.lower()}",
        action=url_for("grants.move_phase", phase_id=phase.id),
        cancel=url_for("grants.staff_phases"),
        cancel_label="No, go back to the funding rounds",
    )


def ask_to_move(phase: Phase, form: PhaseStateForm, *, refused: Callable[[str], Response]) -> Response:
    """Check the move as moving would (nothing changes), then show the question; a broken rule
    goes to ``refused`` with its message."""
    checked = apply(
        form, lambda: phases.check_move(phase, PhaseState(given(form.to.data)), by=current_user, today=london_today())
    )
    if not checked:
        return refused(checked.error.message if checked.error is not None else CHOOSE_STATE)
    return ask(move_question(phase, PhaseState(given(form.to.data))))

"""Applications to a phase: starting, writing, budgeting, submitting, withdrawing (invitations to
the team: ``invitations``).

Every move checks the state table (``models.APPLICATION_TRANSITIONS``) and who may make it
(``portal.permissions``), records an audit entry and tells the lead through the outbox, all in
the caller's transaction. ``Application.version`` makes a second, simultaneous change to the
same application fail at commit instead of overwriting the first.

The writing page is one form: the words and the budget lines (``save_draft``). It carries the
version it was opened at, and the application's version covers its lines (one version, not one
per line: the team writes the words and the lines on one page, the budget is read as one total
against the phase's cap, and adding or removing a line changes what the words are asked to
fund). A save from a stale page changes nothing and shows both versions (``core.edits``); each
saved change is kept as a revision (``core.revisions``), with the budget as text.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import joinedload
from sqlalchemy.orm.attributes import set_committed_value

from portal.accounts.models import User
from portal.accounts.verification import require_verified
from portal.core import audit, edits, permissions, revisions
from portal.core.errors import NotAllowed, RuleBroken, RulesBroken
from portal.core.extensions import db
from portal.core.formatting import local_date, money
from portal.grants.models import (
    APPLICATION_TRANSITIONS,
    Application,
    ApplicationMember,
    ApplicationState,
    BudgetCategory,
    BudgetLine,
    Phase,
    PhaseState,
)
from portal.notifications.service import notify
from portal.teams.models import TeamRole

MAX_LINE_PENCE = 1_000_000_00
MAX_BUDGET_LINES = 50
TITLE_LENGTH = 200
TEXT_LENGTH = 10_000

# Everything the panel needs, in the order the form asks for it, with what to do when it is missing.
REQUIRED_FIELDS: list[tuple[str, str]] = [
    ("title", "Give your application a title."),
    ("summary", "Write a short summary of what you want to do."),
    ("lived_experience", "Say who with lived experience is involved, and how they are involved."),
    ("co_design", "Explain how people with lived experience will shape the design of the project."),
    ("co_decision", "Explain how people with lived experience will share the decisions."),
    ("co_delivery", "Explain how people with lived experience will help deliver the project."),
    ("co_evaluation", "Explain how people with lived experience will help judge what difference it made."),
]


@dataclass(frozen=True)
class ApplicationDetails:
    title: str = ""
    summary: str = ""
    lived_experience: str = ""
    co_design: str = ""
    co_decision: str = ""
    co_delivery: str = ""
    co_evaluation: str = ""


@dataclass(frozen=True)
class NewLine:
    """A budget line as typed on the writing page (category "" and amount None when left empty)."""

    category: str = ""
    description: str = ""
    amount_pence: int | None = None

    @property
    def blank(self) -> bool:
        return not self.description.strip() and self.amount_pence is None


LABELS = Application.__revised__


def _require(user: User, rule: str, obj: Any = None) -> None:
    if not permissions.can(user, rule, obj):
        raise NotAllowed(f"{rule} refused")


def phase_of(application: Application) -> Phase:
    return db.session.get_one(Phase, application.phase_id)


# --- the state table ---------------------------------------------------------------------------


MOVE_WORDS = {
    ApplicationState.DRAFT: "made a draft again",
    ApplicationState.SUBMITTED: "submitted",
    ApplicationState.UNDER_REVIEW: "sent to the panel",
    ApplicationState.AWARDED: "awarded",
    ApplicationState.DECLINED: "declined",
    ApplicationState.WITHDRAWN: "withdrawn",
}


def check_move(application: Application, to: ApplicationState) -> None:
    if to not in APPLICATION_TRANSITIONS[application.state]:
        raise RuleBroken(
            "state", f"An application that is {application.state.label.lower()} cannot be {MOVE_WORDS[to]}."
        )


def move_application(
    application: Application,
    to: ApplicationState,
    *,
    by: User | None,
    action: str,
    subject: str,
    body: str,
    note: str = "",
    details: dict[str, Any] | None = None,
) -> None:
    """The one place an application changes state: state table, audit entry, and the lead told."""
    check_move(application, to)
    before = application.state
    application.state = to
    audit.record(
        f"application.{action}",
        application,
        actor=by,
        before={"state": before.value},
        after={"state": to.value, **(details or {})},
        note=note[:500],
    )
    tell_lead(application, kind=f"application_{action}", subject=subject, body=body)


def tell_lead(application: Application, *, kind: str, subject: str, body: str) -> None:
    """Tell the lead; ``subject`` names the application where it says ``{application}``."""
    lead = db.session.get_one(User, application.lead_id)
    title = application.title or "your application"
    named = f"'{application.title}'" if application.title else "(no title yet)"
    notify(
        lead,
        "application",
        subject.replace("{application}", named),
        body,
        f"/applications/{application.id}",
        email_kind=kind,
        email_text=f"Hello {lead.name},\n\n{body}\n\nApplication: {title}\n",
    )


# --- starting and writing ----------------------------------------------------------------------


def start_application(phase: Phase, *, by: User, today: date) -> Application:
    _require(by, "applications.start")
    require_verified(by)  # starting one makes them its team's lead
    if phase.state != PhaseState.OPEN:
        raise RuleBroken("phase", "This phase is not open for applications.")
    if today > phase.closes_on:
        raise RuleBroken("phase", f"Applications for this phase closed on {local_date(phase.closes_on)}.")
    application = Application(phase_id=phase.id, lead_id=by.id, state=ApplicationState.DRAFT)
    db.session.add(application)
    db.session.flush()
    db.session.add(ApplicationMember(application_id=application.id, user_id=by.id, role=TeamRole.LEAD))
    audit.record("application.started", application, actor=by, after={"phase": phase.id, "state": "draft"})
    keep_version(application, by=by)  # the empty draft, first in its history
    return application


def _words(details: ApplicationDetails) -> dict[str, str]:
    return {name: getattr(details, name).strip() for name, _ in REQUIRED_FIELDS}


def update_application(application: Application, details: ApplicationDetails, *, by: User) -> bool:
    """Save the words at any time while a draft; blanks are fine until it is submitted. True when
    anything changed (who and when are stamped; the version rises at the flush)."""
    _require(by, "application.edit", application)
    values = _words(details)
    if len(values["title"]) > TITLE_LENGTH:
        raise RuleBroken("title", f"Keep the title to {TITLE_LENGTH} characters or fewer.")
    for name, text in values.items():
        if len(text) > TEXT_LENGTH:
            raise RuleBroken(name, f"Keep this to {TEXT_LENGTH:,} characters or fewer.")
    return edits.edit(application, values, by=by, seen=None, labels=LABELS)


def save_draft(
    application: Application,
    details: ApplicationDetails,
    *,
    by: User,
    seen: int | None,
    new_line: NewLine | None = None,
    remove_line_id: int | None = None,
    line_required: bool = False,
) -> bool:
    """Save the writing page as one change: the words, a new budget line when one was typed, and
    a line taken out when its "Remove" was pressed; from a page opened at version ``seen``.

    An application saved since then is not touched: ``EditConflict`` with both versions, the
    budget among them. True when anything changed; each saved change is kept as a revision."""
    _require(by, "application.edit", application)
    adding = new_line is not None and not new_line.blank
    if line_required and not adding:
        raise RuleBroken("description", "Say what this budget line is for, then add it.")
    removing = next((line for line in budget_lines(application.id) if line.id == remove_line_id), None)
    if seen is not None and seen != application.version:
        set_committed_value(application, "budget_lines", budget_lines(application.id))  # "budget" reads them
        yours = _budget_as_opened(application, seen, add=new_line if adding else None, remove=removing)
        edits.check_fresh(application, seen, {**_words(details), "budget": yours}, by=by, labels=LABELS)
    if remove_line_id is not None and removing is None:
        raise RuleBroken("", "That budget line has already been removed. Check the budget below.")
    changed = bool(update_application(application, details, by=by))
    if adding and new_line is not None:
        _add_line(application, new_line, by=by)
    if removing is not None:
        remove_budget_line(application, removing, by=by)
    if (adding or removing is not None) and not changed:
        edits.stamp(application, by=by)  # the lines are part of the application: its version rises
        changed = True
    if changed:
        keep_version(application, by=by)
    return changed


def _add_line(application: Application, line: NewLine, *, by: User) -> BudgetLine:
    if line.category not in BudgetCategory._value2member_map_:
        raise RuleBroken("category", "Choose what kind of cost this is.")
    return add_budget_line(
        application,
        by=by,
        category=BudgetCategory(line.category),
        description=line.description,
        amount_pence=line.amount_pence,
    )


def change_budget(
    application: Application,
    *,
    by: User,
    seen: int | None,
    new_line: NewLine | None = None,
    remove_line_id: int | None = None,
) -> bool:
    """Add or remove one budget line on its own (the budget's own buttons), from a page opened at
    version ``seen``: the words are kept as they are saved."""
    saved = ApplicationDetails(**{name: getattr(application, name) for name, _ in REQUIRED_FIELDS})
    return save_draft(
        application,
        saved,
        by=by,
        seen=seen,
        new_line=new_line,
        remove_line_id=remove_line_id,
        line_required=new_line is not None,
    )


def _budget_as_opened(application: Application, seen: int, *, add: NewLine | None, remove: BudgetLine | None) -> str:
    """The budget as this person had it: as saved at the version they opened (or as it is, when
    that version was never kept), with the line they added or removed."""
    kept = db.session.scalar(
        sa.select(revisions.Revision.fields).where(
            revisions.Revision.kind == Application.__tablename__,
            revisions.Revision.record_id == application.id,
            revisions.Revision.version == seen,
        )
    )
    text = str(kept.get("budget", "")) if kept else _budget_text(application)
    rows = [row for row in text.splitlines() if row and (remove is None or row != remove.as_text)]
    if add is not None and add.category in BudgetCategory._value2member_map_:
        amount = money(add.amount_pence) if add.amount_pence is not None else "no amount"
        rows.append(f"{BudgetCategory(add.category).label}: {add.description.strip()}, {amount}")
    return "\n".join(rows)


def _budget_text(application: Application) -> str:
    return "\n".join(line.as_text for line in budget_lines(application.id))


def keep_version(application: Application, *, by: User | None) -> None:
    """Keep the application as it is now (its budget lines with it) as a saved version."""
    db.session.flush()
    set_committed_value(application, "budget_lines", budget_lines(application.id))
    revisions.keep(application, by=by)


def requested_total_pence(application_id: int) -> int:
    """The requested total is always the sum of the budget lines; it is never stored."""
    return int(
        db.session.scalar(
            sa.select(sa.func.coalesce(sa.func.sum(BudgetLine.amount_pence), 0)).where(
                BudgetLine.application_id == application_id
            )
        )
        or 0
    )


def requested_totals(application_ids: list[int]) -> dict[int, int]:
    """Requested totals for many applications in one query (0 for an application with no lines)."""
    totals = dict.fromkeys(application_ids, 0)
    if application_ids:
        for application_id, total in db.session.execute(
            sa.select(BudgetLine.application_id, sa.func.sum(BudgetLine.amount_pence))
            .where(BudgetLine.application_id.in_(application_ids))
            .group_by(BudgetLine.application_id)
        ):
            totals[application_id] = int(total)
    return totals


def budget_lines(application_id: int) -> list[BudgetLine]:
    return list(
        db.session.scalars(
            sa.select(BudgetLine).where(BudgetLine.application_id == application_id).order_by(BudgetLine.id)
        )
    )


def add_budget_line(
    application: Application, *, by: User, category: BudgetCategory, description: str, amount_pence: int | None
) -> BudgetLine:
    _require(by, "application.edit", application)
    description = description.strip()
    if not description:
        raise RuleBroken("description", "Say what this budget line is for.")
    if amount_pence is None or amount_pence <= 0 or amount_pence > MAX_LINE_PENCE:
        raise RuleBroken("amount", f"Enter an amount of more than £0 and no more than {money(MAX_LINE_PENCE)}.")
    count = (
        db.session.scalar(
            sa.select(sa.func.count()).select_from(BudgetLine).where(BudgetLine.application_id == application.id)
        )
        or 0
    )
    if count >= MAX_BUDGET_LINES:
        raise RuleBroken(
            "description",
            f"An application can have up to {MAX_BUDGET_LINES} budget lines. Combine some lines, then add this one.",
        )
    line = BudgetLine(
        application_id=application.id, category=category, description=description, amount_pence=amount_pence
    )
    db.session.add(line)
    db.session.flush()
    return line


def remove_budget_line(application: Application, line: BudgetLine, *, by: User) -> None:
    _require(by, "application.edit", application)
    if line.application_id != application.id:
        raise NotAllowed("That budget line belongs to another application.")
    db.session.delete(line)


# --- submitting and withdrawing ------------------------------------------------------------------


def submission_problems(application: Application, today: date) -> list[RuleBroken]:
    """Everything that stops this application being submitted today, each against its field."""
    phase = phase_of(application)
    problems = []
    if phase.state != PhaseState.OPEN:
        problems.append(RuleBroken("window", "This phase is not taking applications now."))
    elif today < phase.opens_on:
        problems.append(RuleBroken("window", f"Applications can be sent from {local_date(phase.opens_on)}."))
    elif today > phase.closes_on:
        problems.append(
            RuleBroken(
                "window", f"Applications closed on {local_date(phase.closes_on)}, so this one can no longer be sent."
            )
        )
    for name, message in REQUIRED_FIELDS:
        if not getattr(application, name).strip():
            problems.append(RuleBroken(name, message))
    total = requested_total_pence(application.id)
    if total == 0:
        problems.append(
            RuleBroken("budget", "Add at least one budget line, so the panel can see what the money is for.")
        )
    elif total > phase.max_award_pence:
        problems.append(
            RuleBroken(
                "budget",
                f"Your budget adds up to {money(total)}, but the most this phase can award is "
                f"{money(phase.max_award_pence)}. Reduce your budget lines by "
                f"{money(total - phase.max_award_pence)}.",
            )
        )
    return problems


def submit_application(application: Application, *, by: User, today: date, now: datetime) -> None:
    check_move(application, ApplicationState.SUBMITTED)
    _require(by, "application.submit", application)
    problems = submission_problems(application, today)
    if problems:
        raise RulesBroken(problems)
    application.submitted_at = now
    move_application(
        application,
        ApplicationState.SUBMITTED,
        by=by,
        action="submitted",
        subject="We have your application {application}",
        body="Thank you. Your application has been sent. When the window closes, the panel reads and "
        "scores every application, and we will tell you the decision.",
    )


def withdraw_application(application: Application, *, by: User) -> None:
    check_move(application, ApplicationState.WITHDRAWN)
    _require(by, "application.withdraw", application)
    move_application(
        application,
        ApplicationState.WITHDRAWN,
        by=by,
        action="withdrawn",
        subject="Your application {application} is withdrawn",
        body="Your application has been withdrawn, as you asked. The panel will not consider it.",
    )


def put_under_review(application: Application, *, by: User | None, phase: Phase) -> None:
    """Called when the phase moves to assessing (``phases.move_phase`` checks who may; ``by`` is
    None when the phase closed by itself at its closing time)."""
    move_application(
        application,
        ApplicationState.UNDER_REVIEW,
        by=by,
        action="under_review",
        subject="Your application {application} is with the panel",
        body=f"Applications to {phase.name} have closed, and the panel is now reading and scoring "
        "them. We will tell you the decision.",
    )


# --- the team ----------------------------------------------------------------------------------------


def team_of(application_id: int) -> list[tuple[User, TeamRole]]:
    return [
        (user, TeamRole(role))
        for user, role in db.session.execute(
            sa.select(User, ApplicationMember.role)
            .join(ApplicationMember, ApplicationMember.user_id == User.id)
            .where(ApplicationMember.application_id == application_id)
            .order_by(ApplicationMember.role, User.name)
        )
    ]


# --- lists -------------------------------------------------------------------------------------------------


def applications_of(user: User) -> sa.Select[Application]:
    """The applications someone leads or is on the team of, newest first."""
    member_of = sa.select(ApplicationMember.application_id).where(ApplicationMember.user_id == user.id)
    return (
        sa.select(Application)
        .where(sa.or_(Application.lead_id == user.id, Application.id.in_(member_of)))
        .options(joinedload(Application.phase))
        .order_by(Application.created_at.desc(), Application.id.desc())
    )


def own_application_in(phase: Phase, user: User) -> Application | None:
    """The application this person leads in this phase, if any (to link to it, not start another)."""
    return db.session.scalar(
        sa.select(Application)
        .where(
            Application.phase_id == phase.id,
            Application.lead_id == user.id,
            Application.state != ApplicationState.WITHDRAWN,
        )
        .order_by(Application.id.desc())
        .limit(1)
    )

"""Gatherings: making and changing them, booking places, the waiting list, and attendance.

Booking, cancelling and changing capacity lock the gathering's row first (``SELECT ... FOR
UPDATE`` on PostgreSQL), so two people booking the last place at once cannot both get it: the
second waits for the first to commit, then counts again. SQLite lets one writer in at a time.

Changing a gathering goes through ``core.edits`` under that same lock: an organiser saving from a
form opened before someone else's save is refused (``EditConflict``, with both versions), and
saving an unchanged form changes nothing (no new version, no calendar update, nobody told).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from urllib.parse import urlsplit

import sqlalchemy as sa

from portal.accounts.models import User
from portal.core import audit, edits, permissions
from portal.core.db import utcnow
from portal.core.errors import NotAllowed, RuleBroken
from portal.core.extensions import db
from portal.core.formatting import LONDON, local_datetime
from portal.gatherings import notices
from portal.gatherings.models import Gathering, Rsvp, RsvpState
from portal.remuneration.claims import MAX_UNITS, ActivityDraft, draft_claims_for_activity
from portal.remuneration.models import ActivityType
from portal.teams.models import Project, TeamMembership, TeamRole

MAX_CAPACITY = 5000

# What the comparison calls each part of a gathering, when a save from a stale form is refused.
LABELS = {
    "title": "Title",
    "description": "What it is for and what will happen",
    "starts_at": "Starts",
    "ends_at": "Ends",
    "place": "Place",
    "online_link": "Online link",
    "accessibility": "Accessibility",
    "capacity": "How many people can come",
    "paid": "Attendees with lived experience are paid",
    "activity_type_id": "Paid as",
    "units": "How many units of that activity",
    "project_id": "Pilot project",
    "public": "Shown on the public calendar",
}


@dataclass(frozen=True)
class GatheringDetails:
    title: str
    description: str
    starts_at: datetime
    ends_at: datetime
    place: str = ""
    online_link: str = ""
    accessibility: str = ""
    capacity: int = 20
    paid: bool = False
    activity_type_id: int | None = None
    units: Decimal | None = None
    project_id: int | None = None
    public: bool = False


# --- who may organise ----------------------------------------------------------------------


def led_projects(user: User) -> list[Project]:
    return list(
        db.session.scalars(
            sa.select(Project)
            .join(TeamMembership)
            .where(TeamMembership.user_id == user.id, TeamMembership.role == TeamRole.LEAD)
            .order_by(Project.title)
        )
    )


def leads_a_project(user: User) -> bool:
    return (
        db.session.scalar(
            sa.select(TeamMembership.id)
            .where(TeamMembership.user_id == user.id, TeamMembership.role == TeamRole.LEAD)
            .limit(1)
        )
        is not None
    )


def project_choices(user: User) -> list[Project]:
    """Projects a gathering may belong to: staff choose any active project, leads their own."""
    if permissions.is_staff(user):
        return list(db.session.scalars(sa.select(Project).where(Project.state == "active").order_by(Project.title)))
    return led_projects(user)


def paid_activities() -> list[ActivityType]:
    return list(
        db.session.scalars(sa.select(ActivityType).where(ActivityType.is_active.is_(True)).order_by(ActivityType.name))
    )


# --- making and changing -------------------------------------------------------------------


def _check(details: GatheringDetails, by: User, *, now: datetime, existing: Gathering | None) -> None:
    if not details.title.strip():
        raise RuleBroken("title", "Enter the gathering's title.")
    if not details.description.strip():
        raise RuleBroken("description", "Say what the gathering is for and what will happen.")
    if details.ends_at <= details.starts_at:
        raise RuleBroken("ends_at", "The end must be after the start.")
    if (existing is None or existing.starts_at != details.starts_at) and details.starts_at <= now:
        raise RuleBroken("starts_at", "The start must be in the future.")
    if not details.place.strip() and not details.online_link.strip():
        raise RuleBroken("place", "Enter where the gathering is, or an online link, or both.")
    if details.online_link.strip():
        parts = urlsplit(details.online_link.strip())
        if parts.scheme not in ("https", "http") or not parts.netloc:
            raise RuleBroken("online_link", "Enter the full online link, starting https://")
    if not 1 <= details.capacity <= MAX_CAPACITY:
        raise RuleBroken("capacity", f"Enter how many people can come, from 1 to {MAX_CAPACITY:,}.")
    if details.paid:
        activity = db.session.get(ActivityType, details.activity_type_id) if details.activity_type_id else None
        if activity is None or not activity.is_active:
            raise RuleBroken("activity_type_id", "Choose the rate card activity attendees are paid for.")
        if details.units is None or details.units <= 0:
            raise RuleBroken("units", f"Enter how many {activity.unit.label}s each attendee is paid for.")
        if details.units > MAX_UNITS[activity.unit] or details.units != details.units.quantize(Decimal("0.01")):
            raise RuleBroken(
                "units",
                f"Enter up to {MAX_UNITS[activity.unit]} {activity.unit.label}s, with no more than two decimal places.",
            )
    if details.project_id is not None and details.project_id not in {p.id for p in project_choices(by)}:
        raise RuleBroken("project_id", "Choose one of the projects you lead, or none.")


def _values(details: GatheringDetails) -> dict[str, object]:
    """The gathering's columns as ``details`` would set them."""
    return {
        "title": details.title.strip(),
        "description": details.description.strip(),
        "starts_at": details.starts_at,
        "ends_at": details.ends_at,
        "place": details.place.strip(),
        "online_link": details.online_link.strip(),
        "accessibility": details.accessibility.strip(),
        "capacity": details.capacity,
        "paid": details.paid,
        "activity_type_id": details.activity_type_id if details.paid else None,
        "units": details.units if details.paid else None,
        "project_id": details.project_id,
        "public": details.public,
    }


def _apply(gathering: Gathering, details: GatheringDetails) -> None:
    for name, value in _values(details).items():
        setattr(gathering, name, value)


def _display(name: str, value: object) -> str:
    """A gathering's value as the comparison of two versions shows it (times in UK time)."""
    if isinstance(value, datetime):
        return local_datetime(value)
    if isinstance(value, bool):
        return "Yes" if value else "No"
    if name == "activity_type_id":
        activity = db.session.get(ActivityType, value) if value else None
        return activity.name if activity is not None else "Not paid"
    if name == "project_id":
        project = db.session.get(Project, value) if value else None
        return project.title if project is not None else "None: a programme gathering"
    if isinstance(value, Decimal):
        return f"{value.normalize():f}"
    return edits.shown(value)


def create_gathering(details: GatheringDetails, *, by: User, now: datetime | None = None) -> Gathering:
    if not permissions.can(by, "gatherings.create"):
        raise permissions_error()
    _check(details, by, now=now or utcnow(), existing=None)
    gathering = Gathering(organiser_id=by.id)
    _apply(gathering, details)
    db.session.add(gathering)
    db.session.flush()
    audit.record(
        "gathering.create",
        gathering,
        actor=by,
        after={
            "title": gathering.title,
            "paid": gathering.paid,
            "capacity": gathering.capacity,
            "public": gathering.public,
        },
    )
    return gathering


def _same_minute(typed: datetime, saved: datetime) -> datetime:
    """The saved time when ``typed`` is the same to the minute (all the form shows), else ``typed``."""
    return saved if typed == saved.replace(second=0, microsecond=0) else typed


def update_gathering(
    gathering: Gathering,
    details: GatheringDetails,
    *,
    by: User,
    seen: int | None = None,
    now: datetime | None = None,
) -> list[User]:
    """Change a gathering from a form opened at version ``seen``; returns the people moved up from
    the waiting list by a larger capacity. Read under the gathering's lock, so of two organisers
    saving at once the second always sees the first's save and is refused (``EditConflict``)."""
    if not permissions.can(by, "gathering.manage", gathering):
        raise permissions_error()
    locked = lock(gathering.id)
    details = dataclasses.replace(
        details,
        starts_at=_same_minute(details.starts_at, locked.starts_at),
        ends_at=_same_minute(details.ends_at, locked.ends_at),
    )
    changes = _values(details)
    edits.check_fresh(locked, seen, changes, by=by, labels=LABELS, display=_display)
    _check(details, by, now=now or utcnow(), existing=locked)
    if details.capacity < going_count(locked.id):
        raise RuleBroken(
            "capacity",
            f"{going_count(locked.id)} people already have a place. Enter at least that "
            "many, or ask people to cancel first.",
        )
    moved = (locked.starts_at, locked.ends_at, locked.place, locked.online_link)
    if not edits.edit(locked, changes, by=by, seen=None):
        return []  # an unchanged form: nothing saved, nobody told, the calendar file unchanged
    locked.sequence += 1
    locked.updated_at = locked.changed_at or utcnow()
    promoted = _fill_places(locked)
    if moved != (locked.starts_at, locked.ends_at, locked.place, locked.online_link):
        for person in db.session.scalars(
            sa.select(User)
            .join(Rsvp, Rsvp.user_id == User.id)
            .where(Rsvp.gathering_id == locked.id, Rsvp.state == RsvpState.GOING)
        ):
            if person not in promoted:
                notices.gathering_changed(person, locked)
    audit.record("gathering.update", locked, actor=by, after={"capacity": locked.capacity, "public": locked.public})
    return promoted


def permissions_error() -> Exception:

    return NotAllowed("not an organiser")


# --- places and the waiting list -------------------------------------------------------------


def lock(gathering_id: int) -> Gathering:
    """The gathering, read afresh with its row locked until the transaction ends."""
    if db.session.get_bind().dialect.name == "sqlite":
        # SQLite has no row locks and ignores FOR UPDATE. Writing to the row takes the database's
        # single write lock now, so a second booking waits here until this transaction ends.
        db.session.execute(sa.update(Gathering).where(Gathering.id == gathering_id).values(sequence=Gathering.sequence))
    gathering = db.session.scalar(
        sa.select(Gathering)
        .where(Gathering.id == gathering_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    if gathering is None:
        raise RuleBroken("gathering", "That gathering no longer exists.")
    return gathering


def going_count(gathering_id: int) -> int:
    return int(
        db.session.scalar(
            sa.select(sa.func.count(Rsvp.id)).where(Rsvp.gathering_id == gathering_id, Rsvp.state == RsvpState.GOING)
        )
        or 0
    )


def rsvp_of(gathering_id: int, user_id: int) -> Rsvp | None:
    return db.session.scalar(
        sa.select(Rsvp)
        .where(Rsvp.gathering_id == gathering_id, Rsvp.user_id == user_id)
        .execution_options(populate_existing=True)
    )


def book(
    gathering: Gathering,
    user: User,
    *,
    access_needs: str = "",
    lived_experience: bool = False,
    now: datetime | None = None,
) -> Rsvp:
    """Book a place, or a place on the waiting list when the gathering is full."""
    locked = lock(gathering.id)
    if locked.starts_at <= (now or utcnow()):
        raise RuleBroken("rsvp", "This gathering has started, so it is too late to book.")
    if len(access_needs) > 2000:
        raise RuleBroken("access_needs", "Keep your access needs to 2,000 characters or fewer.")
    rsvp = rsvp_of(locked.id, user.id)
    if rsvp is not None and rsvp.state != RsvpState.CANCELLED:
        raise RuleBroken("rsvp", "You have already booked. Cancel first if you want to change your booking.")
    state = RsvpState.GOING if going_count(locked.id) < locked.capacity else RsvpState.WAITING
    if rsvp is None:
        rsvp = Rsvp(gathering_id=locked.id, user_id=user.id)
        db.session.add(rsvp)
    rsvp.state = state
    rsvp.access_needs = access_needs.strip()
    rsvp.lived_experience = bool(lived_experience and locked.paid)
    rsvp.queued_at = utcnow()
    db.session.flush()
    audit.record(
        "gathering.rsvp",
        rsvp,
        actor=user,
        after={
            "state": rsvp.state.value,
            "gathering_id": locked.id,
            # consent: what the person chose to share with the organisers
            "shares_access_needs": bool(rsvp.access_needs),
            "lived_experience": rsvp.lived_experience,
        },
    )
    if rsvp.state == RsvpState.GOING:
        notices.place_confirmed(user, locked)
    else:
        notices.waiting_list_joined(user, locked)
    return rsvp


def cancel(gathering: Gathering, user: User, *, now: datetime | None = None) -> list[User]:
    """Give up a place (or leave the waiting list); returns whoever was moved up into it."""
    locked = lock(gathering.id)
    rsvp = rsvp_of(locked.id, user.id)
    if rsvp is None or rsvp.state == RsvpState.CANCELLED:
        raise RuleBroken("rsvp", "You have not booked this gathering.")
    if rsvp.attended_at is not None:
        raise RuleBroken("rsvp", "You were marked as attending, so this booking cannot be cancelled.")
    before = rsvp.state.value
    rsvp.state = RsvpState.CANCELLED
    db.session.flush()
    audit.record("gathering.cancel_rsvp", rsvp, actor=user, before={"state": before}, after={"state": "cancelled"})
    if locked.starts_at <= (now or utcnow()):
        return []  # nobody is moved up into a gathering that has already started
    return _fill_places(locked)


def _fill_places(locked: Gathering) -> list[User]:
    """Move people up from the waiting list, first come first served, while there is room.
    The caller holds the gathering's lock."""
    free = locked.capacity - going_count(locked.id)
    if free <= 0:
        return []
    waiting = list(
        db.session.scalars(
            sa.select(Rsvp)
            .where(Rsvp.gathering_id == locked.id, Rsvp.state == RsvpState.WAITING)
            .order_by(Rsvp.queued_at, Rsvp.id)
            .limit(free)
        )
    )
    people = {u.id: u for u in db.session.scalars(sa.select(User).where(User.id.in_([r.user_id for r in waiting])))}
    promoted = []
    for rsvp in waiting:
        rsvp.state = RsvpState.GOING
        audit.record("gathering.promote", rsvp, actor=None, before={"state": "waiting"}, after={"state": "going"})
        notices.promoted_from_waiting_list(people[rsvp.user_id], locked)
        promoted.append(people[rsvp.user_id])
    db.session.flush()
    return promoted


# --- attendance ----------------------------------------------------------------------------


@dataclass
class AttendanceResult:
    marked: int = 0
    claims_drafted: int = 0
    no_rate: int = 0


def activity_date(gathering: Gathering) -> date:
    return gathering.starts_at.astimezone(LONDON).date()


def mark_attendance(
    gathering: Gathering, rsvp_ids: list[int], *, by: User, now: datetime | None = None
) -> AttendanceResult:
    """Mark people as having come. On a paid gathering, draft each paid attendee's claim once:
    the RSVP rows are locked and a claim is only drafted where none was drafted before."""

    if not permissions.can(by, "gathering.manage", gathering):
        raise permissions_error()
    locked = lock(gathering.id)
    if locked.starts_at > (now or utcnow()):
        raise RuleBroken("attended", "You can mark attendance once the gathering has started.")
    rsvps = list(
        db.session.scalars(
            sa.select(Rsvp)
            .where(Rsvp.gathering_id == locked.id, Rsvp.id.in_(rsvp_ids), Rsvp.state == RsvpState.GOING)
            .order_by(Rsvp.id)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
    )
    if not rsvps:
        raise RuleBroken("attended", "Tick at least one person who came.")
    result = AttendanceResult()
    activity = db.session.get(ActivityType, locked.activity_type_id) if locked.paid else None
    project = db.session.get(Project, locked.project_id) if locked.project_id else None
    team = set()
    if project is not None:
        team = set(db.session.scalars(sa.select(TeamMembership.user_id).where(TeamMembership.project_id == project.id)))
    people = {u.id: u for u in db.session.scalars(sa.select(User).where(User.id.in_([r.user_id for r in rsvps])))}
    # As a set, however many came: one UPDATE of the RSVPs, one INSERT of their audit entries,
    # one of the claims, and the notices (``notices.send_each``).
    newly = [rsvp for rsvp in rsvps if rsvp.attended_at is None]
    for rsvp in newly:
        rsvp.attended_at = now or utcnow()
    audit.record_many(
        "gathering.attended", "Rsvp", [(r.id, None, {"gathering_id": locked.id}, "") for r in newly], actor=by
    )
    result.marked = len(newly)
    paid = [r for r in rsvps if activity is not None and r.lived_experience and r.claim_id is None]
    if activity is None or not paid:
        db.session.flush()
        return result
    drafted = draft_claims_for_activity(
        [
            ActivityDraft(
                people[rsvp.user_id],
                # the claim goes to the project only for its own team; anyone else's to the programme
                project if rsvp.user_id in team else None,
                f'Attended the gathering "{locked.title}" (drafted when the organiser marked attendance).',
            )
            for rsvp in paid
        ],
        activity_name=activity.name,
        activity_date=activity_date(locked),
        units=locked.units or Decimal(0),
    )
    told = []
    for rsvp, claim_id in zip(paid, drafted, strict=True):
        if claim_id is None:
            result.no_rate += 1
            continue
        rsvp.claim_id = claim_id
        result.claims_drafted += 1
        told.append(
            (
                people[rsvp.user_id],
                f"A claim for {locked.title} is ready for you",
                f"You came to {locked.title} as someone with lived experience, so we started a claim for "
                "your time. Check it, add any expenses, and send it.",
                f"/claims/{claim_id}",
            )
        )
    notices.send_each("claim", told)
    db.session.flush()
    return result


# --- lists -------------------------------------------------------------------------------


def upcoming_query(now: datetime) -> sa.Select[Gathering]:
    return sa.select(Gathering).where(Gathering.ends_at > now).order_by(Gathering.starts_at, Gathering.id)


def past_query(now: datetime) -> sa.Select[Gathering]:
    return (
        sa.select(Gathering).where(Gathering.ends_at <= now).order_by(Gathering.starts_at.desc(), Gathering.id.desc())
    )


def booked_query(user_id: int, *, since: datetime) -> sa.Select[Gathering]:
    """Gatherings this person has a place on that end after ``since``, soonest first."""
    return (
        sa.select(Gathering)
        .join(Rsvp, Rsvp.gathering_id == Gathering.id)
        .where(Rsvp.user_id == user_id, Rsvp.state == RsvpState.GOING, Gathering.ends_at > since)
        .order_by(Gathering.starts_at, Gathering.id)
    )


def public_query(*, since: datetime) -> sa.Select[Gathering]:
    """Gatherings their organisers listed publicly that end after ``since``: all a visitor may see."""
    return (
        sa.select(Gathering)
        .where(Gathering.public.is_(True), Gathering.ends_at > since)
        .order_by(Gathering.starts_at, Gathering.id)
    )


def going_counts(gathering_ids: list[int]) -> dict[int, int]:
    if not gathering_ids:
        return {}
    rows = db.session.execute(
        sa.select(Rsvp.gathering_id, sa.func.count(Rsvp.id))
        .where(Rsvp.gathering_id.in_(gathering_ids), Rsvp.state == RsvpState.GOING)
        .group_by(Rsvp.gathering_id)
    )
    return {gathering_id: count for gathering_id, count in rows}


def my_states(gathering_ids: list[int], user_id: int) -> dict[int, RsvpState]:
    if not gathering_ids:
        return {}
    rows = db.session.execute(
        sa.select(Rsvp.gathering_id, Rsvp.state).where(Rsvp.gathering_id.in_(gathering_ids), Rsvp.user_id == user_id)
    )
    return {gathering_id: state for gathering_id, state in rows}


def booked_people_query(gathering_id: int) -> sa.Select[Rsvp]:
    """Everyone with a place, then the waiting list in order (organisers only)."""
    waiting_last = sa.case((Rsvp.state == RsvpState.GOING, 0), else_=1)
    return (
        sa.select(Rsvp)
        .options(sa.orm.joinedload(Rsvp.user))
        .where(Rsvp.gathering_id == gathering_id, Rsvp.state != RsvpState.CANCELLED)
        .order_by(waiting_last, Rsvp.queued_at, Rsvp.id)
    )


def waiting_position(rsvp: Rsvp) -> int:
    return int(
        db.session.scalar(
            sa.select(sa.func.count(Rsvp.id)).where(
                Rsvp.gathering_id == rsvp.gathering_id,
                Rsvp.state == RsvpState.WAITING,
                sa.or_(Rsvp.queued_at < rsvp.queued_at, sa.and_(Rsvp.queued_at == rsvp.queued_at, Rsvp.id <= rsvp.id)),
            )
        )
        or 0
    )

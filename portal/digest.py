"""The digest, daily or weekly: ``send_due_digests`` (the scheduler, every morning) and
``flask --app portal.app send-digest`` (the weekly one by hand).

Each subscriber gets their own email: first what is due for them (progress reports for their
projects, reviews they have not sent, their draft claims, claims waiting for them to confirm),
then what is new for everyone: learning posts, stories and gatherings. Email leaves the portal,
so posts and stories in a digest are public ones only; the gatherings domain
(``digest_items(since)``) chooses its own, since every subscriber is a member. The personal
parts are read for all subscribers at once (one query each, by user ids), never per person.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

import sqlalchemy as sa
from flask import current_app
from sqlalchemy.orm import aliased

from portal.accounts.models import User
from portal.core import outbox
from portal.core.db import utcnow
from portal.core.extensions import db
from portal.core.formatting import LONDON, local_date
from portal.core.schedule import job
from portal.core.search import documents
from portal.core.search.models import Audience, SearchDocument
from portal.gatherings.digest import digest_items
from portal.grants.models import (
    Application,
    ApplicationMember,
    Phase,
    ProgressReport,
    Review,
    ReviewerAssignment,
    ReviewState,
)
from portal.grants.reports import OPEN_STATES, is_overdue
from portal.grants.reviews import REVIEWABLE_STATES
from portal.learning.posts import public_posts_since
from portal.notifications.models import DAILY, DIGEST, WEEKLY, NotificationSetting
from portal.remuneration.models import ActivityType, Claim, ClaimState
from portal.teams.models import Project, ProjectState, TeamMembership, TeamRole

DUE_WITHIN_DAYS = 14  # progress reports due this soon (or overdue) are in "Due for you"
PERIOD_DAYS = {DAILY: 1, WEEKLY: 7}
MONDAY = 0


@dataclass(frozen=True)
class Section:
    heading: str
    items: list[tuple[str, str]]  # (title, url path)
    kind: str = ""  # what the items are ("story", "post"): the outbox checks those lines again
    ids: tuple[int, ...] = ()  # the items' record ids, when ``kind`` is set


# A line about a story or post is sent only if the public index still shows it when the email
# leaves (the outbox cuts it otherwise): queued before a withdrawal, sent after, it says nothing.
@outbox.register_check("story")
def _stories_still_public(ids: list[int]) -> set[int]:
    return documents.still_public("story", ids)


@outbox.register_check("post")
def _posts_still_public(ids: list[int]) -> set[int]:
    return documents.still_public("post", ids)


def _posts(since: datetime) -> Section | None:
    posts = public_posts_since(since)
    return Section(
        "New learning posts", [(p.title, f"/learning/{p.id}") for p in posts], "post", tuple(p.id for p in posts)
    )


def _stories(since: datetime) -> Section | None:
    # Stories are read from the search index: a story is there, with its audience, exactly
    # while it is published, and it leaves the moment it is withdrawn.
    found = db.session.scalars(
        sa.select(SearchDocument)
        .where(
            SearchDocument.kind == "story",
            SearchDocument.audience == Audience.PUBLIC,
            SearchDocument.updated_at >= since,
        )
        .order_by(SearchDocument.updated_at.desc())
        .limit(20)
    )
    stories = list(found)
    return Section(
        "New stories", [(d.title, d.url_path) for d in stories], "story", tuple(d.object_id for d in stories)
    )


def _gatherings(since: datetime) -> Section | None:
    return Section("Gatherings coming up", list(digest_items(since)))


PROVIDERS: list[Callable[[datetime], Section | None]] = [_posts, _stories, _gatherings]


def sections(since: datetime) -> list[Section]:
    return [s for s in (provider(since) for provider in PROVIDERS) if s is not None and s.items]


# --- due for each person ---------------------------------------------------------------------------


Due = dict[int, list[tuple[str, str]]]  # user id -> (what, url path)


def _reports_due(user_ids: list[int], today: date) -> Due:
    rows = db.session.execute(
        sa.select(TeamMembership.user_id, ProgressReport, Project.title)
        .join(Project, Project.id == ProgressReport.project_id)
        .join(TeamMembership, TeamMembership.project_id == Project.id)
        .where(
            TeamMembership.user_id.in_(user_ids),
            Project.state == ProjectState.ACTIVE,
            ProgressReport.state.in_(OPEN_STATES),
            ProgressReport.due_on <= today + timedelta(days=DUE_WITHIN_DAYS),
        )
        .order_by(ProgressReport.due_on, ProgressReport.id)
    )
    due: Due = defaultdict(list)
    for user_id, report, title in rows:
        when = "overdue since" if is_overdue(report, today) else "due on"
        due[user_id].append(
            (
                f"The progress report for '{title}' is {when} {local_date(report.due_on)}",
                f"/projects/{report.project_id}/reports/{report.id}",
            )
        )
    return due


def _reviews_to_send(user_ids: list[int]) -> Due:
    reviewer = ReviewerAssignment.reviewer_id
    finished = sa.exists().where(
        Review.application_id == Application.id,
        Review.reviewer_id == reviewer,
        Review.state.in_((ReviewState.SUBMITTED, ReviewState.CONFLICT)),
    )
    on_team = sa.or_(
        Application.lead_id == reviewer,
        sa.exists().where(ApplicationMember.application_id == Application.id, ApplicationMember.user_id == reviewer),
    )
    rows = db.session.execute(
        sa.select(reviewer, Application.id, Application.title, Phase.name, Phase.reviews_close_on)
        .join(Application, Application.phase_id == ReviewerAssignment.phase_id)
        .join(Phase, Phase.id == Application.phase_id)
        .where(
            reviewer.in_(user_ids),
            sa.or_(ReviewerAssignment.application_id.is_(None), ReviewerAssignment.application_id == Application.id),
            Application.state.in_(REVIEWABLE_STATES),
            sa.not_(on_team),
            sa.not_(finished),
        )
        .distinct()
        .order_by(Phase.reviews_close_on, Application.id)
    )
    due: Due = defaultdict(list)
    for user_id, application_id, title, phase_name, closes in rows:
        deadline = f", by {local_date(closes)}" if closes else ""
        due[user_id].append(
            (
                f"Your review of '{title or 'an application'}' ({phase_name}){deadline}",
                f"/applications/{application_id}/review",
            )
        )
    return due


def _draft_claims(user_ids: list[int]) -> Due:
    rows = db.session.execute(
        sa.select(Claim.claimant_id, Claim.id, Claim.activity_date, ActivityType.name)
        .join(ActivityType, ActivityType.id == Claim.activity_type_id)
        .where(Claim.claimant_id.in_(user_ids), Claim.state == ClaimState.DRAFT)
        .order_by(Claim.activity_date, Claim.id)
    )
    due: Due = defaultdict(list)
    for user_id, claim_id, day, activity in rows:
        due[user_id].append((f"Your claim '{activity}, {day:%-d %b %Y}' is not sent yet", f"/claims/{claim_id}"))
    return due


def _claims_to_confirm(user_ids: list[int]) -> Due:
    claimant = aliased(User)
    rows = db.session.execute(
        sa.select(TeamMembership.user_id, Claim.id, Claim.activity_date, ActivityType.name, claimant.name)
        .join(Claim, Claim.project_id == TeamMembership.project_id)
        .join(ActivityType, ActivityType.id == Claim.activity_type_id)
        .join(claimant, claimant.id == Claim.claimant_id)
        .where(
            TeamMembership.user_id.in_(user_ids),
            TeamMembership.role == TeamRole.LEAD,
            Claim.state == ClaimState.SUBMITTED,
            Claim.claimant_id != TeamMembership.user_id,
        )
        .order_by(Claim.submitted_at, Claim.id)
    )
    due: Due = defaultdict(list)
    for user_id, claim_id, day, activity, name in rows:
        due[user_id].append((f"Confirm {name}'s claim '{activity}, {day:%-d %b %Y}'", f"/claims/{claim_id}"))
    return due


DUE_PROVIDERS: list[Callable[[list[int], date], Due]] = [
    _reports_due,
    lambda ids, _today: _reviews_to_send(ids),
    lambda ids, _today: _draft_claims(ids),
    lambda ids, _today: _claims_to_confirm(ids),
]
MAX_DUE = 30  # a long list is cut, with a link to the dashboard


def due_for(user_ids: list[int], today: date) -> dict[int, Section]:
    """Each person's "Due for you" section (only people with something due), in a few queries."""
    found: Due = defaultdict(list)
    for chunk in _chunks(user_ids, 500):
        for provider in DUE_PROVIDERS:
            for user_id, items in provider(chunk, today).items():
                found[user_id].extend(items)
    return {user_id: Section("Due for you", items[:MAX_DUE]) for user_id, items in found.items() if items}


def _chunks(ids: list[int], size: int) -> Iterable[list[int]]:
    for start in range(0, len(ids), size):
        yield ids[start : start + size]


# --- composing and sending ---------------------------------------------------------------------------


def compose(found: list[Section], *, frequency: str = WEEKLY) -> str:
    return compose_with_mentions(found, frequency=frequency)[0]


def compose_with_mentions(found: list[Section], *, frequency: str = WEEKLY) -> tuple[str, list[outbox.Mention]]:
    """The digest's text, and where in it each story or post is named (so the outbox can cut a
    line whose story is withdrawn before the email leaves)."""
    base = current_app.config["BASE_URL"].rstrip("/")
    period = "today" if frequency == DAILY else "this week"
    body = f"Here is what is due for you and what is new in the Co-Production Portal {period}.\n\n"
    mentions: list[outbox.Mention] = []
    for section in found:
        body += f"{section.heading}\n{'-' * len(section.heading)}\n"
        for number, (title, path) in enumerate(section.items):
            line = f"* {title}\n  {base}{path}\n"
            # Every line is a mention (a "due" line has no check, so it stays): a digest whose
            # every line was cut is not sent at all.
            record_id = section.ids[number] if section.ids else 0
            mentions.append(outbox.Mention(section.kind or "due", record_id, len(body), len(body) + len(line)))
            body += line
        body += "\n"
    body += (
        f"You get this email because you asked for the {frequency} digest. To change how often it comes, "
        f"or to stop it, change your notification settings: {base}/notifications/settings"
    )
    return body, mentions


def subscribers(frequency: str | None = None) -> list[User]:
    """People who asked for the digest (at this frequency, when given)."""
    query = (
        sa.select(User)
        .join(NotificationSetting, NotificationSetting.user_id == User.id)
        .where(
            NotificationSetting.kind == DIGEST,
            NotificationSetting.enabled.is_(True),
            NotificationSetting.email.is_(True),
            User.deactivated_at.is_(None),
        )
        .order_by(User.id)
    )
    if frequency == WEEKLY:  # anything but "daily" is weekly
        query = query.where(NotificationSetting.frequency != DAILY)
    elif frequency is not None:
        query = query.where(NotificationSetting.frequency == frequency)
    return list(db.session.scalars(query))


def _send(frequency: str, now: datetime, days: int) -> int:
    """One email per subscriber at ``frequency`` with what is due and what is new since ``days`` ago."""
    people = subscribers(frequency)
    if not people:
        return 0
    shared = sections(now - timedelta(days=days))
    due = due_for([person.id for person in people], now.astimezone(LONDON).date())
    subject = "Today in the Co-Production Portal" if frequency == DAILY else "This week in the Co-Production Portal"
    queued = 0
    for person in people:
        mine = [due[person.id], *shared] if person.id in due else shared
        if mine:
            body, mentions = compose_with_mentions(mine, frequency=frequency)
            outbox.enqueue("digest", person.email, subject, body, mentions=mentions)
            queued += 1
    return queued


def send_due_digests(now: datetime) -> int:
    """Queue today's digests: the daily ones every call, the weekly ones when it is Monday in
    the UK. Returns how many emails were queued; the caller commits."""
    queued = _send(DAILY, now, PERIOD_DAYS[DAILY])
    if now.astimezone(LONDON).weekday() == MONDAY:
        queued += _send(WEEKLY, now, PERIOD_DAYS[WEEKLY])
    return queued


def send_digest(*, now: datetime | None = None, days: int = PERIOD_DAYS[WEEKLY]) -> int:
    """Queue the weekly digest for its subscribers now, whatever the day; returns how many.
    Someone with nothing due and nothing new gets nothing."""
    return _send(WEEKLY, now or utcnow(), days)


@job("digest", "Send the daily and weekly digests", daily_at=time(7, 0))
def digest_job(now: datetime) -> str:
    return f"Queued {send_due_digests(now)} digests."

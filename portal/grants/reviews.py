"""Panel review (co-decision-making): assigning reviewers, scoring, conflicts of interest, and the
figures staff compare side by side.

A review's weighted average is Σ(score × weight) / Σ(weight) over its criteria; an application's
is the mean of its submitted reviews' weighted averages, and its spread is the highest minus the
lowest of them. Both are worked out exactly (fractions) and shown to two decimal places.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import joinedload

from portal.accounts.models import User
from portal.accounts.services import find_by_email
from portal.core import audit, outbox, permissions
from portal.core.errors import NotAllowed, RuleBroken, RulesBroken
from portal.core.extensions import db
from portal.core.formatting import local_date
from portal.grants import access
from portal.grants.applications import requested_totals
from portal.grants.models import (
    Application,
    ApplicationMember,
    ApplicationState,
    Criterion,
    Phase,
    PhaseState,
    Recommendation,
    Review,
    ReviewerAssignment,
    ReviewState,
    Score,
)
from portal.grants.phases import criteria_of
from portal.remuneration.claims import draft_claim_for_activity

SCORES = (1, 2, 3, 4, 5)
COMMENT_LENGTH = 5_000
PANEL_REVIEW_ACTIVITY = "Panel review"  # the rate card's activity a reviewer is paid for
# Applications a reviewer may see in their list: sent to the panel, and what became of them.
REVIEWER_VISIBLE_STATES = (
    ApplicationState.SUBMITTED,
    ApplicationState.UNDER_REVIEW,
    ApplicationState.AWARDED,
    ApplicationState.DECLINED,
)
REVIEWABLE_STATES = (ApplicationState.SUBMITTED, ApplicationState.UNDER_REVIEW)
TWO_PLACES = Decimal("0.01")


def _require(user: User, rule: str, obj: Any = None) -> None:
    if not permissions.can(user, rule, obj):
        raise NotAllowed(f"{rule} refused")


# --- arithmetic -------------------------------------------------------------------------------


def two_places(value: Fraction) -> Decimal:
    return (Decimal(value.numerator) / Decimal(value.denominator)).quantize(TWO_PLACES, rounding=ROUND_HALF_UP)


def review_averages(sums: Iterable[tuple[int, int]]) -> list[Fraction]:
    """Each review's weighted average, exactly, from its (Σ score × weight, Σ weight)."""
    return [Fraction(weighted, weights) for weighted, weights in sums if weights]


def weighted_average(sums: Iterable[tuple[int, int]]) -> Decimal | None:
    """The mean of the reviews' weighted averages, to two places (None before any review)."""
    averages = review_averages(sums)
    if not averages:
        return None
    return two_places(sum(averages, Fraction(0)) / len(averages))


def spread(sums: Iterable[tuple[int, int]]) -> Decimal | None:
    """How far the reviewers are apart: highest minus lowest weighted average."""
    averages = review_averages(sums)
    if not averages:
        return None
    return two_places(max(averages) - min(averages))


# --- the panel -----------------------------------------------------------------------------------


def assign_reviewer(
    phase: Phase, *, by: User, email: str, application: Application | None = None
) -> ReviewerAssignment:
    """Ask someone (any member, staff included) to review every application in a phase, or one."""
    _require(by, "panel.manage")
    if phase.state == PhaseState.CLOSED:
        raise RuleBroken("email", "This phase is closed, so no more reviewers can be added.")
    reviewer = find_by_email(email)
    if reviewer is None:
        raise RuleBroken(
            "email", "No one has an account with that email address. Ask them to create an account, then try again."
        )
    if not reviewer.is_active:
        raise RuleBroken("email", f"{reviewer.name}'s account is closed, so they cannot review.")
    if application is not None:
        if application.phase_id != phase.id:
            raise NotAllowed("That application is in another phase.")
        if access.on_application_team(reviewer, application):
            raise RuleBroken("email", f"{reviewer.name} is on this application's team, so cannot review it.")
    existing = (
        db.session.execute(
            sa.select(ReviewerAssignment.application_id).where(
                ReviewerAssignment.phase_id == phase.id, ReviewerAssignment.reviewer_id == reviewer.id
            )
        )
        .scalars()
        .all()
    )
    if None in existing:
        raise RuleBroken("email", f"{reviewer.name} already reviews every application in this phase.")
    if application is not None and application.id in existing:
        raise RuleBroken("email", f"{reviewer.name} is already reviewing this application.")
    assignment = ReviewerAssignment(
        phase_id=phase.id,
        application_id=application.id if application else None,
        reviewer=reviewer,
        assigned_by_id=by.id,
    )
    db.session.add(assignment)
    db.session.flush()
    audit.record(
        "panel.assigned",
        assignment,
        actor=by,
        after={"phase": phase.id, "application": assignment.application_id, "reviewer": reviewer.id},
    )
    what = f'the application "{application.title}"' if application else "the applications"
    outbox.enqueue(
        "panel_assigned",
        reviewer.email,
        f"Please review applications to {phase.name}",
        f"Hello {reviewer.name},\n\nThank you for joining the panel for {phase.name}. You have been asked "
        f'to review {what}.\n\nSign in and open "Your reviews" to read and score them. If you know '
        "an applicant, or anything else could make your review unfair, declare a conflict of interest "
        "there instead.\n",
    )
    return assignment


def remove_assignment(assignment: ReviewerAssignment, *, by: User) -> None:
    _require(by, "panel.manage")
    audit.record(
        "panel.unassigned",
        assignment,
        actor=by,
        before={
            "phase": assignment.phase_id,
            "application": assignment.application_id,
            "reviewer": assignment.reviewer_id,
        },
    )
    db.session.delete(assignment)


def assignments_query(phase_id: int) -> sa.Select[ReviewerAssignment]:
    return (
        sa.select(ReviewerAssignment)
        .where(ReviewerAssignment.phase_id == phase_id)
        .join(User, User.id == ReviewerAssignment.reviewer_id)
        .options(joinedload(ReviewerAssignment.reviewer))
        .order_by(User.name, ReviewerAssignment.id)
    )


def application_titles(application_ids: Iterable[int | None]) -> dict[int, str]:
    ids = sorted({i for i in application_ids if i is not None})
    if not ids:
        return {}
    return dict(db.session.execute(sa.select(Application.id, Application.title).where(Application.id.in_(ids))).all())


# --- one reviewer's review ---------------------------------------------------------------------------


def review_of(application_id: int, reviewer_id: int) -> Review | None:
    return db.session.scalar(
        sa.select(Review).where(Review.application_id == application_id, Review.reviewer_id == reviewer_id)
    )


def scores_of(review: Review | None) -> dict[int, Score]:
    if review is None or review.id is None:
        return {}
    return {
        score.criterion_id: score for score in db.session.scalars(sa.select(Score).where(Score.review_id == review.id))
    }


def _open_review(application: Application, by: User) -> Review:
    """The reviewer's draft, started if need be; refused once it has been sent."""
    _require(by, "application.review", application)
    review = review_of(application.id, by.id)
    if review is None:
        review = Review(
            application_id=application.id, reviewer_id=by.id, state=ReviewState.DRAFT, comment="", conflict_reason=""
        )
        db.session.add(review)
        db.session.flush()
    if review.state != ReviewState.DRAFT:
        raise RuleBroken("state", "You have already sent this review, so it cannot change now.")
    return review


def _score_problem(criterion: Criterion, score: int | None, comment: str) -> RuleBroken | None:
    if score is not None and score not in SCORES:
        return RuleBroken(f"score_{criterion.id}", f"Score \u201c{criterion.name}\u201d from 1 to 5.")
    if score is None and comment.strip():
        return RuleBroken(
            f"score_{criterion.id}", f"Choose a score for \u201c{criterion.name}\u201d to save your comment."
        )
    if len(comment.strip()) > COMMENT_LENGTH:
        return RuleBroken(f"comment_{criterion.id}", f"Keep this comment to {COMMENT_LENGTH:,} characters or fewer.")
    return None


def _set_score(
    review: Review, criterion: Criterion, existing: Score | None, score: int | None, comment: str
) -> Score | None:
    if score is None:
        if existing is not None:
            db.session.delete(existing)
        return None
    row = existing or Score(review_id=review.id, criterion_id=criterion.id)
    row.score = score
    row.comment = comment.strip()
    db.session.add(row)
    return row


def _criterion_of(application: Application, criterion: Criterion) -> None:
    if criterion.phase_id != application.phase_id:
        raise NotAllowed("That criterion belongs to another phase.")


def save_score(
    application: Application, criterion: Criterion, *, by: User, score: int | None, comment: str
) -> Score | None:
    """Save one criterion's score and comment (empty score and comment clears it)."""
    _criterion_of(application, criterion)
    review = _open_review(application, by)
    problem = _score_problem(criterion, score, comment)
    if problem:
        raise problem
    saved = _set_score(review, criterion, scores_of(review).get(criterion.id), score, comment)
    db.session.flush()
    return saved


def save_review(
    application: Application,
    *,
    by: User,
    scores: dict[int, tuple[int | None, str]],
    recommendation: Recommendation | None,
    comment: str,
) -> Review:
    """Save the whole review as a draft: every criterion's score and comment, the recommendation
    and the overall comment. Nothing is saved if any part is wrong."""
    review = _open_review(application, by)
    criteria = criteria_of(application.phase_id)
    problems = [
        problem
        for criterion in criteria
        if (problem := _score_problem(criterion, *scores.get(criterion.id, (None, "")))) is not None
    ]
    if len(comment.strip()) > COMMENT_LENGTH:
        problems.append(RuleBroken("comment", f"Keep your overall comment to {COMMENT_LENGTH:,} characters or fewer."))
    if problems:
        raise RulesBroken(problems)
    existing = scores_of(review)
    for criterion in criteria:
        score, text = scores.get(criterion.id, (None, ""))
        _set_score(review, criterion, existing.get(criterion.id), score, text)
    review.recommendation = recommendation
    review.comment = comment.strip()
    db.session.flush()
    return review


def submission_problems(review: Review, criteria: list[Criterion]) -> list[RuleBroken]:
    scored = scores_of(review)
    problems = [
        RuleBroken(f"score_{c.id}", f"Score \u201c{c.name}\u201d from 1 to 5.") for c in criteria if c.id not in scored
    ]
    if review.recommendation is None:
        problems.append(RuleBroken("recommendation", "Choose your recommendation: fund, maybe or do not fund."))
    return problems


def submit_review(application: Application, *, by: User, now: datetime, today: date) -> Any:
    """Send the review: every criterion scored and a recommendation chosen.

    Reviewers who are not staff are paid for their time: a draft payment claim for one unit of
    "Panel review" is made for them (returned; None when there is no rate). Staff review as part
    of their paid job, so no claim is made for them.
    """
    review = _open_review(application, by)
    phase = db.session.get_one(Phase, application.phase_id)
    if phase.reviews_close_on is not None and today > phase.reviews_close_on:
        raise RuleBroken(
            "review",
            f"Reviews for {phase.name} closed on {local_date(phase.reviews_close_on)}, so this one can no "
            "longer be sent. Your draft is kept; ask the programme team if you still want it considered.",
        )
    problems = submission_problems(review, criteria_of(application.phase_id))
    if problems:
        raise RulesBroken(problems)
    review.state = ReviewState.SUBMITTED
    review.submitted_at = now
    audit.record(
        "review.submitted",
        review,
        actor=by,
        before={"state": "draft"},
        after={
            "state": "submitted",
            "application": application.id,
            "recommendation": review.recommendation.value if review.recommendation else None,
        },
    )
    if permissions.is_staff(by):
        return None
    return _draft_payment_claim(by, application, today)


def _draft_payment_claim(reviewer: User, application: Application, today: date) -> Any:
    # Imported here: remuneration imports grants' models, so importing it at the top would be circular.

    try:
        return draft_claim_for_activity(
            reviewer,
            activity_name=PANEL_REVIEW_ACTIVITY,
            activity_date=today,
            units=Decimal("1"),
            notes=f"Panel review of application {application.id}",
        )
    except RuleBroken:
        return None  # the activity is not in use: the reviewer can still claim by hand


def declare_conflict(application: Application, *, by: User, reason: str, now: datetime) -> Review:
    """The reviewer steps away from this application: their scores are dropped and they see
    nothing more of it (``access.may_review`` is False from now on)."""
    _require(by, "application.review", application)
    reason = reason.strip()
    if not reason:
        raise RuleBroken("reason", "Say briefly why, for example \u201cI know the lead applicant\u201d.")
    if len(reason) > COMMENT_LENGTH:
        raise RuleBroken("reason", f"Keep this to {COMMENT_LENGTH:,} characters or fewer.")
    review = review_of(application.id, by.id)
    if review is None:
        review = Review(application_id=application.id, reviewer_id=by.id, comment="")
        db.session.add(review)
    before = review.state.value if review.state else None
    for score in scores_of(review).values():
        db.session.delete(score)
    review.state = ReviewState.CONFLICT
    review.conflict_reason = reason
    review.recommendation = None
    review.comment = ""
    review.submitted_at = now
    db.session.flush()
    audit.record(
        "review.conflict_declared",
        review,
        actor=by,
        before={"state": before},
        after={"state": "conflict", "application": application.id},
        note=reason,
    )
    return review


# --- what others see ----------------------------------------------------------------------------------


@dataclass
class SubmittedReview:
    review: Review
    scores: dict[int, Score]
    average: Decimal | None


def reviews_for(
    application: Application, *, states: tuple[ReviewState, ...] = (ReviewState.SUBMITTED,)
) -> list[SubmittedReview]:
    """The application's reviews in these states with their scores (two queries)."""
    reviews = list(
        db.session.scalars(
            sa.select(Review)
            .where(Review.application_id == application.id, Review.state.in_(states))
            .options(joinedload(Review.reviewer))
            .order_by(Review.submitted_at, Review.id)
        )
    )
    by_review: dict[int, dict[int, Score]] = defaultdict(dict)
    if reviews:
        for score in db.session.scalars(sa.select(Score).where(Score.review_id.in_([r.id for r in reviews]))):
            by_review[score.review_id][score.criterion_id] = score
    weights = dict(
        db.session.execute(
            sa.select(Criterion.id, Criterion.weight).where(Criterion.phase_id == application.phase_id)
        ).all()
    )
    made = []
    for review in reviews:
        scores = by_review[review.id]
        sums = (sum(s.score * weights.get(c, 0) for c, s in scores.items()), sum(weights.get(c, 0) for c in scores))
        made.append(SubmittedReview(review, scores, weighted_average([sums])))
    return made


# --- the staff's side-by-side list ------------------------------------------------------------------------


@dataclass
class PanelSummary:
    requested_pence: int = 0
    assigned: int = 0
    submitted: int = 0
    conflicts: int = 0
    average: Decimal | None = None
    spread: Decimal | None = None
    recommendations: dict[Recommendation, int] = field(default_factory=lambda: dict.fromkeys(Recommendation, 0))


SORTS = {"average": "Weighted average, highest first", "title": "Title, A to Z"}


def _average_by_application(phase_id: int) -> sa.Subquery:
    """Each application's mean weighted average, for sorting in SQL (the page shows exact figures)."""
    per_review = (
        sa.select(
            Review.application_id.label("application_id"),
            (sa.cast(sa.func.sum(Score.score * Criterion.weight), sa.Float) / sa.func.sum(Criterion.weight)).label(
                "average"
            ),
        )
        .join(Score, Score.review_id == Review.id)
        .join(Criterion, Criterion.id == Score.criterion_id)
        .join(Application, Application.id == Review.application_id)
        .where(Review.state == ReviewState.SUBMITTED, Application.phase_id == phase_id)
        .group_by(Review.id, Review.application_id)
        .subquery()
    )
    return (
        sa.select(per_review.c.application_id, sa.func.avg(per_review.c.average).label("average"))
        .group_by(per_review.c.application_id)
        .subquery()
    )


def panel_applications_query(
    phase_id: int, *, state: ApplicationState | None = None, sort: str = "average"
) -> sa.Select[Application]:
    """Every application of the phase the panel can see (not drafts), filtered and sorted."""
    query = (
        sa.select(Application)
        .where(Application.phase_id == phase_id, Application.state != ApplicationState.DRAFT)
        .options(joinedload(Application.lead))
    )
    if state is not None:
        query = query.where(Application.state == state)
    if sort == "title":
        return query.order_by(sa.func.lower(Application.title), Application.id)
    averages = _average_by_application(phase_id)
    return query.outerjoin(averages, averages.c.application_id == Application.id).order_by(
        averages.c.average.desc().nulls_last(), sa.func.lower(Application.title), Application.id
    )


def panel_summaries(phase_id: int, applications: list[Application]) -> dict[int, PanelSummary]:
    """The panel's figures for a page of applications, in a fixed number of queries."""
    ids = [application.id for application in applications]
    summaries = {application_id: PanelSummary() for application_id in ids}
    if not ids:
        return summaries
    for application_id, total in requested_totals(ids).items():
        summaries[application_id].requested_pence = total

    sums: dict[int, list[tuple[int, int]]] = defaultdict(list)
    conflicted: dict[int, set[int]] = defaultdict(set)
    sent: dict[int, set[int]] = defaultdict(set)
    for application_id, reviewer_id, state, recommendation, weighted, weights in db.session.execute(
        sa.select(
            Review.application_id,
            Review.reviewer_id,
            Review.state,
            Review.recommendation,
            sa.func.coalesce(sa.func.sum(Score.score * Criterion.weight), 0),
            sa.func.coalesce(sa.func.sum(Criterion.weight), 0),
        )
        .outerjoin(Score, Score.review_id == Review.id)
        .outerjoin(Criterion, Criterion.id == Score.criterion_id)
        .where(Review.application_id.in_(ids))
        .group_by(Review.id, Review.application_id, Review.reviewer_id, Review.state, Review.recommendation)
    ):
        summary = summaries[application_id]
        if state == ReviewState.CONFLICT:
            summary.conflicts += 1
            conflicted[application_id].add(reviewer_id)
        elif state == ReviewState.SUBMITTED:
            summary.submitted += 1
            sent[application_id].add(reviewer_id)
            sums[application_id].append((int(weighted), int(weights)))
            if recommendation is not None:
                summary.recommendations[Recommendation(recommendation)] += 1
    for application_id, pairs in sums.items():
        summaries[application_id].average = weighted_average(pairs)
        summaries[application_id].spread = spread(pairs)

    whole_phase, single = set(), defaultdict(set)
    for reviewer_id, assigned_id in db.session.execute(
        sa.select(ReviewerAssignment.reviewer_id, ReviewerAssignment.application_id).where(
            ReviewerAssignment.phase_id == phase_id
        )
    ):
        (whole_phase.add(reviewer_id) if assigned_id is None else single[assigned_id].add(reviewer_id))
    teams: dict[int, set[int]] = defaultdict(set)
    for application_id, user_id in db.session.execute(
        sa.select(ApplicationMember.application_id, ApplicationMember.user_id).where(
            ApplicationMember.application_id.in_(ids)
        )
    ):
        teams[application_id].add(user_id)
    for application in applications:
        # Who is expected to send a review: assigned, not on the team and not conflicted (plus anyone
        # who already sent one and has since been taken off the panel: their review still counts).
        team = teams[application.id] | {application.lead_id}
        expected = (whole_phase | single[application.id]) - team - conflicted[application.id]
        summaries[application.id].assigned = len(expected | sent[application.id])
    return summaries


# --- a reviewer's list ----------------------------------------------------------------------------------


def _assigned_to(user_id: int) -> sa.ColumnElement[bool]:
    return sa.exists().where(
        ReviewerAssignment.reviewer_id == user_id,
        ReviewerAssignment.phase_id == Application.phase_id,
        sa.or_(ReviewerAssignment.application_id.is_(None), ReviewerAssignment.application_id == Application.id),
    )


def _on_team(user_id: int) -> sa.ColumnElement[bool]:
    return sa.or_(
        Application.lead_id == user_id,
        sa.exists().where(ApplicationMember.application_id == Application.id, ApplicationMember.user_id == user_id),
    )


def assigned_applications_query(user: User) -> sa.Select[Application]:
    """What this person has been asked to review (never their own team's), newest phase first."""
    return (
        sa.select(Application)
        .where(_assigned_to(user.id), sa.not_(_on_team(user.id)), Application.state.in_(REVIEWER_VISIBLE_STATES))
        .options(joinedload(Application.phase))
        .order_by(Application.phase_id.desc(), sa.func.lower(Application.title), Application.id)
    )


def still_to_score_count(user: User) -> int:
    finished = sa.exists().where(
        Review.application_id == Application.id,
        Review.reviewer_id == user.id,
        Review.state.in_((ReviewState.SUBMITTED, ReviewState.CONFLICT)),
    )
    return (
        db.session.scalar(
            sa.select(sa.func.count())
            .select_from(Application)
            .where(
                _assigned_to(user.id),
                sa.not_(_on_team(user.id)),
                Application.state.in_(REVIEWABLE_STATES),
                sa.not_(finished),
            )
        )
        or 0
    )


def review_deadlines_query(user_id: int, *, since: date) -> sa.Select[Phase]:
    """Phases whose panel deadline is on or after ``since`` where this person still has an
    assigned application to review (for their calendar), deadline first."""
    finished = sa.exists().where(
        Review.application_id == Application.id,
        Review.reviewer_id == user_id,
        Review.state.in_((ReviewState.SUBMITTED, ReviewState.CONFLICT)),
    )
    outstanding = sa.exists().where(
        Application.phase_id == Phase.id,
        _assigned_to(user_id),
        sa.not_(_on_team(user_id)),
        Application.state.in_(REVIEWABLE_STATES),
        sa.not_(finished),
    )
    return (
        sa.select(Phase)
        .where(Phase.reviews_close_on.is_not(None), Phase.reviews_close_on >= since, outstanding)
        .order_by(Phase.reviews_close_on, Phase.id)
    )


@dataclass
class ReviewProgress:
    criteria: int
    state: ReviewState | None = None
    scored: int = 0
    has_recommendation: bool = False

    @property
    def finished(self) -> bool:
        return self.state in (ReviewState.SUBMITTED, ReviewState.CONFLICT)

    @property
    def to_do(self) -> str:
        """What is left, in words."""
        if self.state == ReviewState.SUBMITTED:
            return "Nothing: your review is sent"
        if self.state == ReviewState.CONFLICT:
            return "Nothing: you declared a conflict of interest"
        left = self.criteria - self.scored
        parts = []
        if left:
            parts.append(f"{left} of {self.criteria} {'criterion' if self.criteria == 1 else 'criteria'} to score")
        if not self.has_recommendation:
            parts.append("your recommendation")
        return " and ".join(parts).capitalize() if parts else "Ready to send"


def reviewer_progress(user: User, applications: list[Application]) -> dict[int, ReviewProgress]:
    """For a page of applications, how far this reviewer has got with each (two queries)."""
    if not applications:
        return {}
    phase_ids = sorted({a.phase_id for a in applications})
    criteria = dict(
        db.session.execute(
            sa.select(Criterion.phase_id, sa.func.count())
            .where(Criterion.phase_id.in_(phase_ids))
            .group_by(Criterion.phase_id)
        ).all()
    )
    progress = {a.id: ReviewProgress(criteria=int(criteria.get(a.phase_id, 0))) for a in applications}
    for application_id, state, recommendation, scored in db.session.execute(
        sa.select(Review.application_id, Review.state, Review.recommendation, sa.func.count(Score.id))
        .outerjoin(Score, Score.review_id == Review.id)
        .where(Review.reviewer_id == user.id, Review.application_id.in_(list(progress)))
        .group_by(Review.id, Review.application_id, Review.state, Review.recommendation)
    ):
        item = progress[application_id]
        item.state, item.scored, item.has_recommendation = ReviewState(state), int(scored), recommendation is not None
    return progress

"""CSV exports for staff: applications with scores and decisions, projects with money and reports.

Each export is one query streamed ``yield_per`` rows at a time, so 10,000 rows never sit in
memory at once and the download starts at once. Amounts are pounds with two decimals and no
£ sign or thousands separator, so spreadsheets read them as numbers.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction

import sqlalchemy as sa

from portal.accounts.models import User
from portal.core.csv_export import text_cell
from portal.core.extensions import db
from portal.grants.dashboards import figure_columns, figures_from_row
from portal.grants.models import (
    Application,
    ApplicationState,
    BudgetLine,
    Criterion,
    Decision,
    Outcome,
    Phase,
    Recommendation,
    Review,
    ReviewState,
    Score,
)
from portal.teams.models import Project, ProjectState

BATCH = 500
OUTCOME_LABELS = {Outcome.AWARD: "Awarded", Outcome.DECLINE: "Declined"}

APPLICATION_HEADER = [
    "Application ID",
    "Title",
    "Phase",
    "Lead",
    "State",
    "Requested (£)",
    "Reviews submitted",
    "Weighted average score",
    "Recommend fund",
    "Recommend maybe",
    "Recommend do not fund",
    "Decision",
    "Amount awarded (£)",
]
PROJECT_HEADER = [
    "Project ID",
    "Title",
    "Phase",
    "State",
    "Start",
    "End",
    "Award (£)",
    "Spent (£)",
    "Remaining (£)",
    "Reports due",
    "Reports overdue",
    "Reports waiting for a decision",
    "Reports accepted",
    "Latest status",
]


def pounds(pence: int | None) -> str:
    """150.00 for 15000 pence; empty when there is no amount."""
    if pence is None:
        return ""
    sign = "-" if pence < 0 else ""
    whole, part = divmod(abs(pence), 100)
    return f"{sign}{whole}.{part:02d}"


def weighted_average(pairs: list[tuple[int, int]]) -> Decimal | None:
    """Each review's Σ(score × weight) / Σ(weight), averaged over the reviews; exact, then
    rounded half up to two decimals. ``pairs`` holds (Σ score × weight, Σ weight) per review."""
    reviews = [Fraction(weighted, weights) for weighted, weights in pairs if weights]
    if not reviews:
        return None
    mean = sum(reviews, Fraction(0)) / len(reviews)
    return (Decimal(mean.numerator) / Decimal(mean.denominator)).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


def _parse_pairs(text: str | None) -> list[tuple[int, int]]:
    pairs = []
    for item in (text or "").split(";"):
        if item:
            weighted, _, weights = item.partition("/")
            pairs.append((int(weighted), int(weights)))
    return pairs


def _per_review_sums() -> sa.Subquery:
    """For each application, its submitted reviews' (Σ score × weight / Σ weight) as "a/b;c/d"."""
    per_review = (
        sa.select(
            Review.application_id.label("application_id"),
            sa.func.sum(Score.score * Criterion.weight).label("weighted"),
            sa.func.sum(Criterion.weight).label("weights"),
        )
        .join(Score, Score.review_id == Review.id)
        .join(Criterion, Criterion.id == Score.criterion_id)
        .where(Review.state == ReviewState.SUBMITTED)
        .group_by(Review.id, Review.application_id)
        .subquery()
    )
    pair = sa.cast(per_review.c.weighted, sa.String) + sa.literal("/") + sa.cast(per_review.c.weights, sa.String)
    return (
        sa.select(per_review.c.application_id, sa.func.aggregate_strings(pair, ";").label("pairs"))
        .group_by(per_review.c.application_id)
        .subquery()
    )


def _review_counts() -> sa.Subquery:
    def count_of(recommendation: Recommendation) -> sa.ColumnElement[int]:
        return sa.func.sum(sa.case((Review.recommendation == recommendation, 1), else_=0))

    return (
        sa.select(
            Review.application_id.label("application_id"),
            sa.func.count(Review.id).label("reviews"),
            count_of(Recommendation.FUND).label("fund"),
            count_of(Recommendation.MAYBE).label("maybe"),
            count_of(Recommendation.DO_NOT_FUND).label("do_not_fund"),
        )
        .where(Review.state == ReviewState.SUBMITTED)
        .group_by(Review.application_id)
        .subquery()
    )


def application_rows() -> Iterator[list[str]]:
    requested = (
        sa.select(sa.func.coalesce(sa.func.sum(BudgetLine.amount_pence), 0))
        .where(BudgetLine.application_id == Application.id)
        .correlate(Application)
        .scalar_subquery()
    )
    counts, sums = _review_counts(), _per_review_sums()
    query = (
        sa.select(
            Application.id,
            Application.title,
            Phase.name,
            User.name,
            Application.state,
            requested,
            counts.c.reviews,
            counts.c.fund,
            counts.c.maybe,
            counts.c.do_not_fund,
            sums.c.pairs,
            Decision.outcome,
            Decision.amount_pence,
        )
        .join(Phase, Phase.id == Application.phase_id)
        .join(User, User.id == Application.lead_id)
        .outerjoin(counts, counts.c.application_id == Application.id)
        .outerjoin(sums, sums.c.application_id == Application.id)
        .outerjoin(Decision, Decision.application_id == Application.id)
        .order_by(Application.id)
        .execution_options(yield_per=BATCH)
    )
    for (
        app_id,
        title,
        phase,
        lead,
        state,
        requested_pence,
        reviews,
        fund,
        maybe,
        do_not_fund,
        pairs,
        outcome,
        amount,
    ) in db.session.execute(query):
        average = weighted_average(_parse_pairs(pairs))
        yield [
            str(app_id),
            text_cell(title),
            text_cell(phase),
            text_cell(lead),
            ApplicationState(state).label,
            pounds(int(requested_pence or 0)),
            str(reviews or 0),
            "" if average is None else str(average),
            str(fund or 0),
            str(maybe or 0),
            str(do_not_fund or 0),
            OUTCOME_LABELS[outcome] if outcome else "",
            pounds(amount),
        ]


def project_rows(today: date) -> Iterator[list[str]]:
    query = (
        sa.select(
            Project.id,
            Project.title,
            Phase.name.label("phase_name"),
            Project.state,
            Project.start_date,
            Project.end_date,
            Project.award_pence,
            *figure_columns(today),
        )
        .outerjoin(Phase, Phase.id == Project.phase_id)
        .order_by(Project.id)
        .execution_options(yield_per=BATCH)
    )
    for row in db.session.execute(query):
        figures = figures_from_row(row)
        yield [
            str(row.id),
            text_cell(row.title),
            text_cell(row.phase_name or ""),
            "Closed" if row.state == ProjectState.CLOSED else "Running",
            row.start_date.isoformat() if row.start_date else "",
            row.end_date.isoformat() if row.end_date else "",
            pounds(row.award_pence),
            pounds(figures.spent_pence),
            pounds(figures.remaining_pence),
            str(figures.reports_due),
            str(figures.reports_overdue),
            str(figures.reports_submitted),
            str(figures.reports_accepted),
            figures.latest_status.label if figures.latest_status else "",
        ]

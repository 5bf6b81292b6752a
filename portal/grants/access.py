"""Who is on an application's team, and who may review it: the facts permissions ask about."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from portal.core.extensions import db
from portal.grants.models import Application, ApplicationMember, Review, ReviewerAssignment, ReviewState
from portal.teams.models import TeamRole


def _signed_in(user: Any) -> bool:
    return bool(user is not None and user.is_authenticated and user.is_active)


def leads_application(user: Any, application: Application | None) -> bool:
    """The lead applicant, or anyone else the team made a lead."""
    if not _signed_in(user) or application is None:
        return False
    if application.lead_id == user.id:
        return True
    return (
        db.session.scalar(
            sa.select(ApplicationMember.id).where(
                ApplicationMember.application_id == application.id,
                ApplicationMember.user_id == user.id,
                ApplicationMember.role == TeamRole.LEAD,
            )
        )
        is not None
    )


def on_application_team(user: Any, application: Application | None) -> bool:
    if not _signed_in(user) or application is None:
        return False
    if application.lead_id == user.id:
        return True
    return (
        db.session.scalar(
            sa.select(ApplicationMember.id).where(
                ApplicationMember.application_id == application.id, ApplicationMember.user_id == user.id
            )
        )
        is not None
    )


def is_assigned(user: Any, application: Application) -> bool:
    return (
        db.session.scalar(
            sa.select(ReviewerAssignment.id)
            .where(
                ReviewerAssignment.reviewer_id == user.id,
                ReviewerAssignment.phase_id == application.phase_id,
                sa.or_(
                    ReviewerAssignment.application_id.is_(None), ReviewerAssignment.application_id == application.id
                ),
            )
            .limit(1)
        )
        is not None
    )


def review_state(user: Any, application: Application) -> ReviewState | None:
    return db.session.scalar(
        sa.select(Review.state).where(Review.application_id == application.id, Review.reviewer_id == user.id)
    )


def may_review(user: Any, application: Application | None) -> bool:
    """Assigned, not on the applying team, and no conflict of interest declared."""
    if not _signed_in(user) or application is None or on_application_team(user, application):
        return False
    return is_assigned(user, application) and review_state(user, application) != ReviewState.CONFLICT


def has_submitted_review(user: Any, application: Application | None) -> bool:
    return (
        _signed_in(user)
        and application is not None
        and review_state(user, application) == ReviewState.SUBMITTED
        and may_review(user, application)
    )

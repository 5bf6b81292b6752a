"""Consent: demographics stored only with consent recorded (when, and by whom), erased when it
is withdrawn; and the story consent record (scope, anonymity, how consent was given)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

import sqlalchemy as sa

from portal.accounts.models import User
from portal.core import audit
from portal.core.db import utcnow
from portal.core.errors import RuleBroken
from portal.core.extensions import db
from portal.stories.models import (
    LIVED_EXPERIENCE_AREAS,
    PREFER_NOT_TO_SAY,
    ROLES,
    SECTORS,
    YES_NO,
    ConsentMethod,
    Demographics,
    Storyteller,
)

OLDEST_AGE = 120


@dataclass
class DemographicAnswers:
    roles: list[str] = field(default_factory=list)
    sectors: list[str] = field(default_factory=list)
    lived_experience_areas: list[str] = field(default_factory=list)
    gender: str = ""
    lgbtqia: str = ""
    disability: str = ""
    ethnicity: str = ""
    age: int | None = None
    age_prefer_not_to_say: bool = False


def _check_list(values: list[str], allowed: dict[str, str], field_name: str, what: str) -> list[str]:
    unknown = [value for value in values if value not in allowed and value != PREFER_NOT_TO_SAY]
    if unknown:
        raise RuleBroken(field_name, f"Choose {what} from the list.")
    if PREFER_NOT_TO_SAY in values and len(values) > 1:
        raise RuleBroken(field_name, f"Choose “Prefer not to say” or {what}, not both.")
    if PREFER_NOT_TO_SAY in values:
        return [PREFER_NOT_TO_SAY]
    return [key for key in allowed if key in values]


def check(answers: DemographicAnswers) -> DemographicAnswers:
    answers.roles = _check_list(answers.roles, ROLES, "roles", "roles")
    answers.sectors = _check_list(answers.sectors, SECTORS, "sectors", "sectors")
    answers.lived_experience_areas = _check_list(
        answers.lived_experience_areas, LIVED_EXPERIENCE_AREAS, "lived_experience_areas", "areas"
    )
    for name in ("lgbtqia", "disability"):
        if getattr(answers, name) not in ("", PREFER_NOT_TO_SAY, *YES_NO):
            raise RuleBroken(name, "Choose yes, no or prefer not to say.")
    answers.gender = answers.gender.strip()[:60]
    answers.ethnicity = answers.ethnicity.strip()[:120]
    if answers.age is not None and not 0 < answers.age <= OLDEST_AGE:
        raise RuleBroken("age", f"Enter an age in whole years between 1 and {OLDEST_AGE}, or leave it blank.")
    if answers.age_prefer_not_to_say:
        answers.age = None
    return answers


def record_demographics(
    storyteller: Storyteller,
    answers: DemographicAnswers,
    *,
    by: User,
    method: ConsentMethod | None,
    consent_at: datetime | None = None,
) -> Demographics:
    """Store demographics with the consent that allows it (when, by whom, how); replaces any earlier answers.

    ``method`` is how the consent was given; it is needed when answers are first stored, and
    answers stored later under the same consent keep the method recorded then.
    """
    check(answers)
    row = db.session.scalar(sa.select(Demographics).where(Demographics.storyteller_id == storyteller.id))
    first = row is None
    if row is None:
        if method is None:
            raise RuleBroken(
                "demographics_consent_method", "Say how the storyteller gave their consent to store these answers."
            )
        row = Demographics(
            storyteller_id=storyteller.id,
            consent_at=consent_at or utcnow(),
            consent_recorded_by_id=by.id,
            consent_method=method,
        )
        db.session.add(row)
    for name, value in vars(answers).items():
        setattr(row, name, value)
    storyteller.demographics_withdrawn_at = None
    storyteller.demographics_withdrawn_by_id = None
    if first:
        # What was consented to and by whom, never the answers themselves.
        audit.record(
            "storyteller.demographics_consent",
            storyteller,
            actor=by,
            after={"consent_at": row.consent_at.isoformat(), "consent_method": str(method)},
        )
    return row


def withdraw_demographics(storyteller: Storyteller, *, by: User) -> None:
    """Erase every demographic answer now; keep only when consent was withdrawn and by whom."""
    row = db.session.scalar(sa.select(Demographics).where(Demographics.storyteller_id == storyteller.id))
    if row is None:
        raise RuleBroken("demographics", "There are no demographic answers stored for this storyteller.")
    db.session.delete(row)
    storyteller.demographics_withdrawn_at = utcnow()
    storyteller.demographics_withdrawn_by_id = by.id
    audit.record("storyteller.demographics_withdrawn", storyteller, actor=by)


def has_demographics(storyteller: Storyteller) -> bool:
    return (
        db.session.scalar(sa.select(Demographics.id).where(Demographics.storyteller_id == storyteller.id)) is not None
    )

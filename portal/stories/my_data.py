"""What stories hold about a person (through the storyteller record linked to their account):
the record, its demographics and every story; and how "Erase me" erases them: each story is
withdrawn as the storyteller would withdraw it (``withdrawal.withdraw``), the demographics are
deleted, and the storyteller record keeps only the reference, as a tombstone for the withdrawals."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import selectinload

from portal.accounts.models import User
from portal.core import audit
from portal.core.db import utcnow
from portal.core.extensions import db
from portal.core.my_data import Row, StoredFile, register_eraser, register_export
from portal.stories import media, withdrawal
from portal.stories.models import Demographics, Story, StoryState, Storyteller


def _storyteller(person: User) -> Storyteller | None:
    return db.session.scalar(
        sa.select(Storyteller).options(selectinload(Storyteller.demographics)).where(Storyteller.user_id == person.id)
    )


@register_export("storyteller", "your storyteller record: the name and pseudonym your stories are told under")
def storyteller(person: User) -> list[Row]:
    teller = _storyteller(person)
    if teller is None:
        return []
    return [
        {
            "id": teller.id,
            "display_name": teller.display_name,
            "pseudonym": teller.pseudonym,
            "email": teller.email,
            "project_id": teller.project_id,
            "created_at": teller.created_at,
            "demographics_withdrawn_at": teller.demographics_withdrawn_at,
        }
    ]


@register_export("demographics", "the demographic answers you gave, and when you consented to our keeping them")
def demographics(person: User) -> list[Row]:
    teller = _storyteller(person)
    found = teller.demographics if teller is not None else None
    if found is None:
        return []
    return [
        {
            "consent_at": found.consent_at,
            "roles": found.roles,
            "sectors": found.sectors,
            "lived_experience_areas": found.lived_experience_areas,
            "gender": found.gender,
            "lgbtqia": found.lgbtqia,
            "disability": found.disability,
            "ethnicity": found.ethnicity,
            "age": found.age,
            "age_prefer_not_to_say": found.age_prefer_not_to_say,
        }
    ]


@register_export("stories", "your stories: their words, consent, and where they are in moderation")
def stories(person: User) -> list[Row]:
    found = db.session.scalars(
        sa.select(Story)
        .join(Storyteller, Story.storyteller_id == Storyteller.id)
        .options(selectinload(Story.tags))
        .where(Storyteller.user_id == person.id)
        .order_by(Story.id)
    )
    return [
        {
            "id": s.id,
            "state": s.state,
            "title": s.title,
            "summary": s.summary,
            "body": s.body,
            "transcript": s.transcript,
            "as_you_wrote_it": {"title": s.original_title, "summary": s.original_summary, "body": s.original_body}
            if s.edited_by_staff
            else None,
            "media_kind": s.media_kind,
            "media_link": s.media_link,
            "themes": s.themes,
            "values": s.values,
            "project_id": s.project_id,
            "scope": s.scope,
            "anonymous": s.anonymous,
            "consent_method": s.consent_method,
            "consent_given_on": s.consent_given_on,
            "note_to_you": s.moderation_note,
            "created_at": s.created_at,
            "submitted_at": s.submitted_at,
            "published_at": s.published_at,
            "withdrawn_at": s.withdrawn_at,
        }
        for s in found
    ]


@register_eraser("stories", order=10)
def erase_stories(person: User, reference: str) -> list[StoredFile]:
    teller = _storyteller(person)
    if teller is None:
        return []
    files: list[StoredFile] = []
    told = db.session.scalars(
        sa.select(Story)
        .options(selectinload(Story.tags))
        .where(Story.storyteller_id == teller.id, Story.state != StoryState.WITHDRAWN)
    ).all()
    for story in told:
        stored = withdrawal.withdraw(story, by=person)
        if stored:
            files.append((media.KIND, stored))
    words = [teller.display_name, teller.pseudonym, teller.email]
    if teller.demographics is not None:
        db.session.execute(sa.delete(Demographics).where(Demographics.storyteller_id == teller.id))
        db.session.expire(teller, ["demographics"])
        teller.demographics_withdrawn_at = utcnow()
        teller.demographics_withdrawn_by_id = person.id
    teller.display_name = reference
    teller.pseudonym = ""
    teller.email = ""
    audit.pseudonymise(person_id=person.id, words=words, reference=reference)
    return files

"""What grants hold about a person: the applications they lead or are on (the words in full for
those they lead; for the others, what they are and their place on the team) and the invitations
sent to them or by them (never the address of someone else they invited). "Erase me" keeps the
applications (a funding round's record) under the reference, and takes their address out of
every invitation sent to it."""

from __future__ import annotations

import sqlalchemy as sa

from portal.accounts.models import User
from portal.core.extensions import db
from portal.core.my_data import Row, StoredFile, register_eraser, register_export
from portal.grants.models import Application, ApplicationMember, Invitation

WORDS = ("summary", "lived_experience", "co_design", "co_decision", "co_delivery", "co_evaluation")


@register_export("applications", "the funding applications you led or were on; the words in full for those you led")
def applications(person: User) -> list[Row]:
    member_of = {
        application_id: role
        for application_id, role in db.session.execute(
            sa.select(ApplicationMember.application_id, ApplicationMember.role).where(
                ApplicationMember.user_id == person.id
            )
        )
    }
    found = db.session.scalars(
        sa.select(Application)
        .where(sa.or_(Application.lead_id == person.id, Application.id.in_(list(member_of))))
        .order_by(Application.id)
    )
    rows = []
    for application in found:
        leads = application.lead_id == person.id
        row: Row = {
            "id": application.id,
            "phase_id": application.phase_id,
            "title": application.title,
            "state": application.state,
            "your_role": "lead" if leads else member_of.get(application.id),
            "created_at": application.created_at,
            "submitted_at": application.submitted_at,
        }
        if leads:
            row.update({name: getattr(application, name) for name in WORDS})
        rows.append(row)
    return rows


@register_export("invitations", "invitations to join a team: those sent to you, and those you sent (by id only)")
def invitations(person: User) -> list[Row]:
    found = db.session.scalars(
        sa.select(Invitation)
        .where(sa.or_(Invitation.email == person.email, Invitation.invited_by_id == person.id))
        .order_by(Invitation.id)
    )
    return [
        {
            "id": i.id,
            "direction": "to you" if i.email == person.email else "from you",
            "application_id": i.application_id,
            "project_id": i.project_id,
            "state": i.state,
            "sent_at": i.created_at,
            "expires_at": i.expires_at,
            "answered_at": i.accepted_at or i.closed_at,
        }
        for i in found
    ]


@register_eraser("invitations", order=60)
def erase_invitations(person: User, reference: str) -> list[StoredFile]:
    db.session.execute(sa.update(Invitation).where(Invitation.email == person.email).values(email=reference))
    return []

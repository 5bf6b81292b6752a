"""Rules for claims, receipts, payment batches and the rate card, by claim state."""

from __future__ import annotations

from typing import Any

from portal.accounts.permissions import own_or_staff
from portal.core.extensions import db
from portal.core.permissions import is_admin, is_finance, is_staff, register, signed_in
from portal.remuneration.claims import needs_confirmation
from portal.remuneration.models import ClaimState as S
from portal.teams.access import team_role
from portal.teams.models import Project, TeamRole

EDITABLE = (S.DRAFT, S.QUERIED)
OWN_PAYMENT = "This is your own claim. Another person in the finance team must put it in a batch and mark it paid."


def own(user: Any, claim: Any) -> bool:
    return signed_in(user) and claim is not None and claim.claimant_id == user.id


def other_staff(user: Any, claim: Any) -> bool:
    return is_staff(user) and claim is not None and claim.claimant_id != user.id


def confirming_lead(user: Any, claim: Any) -> bool:
    return (
        claim is not None
        and claim.project_id is not None
        and claim.claimant_id != getattr(user, "id", None)
        and team_role(user, db.session.get(Project, claim.project_id)) == TeamRole.LEAD
        and needs_confirmation(claim)
    )


def approvable(user: Any, claim: Any) -> bool:
    if not other_staff(user, claim):
        return False
    return claim.state == S.CONFIRMED or (claim.state == S.SUBMITTED and not needs_confirmation(claim))


def queryable(user: Any, claim: Any) -> bool:
    return claim is not None and (
        (other_staff(user, claim) and claim.state in (S.SUBMITTED, S.CONFIRMED))
        or (claim.state == S.SUBMITTED and confirming_lead(user, claim))
    )


def voidable(user: Any, claim: Any) -> bool:
    return claim is not None and (
        (own(user, claim) and claim.state in (S.DRAFT, S.SUBMITTED, S.QUERIED))
        or (other_staff(user, claim) and claim.state in (S.DRAFT, S.SUBMITTED, S.CONFIRMED, S.QUERIED, S.APPROVED))
    )


register(
    {
        "claims.own": lambda user, obj: signed_in(user),
        "claims.queue": (lambda user, obj: is_staff(user), "The approval queue is for programme staff."),
        "claims.confirmations": lambda user, obj: signed_in(user),
        "claim.view": (
            lambda user, claim: own(user, claim) or is_staff(user) or confirming_lead(user, claim),
            "Only the claimant, the project's lead and programme staff can see this claim.",
        ),
        "claim.edit": (
            lambda user, claim: own(user, claim) and claim.state in EDITABLE,
            "A claim can be changed only by its claimant, while it is a draft or has a question on it.",
        ),
        "claim.submit": (
            lambda user, claim: own(user, claim) and claim.state in EDITABLE,
            "A claim can be sent only by its claimant, while it is a draft or has a question on it.",
        ),
        "claim.confirm": (
            lambda user, claim: claim is not None and claim.state == S.SUBMITTED and confirming_lead(user, claim),
            "Only the project's lead confirms a sent claim, and never their own.",
        ),
        "claim.approve": (approvable, "Claims are approved by programme staff, never their own, once confirmed."),
        "claim.query": (queryable, "Only staff (or the project's lead, before confirming) can ask about this claim."),
        "claim.reject": (
            lambda user, claim: other_staff(user, claim) and claim.state in (S.SUBMITTED, S.CONFIRMED, S.QUERIED),
            "Only programme staff can turn down a claim, never their own, before it is approved.",
        ),
        "claim.void": (voidable, "This claim can no longer be cancelled by you."),
        "receipt.download": (
            lambda user, claim: own(user, claim) or is_staff(user),
            "Only the claimant and programme staff can download a receipt.",
        ),
        "payment_preferences.view": (own_or_staff, "Only the person and programme staff can see how they are paid."),
        "payments.batches": (lambda user, obj: is_finance(user), "Payment runs are for the finance team."),
        # separation of duties: nobody pays themselves
        "claim.batch": (
            lambda user, claim: is_finance(user) and claim is not None and claim.claimant_id != user.id,
            OWN_PAYMENT,
        ),
        "claim.mark_paid": (
            lambda user, claim: is_finance(user) and claim is not None and claim.claimant_id != user.id,
            OWN_PAYMENT,
        ),
        "rates.manage": (lambda user, obj: is_admin(user), "Only an admin can change the rate card."),
    }
)

"""Every "may this user do this (to this object)" rule, in one place.

Views declare the rule they need with ``@permission_required("...")`` (or ``@public``) and ask
``require(...)`` for object-level checks; templates ask ``can(...)``. The route x role test
reads each view's declared rule, so a route without one fails the suite.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

import sqlalchemy as sa
from flask import abort
from flask_login import current_user

from portal.accounts.models import Role
from portal.extensions import db, login_manager

PUBLIC = "public"

# Each role includes the powers of the ones before it: finance is staff with the finance
# permission, and admins can do everything.
_RANK = {Role.MEMBER: 0, Role.STAFF: 1, Role.FINANCE: 2, Role.ADMIN: 3}


def signed_in(user: Any) -> bool:
    return bool(user is not None and user.is_authenticated and user.is_active)


def at_least(user: Any, role: Role) -> bool:
    return signed_in(user) and _RANK[user.role] >= _RANK[role]


def is_staff(user: Any) -> bool:
    return at_least(user, Role.STAFF)


def is_finance(user: Any) -> bool:
    return at_least(user, Role.FINANCE)


def is_admin(user: Any) -> bool:
    return at_least(user, Role.ADMIN)


def team_role(user: Any, project: Any) -> str | None:
    """The user's role on a project's team ("lead" or "member"), or None."""
    if not signed_in(user) or project is None:
        return None
    from portal.grants.models import TeamMembership  # grants builds on accounts, not the reverse

    return db.session.scalar(
        sa.select(TeamMembership.role).where(
            TeamMembership.project_id == project.id, TeamMembership.user_id == user.id
        )
    )


def _claim_rules() -> dict[str, Callable[[Any, Any], bool]]:
    # Claim states by their stored values: importing the remuneration package here would be
    # circular (its views import this module).
    class S:
        DRAFT, SUBMITTED, CONFIRMED, APPROVED = "draft", "submitted", "confirmed", "approved"
        QUERIED = "queried"

    def own(user: Any, claim: Any) -> bool:
        return signed_in(user) and claim is not None and claim.claimant_id == user.id

    def other_staff(user: Any, claim: Any) -> bool:
        return is_staff(user) and claim is not None and claim.claimant_id != user.id

    def confirming_lead(user: Any, claim: Any) -> bool:
        from portal.grants.models import Project
        from portal.remuneration.claims import needs_confirmation

        return (
            claim is not None and claim.project_id is not None and claim.claimant_id != getattr(user, "id", None)
            and team_role(user, db.session.get(Project, claim.project_id)) == "lead"
            and needs_confirmation(claim)
        )

    def approvable(user: Any, claim: Any) -> bool:
        from portal.remuneration.claims import needs_confirmation

        if not other_staff(user, claim):
            return False
        return claim.state == S.CONFIRMED or (claim.state == S.SUBMITTED and not needs_confirmation(claim))

    return {
        "claims.own": lambda user, obj: signed_in(user),
        "claims.queue": lambda user, obj: is_staff(user),
        "claims.confirmations": lambda user, obj: signed_in(user),
        "claim.view": lambda user, claim: own(user, claim) or is_staff(user) or confirming_lead(user, claim),
        "claim.edit": lambda user, claim: own(user, claim) and claim.state in (S.DRAFT, S.QUERIED),
        "claim.submit": lambda user, claim: own(user, claim) and claim.state in (S.DRAFT, S.QUERIED),
        "claim.confirm": lambda user, claim: claim is not None and claim.state == S.SUBMITTED
        and confirming_lead(user, claim),
        "claim.approve": approvable,
        "claim.query": lambda user, claim: claim is not None and (
            (other_staff(user, claim) and claim.state in (S.SUBMITTED, S.CONFIRMED))
            or (claim.state == S.SUBMITTED and confirming_lead(user, claim))
        ),
        "claim.reject": lambda user, claim: other_staff(user, claim)
        and claim.state in (S.SUBMITTED, S.CONFIRMED, S.QUERIED),
        "claim.void": lambda user, claim: claim is not None and (
            (own(user, claim) and claim.state in (S.DRAFT, S.SUBMITTED, S.QUERIED))
            or (other_staff(user, claim)
                and claim.state in (S.DRAFT, S.SUBMITTED, S.CONFIRMED, S.QUERIED, S.APPROVED))
        ),
        "receipt.download": lambda user, claim: own(user, claim) or is_staff(user),
        "payment_preferences.view": _own_or_staff,
        "payments.batches": lambda user, obj: is_finance(user),
        "rates.manage": lambda user, obj: is_admin(user),
    }


def _grant_rules() -> dict[str, Callable[[Any, Any], bool]]:
    def access() -> Any:
        from portal.grants import access as facts  # imported late: grants' views import this module

        return facts

    return {
        "phases.manage": lambda user, obj: is_staff(user),
        "panel.manage": lambda user, obj: is_staff(user),
        "grants.dashboard": lambda user, obj: is_staff(user),
        "grants.export": lambda user, obj: is_staff(user),
        "applications.start": lambda user, obj: signed_in(user),
        "reviews.mine": lambda user, obj: signed_in(user),
        "projects.mine": lambda user, obj: signed_in(user),
        "application.view": lambda user, app: signed_in(user) and app is not None and (
            is_staff(user) or access().on_application_team(user, app)
            # reviewers see an application once it is sent, never a draft
            or (app.state != "draft" and access().may_review(user, app))),
        "application.edit": lambda user, app: access().on_application_team(user, app) and app.state == "draft",
        "application.submit": lambda user, app: access().leads_application(user, app) and app.state == "draft",
        "application.invite": lambda user, app: access().leads_application(user, app)
        and app.state in ("draft", "submitted"),
        "application.withdraw": lambda user, app: access().leads_application(user, app)
        and app.state in ("draft", "submitted", "under_review"),
        "application.review": lambda user, app: access().may_review(user, app)
        and app.state in ("submitted", "under_review"),
        "application.see_all_reviews": lambda user, app: is_staff(user) or access().has_submitted_review(user, app),
        "project.view": lambda user, project: signed_in(user) and project is not None and (
            is_staff(user) or team_role(user, project) is not None),
        "project.report": lambda user, project: team_role(user, project) is not None
        and project.state == "active",
        "project.manage": lambda user, project: is_staff(user),
    }


def _gathering_and_people_rules() -> dict[str, Callable[[Any, Any], bool]]:
    def leads_a_project(user: Any) -> bool:
        from portal.grants.models import TeamMembership  # imported late, like the other domains

        return signed_in(user) and db.session.scalar(sa.select(TeamMembership.id).where(
            TeamMembership.user_id == user.id, TeamMembership.role == "lead").limit(1)) is not None

    def organiser(user: Any, gathering: Any) -> bool:
        return signed_in(user) and gathering is not None and (is_staff(user) or gathering.organiser_id == user.id)

    def party(user: Any, message: Any) -> bool:
        return signed_in(user) and message is not None and user.id in (message.sender_id, message.recipient_id)

    return {
        # gatherings: members book; staff and pilot leads organise
        "gatherings.view": lambda user, obj: signed_in(user),
        "gatherings.create": lambda user, obj: is_staff(user) or leads_a_project(user),
        "gathering.manage": organiser,  # edit, see who booked and their access needs, mark attendance
        # directory (opt in) and messages between members, which never show an email address
        "directory.view": lambda user, obj: signed_in(user),
        "directory.entry": lambda user, entry: signed_in(user) and entry is not None
        and (entry.listed or entry.user_id == user.id),
        "directory.message": lambda user, entry: signed_in(user) and entry is not None and entry.listed
        and entry.accepts_messages and entry.user_id != user.id,
        "message.view": party,
        "message.reply": lambda user, message: party(user, message) and message.recipient_id == user.id,
    }


def _learning_rules() -> dict[str, Callable[[Any, Any], bool]]:
    # Post and comment states by their stored values (the learning package imports this module).
    def author(user: Any, item: Any) -> bool:
        return signed_in(user) and item is not None and item.author_id == user.id

    def readable(user: Any, post: Any) -> bool:
        if post is None:
            return False
        if author(user, post) or is_staff(user):
            return True
        return post.state == "visible" and (post.visibility == "public" or signed_in(user))

    def others_visible(user: Any, item: Any) -> bool:
        # validate or flag: someone else's words that are up and (for comments) not deleted
        return (signed_in(user) and item is not None and item.author_id != user.id and item.state == "visible"
                and getattr(item, "deleted_at", None) is None)

    return {
        "posts.write": lambda user, obj: signed_in(user),
        "post.view": readable,
        "post.edit": author,
        "post.delete": author,
        "post.comment": lambda user, post: signed_in(user) and post is not None and post.state == "visible",
        "comment.edit": lambda user, c: author(user, c) and c.deleted_at is None,
        "comment.delete": lambda user, c: author(user, c) and c.deleted_at is None,
        "content.validate": others_visible,
        "content.flag": others_visible,
        "validators.view": lambda user, obj: signed_in(user),
        "moderation.review": lambda user, obj: is_staff(user),
        "notifications.own": lambda user, obj: signed_in(user),
    }


def _story_rules() -> dict[str, Callable[[Any, Any], bool]]:
    def facts() -> Any:
        from portal.stories import library  # imported late: the stories views import this module

        return library

    def own_record(user: Any, storyteller: Any) -> bool:
        return signed_in(user) and storyteller is not None and storyteller.user_id == user.id

    return {
        "stories.tell": lambda user, obj: signed_in(user),
        "stories.moderate": lambda user, obj: is_staff(user),
        "storytellers.manage": lambda user, obj: is_staff(user),  # list, add, import, enter on behalf
        "stories.export": lambda user, obj: is_staff(user),
        "stories.exact_summary": lambda user, obj: is_staff(user),
        "story.view": lambda user, story: facts().may_view(user, story),
        "story.edit": lambda user, story: facts().owns(user, story)
        and story.state in ("submitted", "changes_requested"),
        "story.withdraw": lambda user, story: story is not None and story.state != "withdrawn"
        and (is_staff(user) or facts().owns(user, story)),
        "storyteller.manage": lambda user, storyteller: own_record(user, storyteller) or (
            is_staff(user) and storyteller is not None),
    }


def _own_or_staff(user: Any, person: Any) -> bool:
    return signed_in(user) and person is not None and (user.id == person.id or is_staff(user))


RULES: dict[str, Callable[[Any, Any], bool]] = {
    # accounts
    "account.manage_own": lambda user, obj: signed_in(user),
    "profile.view_private": _own_or_staff,  # access needs, contact details
    # staff areas
    "staff.dashboard": lambda user, obj: is_staff(user),
    "finance.dashboard": lambda user, obj: is_finance(user),
    # administration
    "users.manage": lambda user, obj: is_admin(user),
    "users.change_role": lambda user, obj: is_admin(user) and obj is not None and obj.id != user.id,
    "users.deactivate": lambda user, obj: is_admin(user) and obj is not None and obj.id != user.id,
    "audit.read": lambda user, obj: is_admin(user),
    # pilot project teams (used by the grants issue)
    "project.work_on": lambda user, project: team_role(user, project) is not None,
    "project.lead": lambda user, project: team_role(user, project) == "lead",
}
RULES.update(_claim_rules())
RULES.update(_grant_rules())
RULES.update(_learning_rules())
RULES.update(_gathering_and_people_rules())
RULES.update(_story_rules())


def can(user: Any, action: str, obj: Any = None) -> bool:
    if action == PUBLIC:
        return True
    try:
        rule = RULES[action]
    except KeyError:
        raise LookupError(f"No permission rule named {action!r}") from None
    return bool(rule(user, obj))


def require(action: str, obj: Any = None, user: Any = None) -> None:
    """Stop the request unless allowed: sign-in for visitors, 403 for signed-in users."""
    user = current_user if user is None else user
    if not signed_in(user):
        abort(login_manager.unauthorized())
    if not can(user, action, obj):
        abort(403)


F = TypeVar("F", bound=Callable[..., Any])


def permission_required(action: str) -> Callable[[F], F]:
    """Declare and enforce the rule a view needs (without an object)."""
    if action not in RULES:
        raise LookupError(f"No permission rule named {action!r}")

    def decorate(view: F) -> F:
        @wraps(view)
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            require(action)
            return view(*args, **kwargs)

        wrapped.permission = action  # type: ignore[attr-defined]
        return wrapped  # type: ignore[return-value]

    return decorate


def public(view: F) -> F:
    """Declare a view open to everyone, visitors included."""
    view.permission = PUBLIC  # type: ignore[attr-defined]
    return view


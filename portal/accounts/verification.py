"""Proving a person owns their email address: the link sent at sign-up, a new link on request,
a change of address that takes effect only once the new address is confirmed, and the one check
(``require_verified``) every domain asks before someone joins a team, is linked to a storyteller
record, is paid or sends a message.

Sign-up and changing address answer the same words whether or not the address already has an
account: the owner of that address is told by email instead, so nobody can find out who has an
account by trying addresses.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta

import sqlalchemy as sa

from portal.accounts.models import EmailVerification, User
from portal.accounts.passwords import password_problem, verify_password
from portal.accounts.services import AccountError, create_user, find_by_email, normalise_email
from portal.core import audit, outbox
from portal.core.db import utcnow
from portal.core.errors import RuleBroken
from portal.core.extensions import db

VERIFY_FIRST = "Confirm your email address first: we sent you a link. You can ask for a new one on your dashboard."
LINK_REFUSED = "This link has expired or has already been used. Sign in and ask for a new one from your dashboard."


class Unverified(RuleBroken):
    """The person has not confirmed their email address yet."""


def require_verified(user: User, *, field: str = "", by: User | None = None) -> None:
    """Stop the change unless ``user`` has confirmed their email address.

    ``by`` is whoever is making the change when it is not the person themselves (staff making
    an award, a lead adding someone): the message then names the person instead of saying "you".
    """
    if user.verified:
        return
    if by is not None and by.id != user.id:
        raise Unverified(
            field,
            f"{user.name} has not confirmed their email address yet. "
            "They can ask for a new link on their dashboard, then try again.",
        )
    raise Unverified(field, VERIFY_FIRST)


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _link(base_url: str, token: str) -> str:
    return f"{base_url.rstrip('/')}/account/verify/{token}"


def _new_link(user: User, email: str, *, valid_hours: int, now: datetime) -> str:
    token = secrets.token_urlsafe(32)
    db.session.add(
        EmailVerification(
            user_id=user.id,
            email=email,
            token_hash=_hash(token),
            created_at=now,
            expires_at=now + timedelta(hours=valid_hours),
        )
    )
    return token


def send_confirmation(user: User, *, base_url: str, valid_hours: int, now: datetime | None = None) -> str:
    """Email a link that confirms the account's own address; returns the token (for tests)."""
    token = _new_link(user, user.email, valid_hours=valid_hours, now=now or utcnow())
    outbox.enqueue(
        "email_verification",
        user.email,
        "Confirm your email address for the Co-Production Portal",
        f"Hello {user.name},\n\nTo confirm this is your email address, open this link within "
        f"{valid_hours} hours:\n\n{_link(base_url, token)}\n\nThe link works once. Until you confirm, "
        "you cannot join a project team, be paid for your time or send messages.\n\n"
        "If you did not create an account, you can ignore this email.\n",
    )
    return token


def sign_up(*, email: str, name: str, password: str, base_url: str, valid_hours: int) -> str | None:
    """Create an unverified account and send it a confirmation link; returns the token (for tests).

    When the address already has an account, nothing is created and its owner is told instead;
    the caller answers the same either way. The password is checked first, in both cases, so
    its message does not give the answer away either.
    """
    email = normalise_email(email)
    problem = password_problem(password, email=email)
    if problem:
        raise AccountError("password", problem)
    owner = find_by_email(email)
    if owner is not None:
        outbox.enqueue(
            "sign_up_existing",
            owner.email,
            "Someone tried to create an account with your email address",
            f"Hello {owner.name},\n\nSomeone tried to create a Co-Production Portal account with this "
            "email address, but you already have one, so nothing was changed.\n\n"
            "If it was you: sign in with this address, or reset your password from the sign-in page "
            "if you have forgotten it.\n\nIf it was not you, you do not need to do anything.\n",
        )
        return None
    user = create_user(email=email, name=name, password=password, verified=False)
    return send_confirmation(user, base_url=base_url, valid_hours=valid_hours)


def resend(user: User, *, base_url: str, valid_hours: int) -> str:
    if user.verified:
        raise RuleBroken("", "Your email address is already confirmed.")
    return send_confirmation(user, base_url=base_url, valid_hours=valid_hours)


def request_email_change(user: User, *, new_email: str, password: str, base_url: str, valid_hours: int) -> str | None:
    """Ask to change the account's address. The account keeps the old one until a link sent to
    the new one is used; the old address is told. Returns the token (for tests), or None when
    the new address belongs to another account (whose owner is told instead, and the caller
    answers the same words)."""
    if not verify_password(user.password_hash, password):
        raise AccountError("password", "Your password is not right. Enter the password you sign in with.")
    new_email = normalise_email(new_email)
    if new_email == user.email:
        raise AccountError("email", "That is already your email address. Enter the new address you want to use.")
    owner = find_by_email(new_email)
    token = None
    if owner is not None:
        outbox.enqueue(
            "email_change_existing",
            owner.email,
            "Someone tried to use your email address on the Co-Production Portal",
            f"Hello {owner.name},\n\nSomeone with another account asked to change its email address to "
            "this one. This address already belongs to your account, so nothing was changed and "
            "nobody was told that you have an account.\n\nYou do not need to do anything.\n",
        )
    else:
        token = _new_link(user, new_email, valid_hours=valid_hours, now=utcnow())
        outbox.enqueue(
            "email_change_verification",
            new_email,
            "Confirm your new email address for the Co-Production Portal",
            f"Hello {user.name},\n\nYou asked to use this email address for your Co-Production Portal "
            f"account. To confirm it, open this link within {valid_hours} hours:\n\n"
            f"{_link(base_url, token)}\n\nThe link works once. Until you confirm, your account keeps "
            "its old address.\n\nIf you did not ask for this, you can ignore this email.\n",
        )
    outbox.enqueue(
        "email_change_notice",
        user.email,
        "Your email address on the Co-Production Portal is being changed",
        f"Hello {user.name},\n\nSomeone signed in to your account asked to change its email address. "
        "The change only happens once the new address is confirmed; until then your account "
        "keeps this one.\n\nIf this was not you: sign in, change your password straight away, and "
        "tell the programme team. If you cannot sign in, reset your password from the sign-in page.\n",
    )
    audit.record("user.email_change_requested", user, actor=user)
    return token


def usable_link(token: str, *, now: datetime | None = None) -> EmailVerification | None:
    link = db.session.scalar(sa.select(EmailVerification).where(EmailVerification.token_hash == _hash(token)))
    if link is None or link.used_at is not None or link.expires_at <= (now or utcnow()):
        return None
    if not link.user.is_active:
        return None
    return link


def confirm(token: str, *, now: datetime | None = None) -> User:
    """Use a link: the address is confirmed (and becomes the account's, for a change of address).
    Every other open link for the same person is spent with it."""
    now = now or utcnow()
    link = usable_link(token, now=now)
    if link is None:
        raise RuleBroken("", LINK_REFUSED)
    user = link.user
    if link.email != user.email:
        owner = find_by_email(link.email)
        if owner is not None and owner.id != user.id:
            raise RuleBroken("", "This address is now used by another account, so it cannot be yours as well.")
        before = {"email": user.email}
        user.email = link.email
        audit.record("user.email_changed", user, actor=user, before=before, after={"email": user.email})
    else:
        audit.record("user.email_verified", user, actor=user, after={"email": user.email})
    user.email_verified_at = now
    db.session.execute(
        sa.update(EmailVerification)
        .where(EmailVerification.user_id == user.id, EmailVerification.used_at.is_(None))
        .values(used_at=now)
    )
    return user


def waiting_link(user: User, *, now: datetime | None = None) -> EmailVerification | None:
    """The newest link still open for the person's own address (what the dashboard talks about)."""
    return _newest_open(user, now=now, own_address=True)


def pending_change(user: User, *, now: datetime | None = None) -> EmailVerification | None:
    """The newest open request to change to another address, if any."""
    return _newest_open(user, now=now, own_address=False)


def _newest_open(user: User, *, now: datetime | None, own_address: bool) -> EmailVerification | None:
    address = EmailVerification.email == user.email if own_address else EmailVerification.email != user.email
    return db.session.scalar(
        sa.select(EmailVerification)
        .where(
            EmailVerification.user_id == user.id,
            EmailVerification.used_at.is_(None),
            EmailVerification.expires_at > (now or utcnow()),
            address,
        )
        .order_by(EmailVerification.id.desc())
        .limit(1)
    )

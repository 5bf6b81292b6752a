"""Account rules: sign-up, sign-in, passwords, reset tokens, roles and deactivation."""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

import sqlalchemy as sa

from portal.accounts import sessions, signals
from portal.accounts.models import PasswordResetToken, Role, User
from portal.accounts.passwords import (
    hash_password,
    needs_rehash,
    password_problem,
    spend_time_like_a_check,
    verify_password,
)
from portal.accounts.suspension import SIGN_IN_REFUSED
from portal.core import audit, outbox
from portal.core.db import utcnow
from portal.core.errors import RuleBroken
from portal.core.extensions import db


class AccountError(RuleBroken):
    """An account rule was broken."""


def normalise_email(email: str) -> str:
    return email.strip().lower()


def find_by_email(email: str) -> User | None:
    return db.session.scalar(sa.select(User).where(User.email == normalise_email(email)))


def _new_session_token() -> str:
    return secrets.token_hex(16)


def create_user(*, email: str, name: str, password: str, role: Role = Role.MEMBER, verified: bool) -> User:
    """A new account; ``verified`` when whoever creates it vouches for the address (an operator,
    the demo data); sign-up creates it unverified and sends a link to the address."""
    email = normalise_email(email)
    if find_by_email(email) is not None:
        raise AccountError("email", "An account with this email already exists. Sign in, or reset your password.")
    problem = password_problem(password, email=email)
    if problem:
        raise AccountError("password", problem)
    user = User(
        email=email,
        name=name.strip(),
        password_hash=hash_password(password),
        role=role,
        session_token=_new_session_token(),
        email_verified_at=utcnow() if verified else None,
    )
    db.session.add(user)
    db.session.flush()
    return user


def authenticate(email: str, password: str) -> User:
    """The user with this email and password, or AccountError saying what to do next.

    A missing account and a wrong password take the same time, so timing does not reveal who
    has an account: both read one row's two columns (no person is loaded until the password
    is right) and both spend one Argon2 check.
    """
    found = db.session.execute(
        sa.select(User.id, User.password_hash).where(User.email == normalise_email(email))
    ).first()
    if found is None:
        spend_time_like_a_check(password)
        raise AccountError("email", "The email or password is not right. Check them and try again.")
    if not verify_password(found.password_hash, password):
        raise AccountError("email", "The email or password is not right. Check them and try again.")
    user = db.session.get_one(User, found.id)
    if user.suspended_at is not None:
        raise AccountError("email", SIGN_IN_REFUSED)
    if not user.is_active:
        raise AccountError("email", "This account has been closed. Contact the programme team to reopen it.")
    if needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    user.last_sign_in_at = utcnow()
    return user


def set_password(user: User, new_password: str) -> None:
    problem = password_problem(new_password, email=user.email, name=user.name)
    if problem:
        raise AccountError("new_password", problem)
    user.password_hash = hash_password(new_password)
    user.session_token = _new_session_token()  # signs out every session (the view starts a new one here)
    sessions.end_all(user)


def change_password(user: User, current_password: str, new_password: str) -> None:
    if not verify_password(user.password_hash, current_password):
        raise AccountError("current_password", "Your current password is not right. Try again.")
    set_password(user, new_password)


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def start_password_reset(email: str, *, base_url: str, valid_minutes: int) -> str | None:
    """Email a single-use reset link to an active account; returns the token (for tests).

    Says nothing to the caller about whether the account exists.
    """
    user = find_by_email(email)
    if user is None or not user.is_active:
        return None
    token = secrets.token_urlsafe(32)
    db.session.add(
        PasswordResetToken(
            user_id=user.id,
            token_hash=_token_hash(token),
            expires_at=utcnow() + timedelta(minutes=valid_minutes),
        )
    )
    link = f"{base_url.rstrip('/')}/account/reset-password/{token}"
    outbox.enqueue(
        "password_reset",
        user.email,
        "Reset your Co-Production Portal password",
        f"Hello {user.name},\n\nSomeone asked to reset the password for this email address. "
        f"To choose a new password, open this link within {valid_minutes} minutes:\n\n{link}\n\n"
        "The link works once. If you did not ask for this, you can ignore this email: "
        "your password has not changed.\n",
    )
    return token


def usable_reset_token(token: str) -> PasswordResetToken | None:
    reset = db.session.scalar(sa.select(PasswordResetToken).where(PasswordResetToken.token_hash == _token_hash(token)))
    if reset is None or reset.used_at is not None or reset.expires_at <= utcnow():
        return None
    if not reset.user.is_active:
        return None
    return reset


def reset_password(token: str, new_password: str) -> User:
    reset = usable_reset_token(token)
    if reset is None:
        raise AccountError(
            "new_password",
            "This reset link has expired or has already been used. Ask for a new one.",
        )
    set_password(reset.user, new_password)
    now = utcnow()
    # Spend this token and any others still open for the same person.
    db.session.execute(
        sa.update(PasswordResetToken)
        .where(PasswordResetToken.user_id == reset.user_id, PasswordResetToken.used_at.is_(None))
        .values(used_at=now)
    )
    return reset.user


def update_profile(user: User, **fields: object) -> None:
    editable = {"name", "pronouns", "bio", "preferred_contact", "phone", "contact_notes", "access_needs"}
    old_name = user.name
    for name, value in fields.items():
        if name not in editable:
            raise KeyError(name)
        setattr(user, name, value.strip() if isinstance(value, str) else value)
    if user.name != old_name:
        signals.renamed.send(user, old_name=old_name)  # bylines and the search index follow the new name


def _admin_count() -> int:
    return (
        db.session.scalar(
            sa.select(sa.func.count()).select_from(User).where(User.role == Role.ADMIN, User.deactivated_at.is_(None))
        )
        or 0
    )


def change_role(user: User, new_role: Role, *, by: User) -> None:
    if user.role == new_role:
        return
    if user.role == Role.ADMIN and _admin_count() <= 1:
        raise AccountError("role", "This is the last admin. Make someone else an admin first.")
    before = {"role": user.role.value}
    user.role = new_role
    audit.record("user.role_changed", user, actor=by, before=before, after={"role": new_role.value})


def check_deactivate(user: User) -> None:
    """What closing an account asks, checked before its confirmation page and again on closing it."""
    if user.is_active and user.role == Role.ADMIN and _admin_count() <= 1:
        raise AccountError("reason", "This is the last admin. Make someone else an admin first.")


def deactivate(user: User, *, by: User, reason: str = "") -> None:
    if not user.is_active:
        return
    check_deactivate(user)
    user.deactivated_at = utcnow()
    user.session_token = _new_session_token()
    sessions.end_all(user)
    audit.record(
        "user.deactivated",
        user,
        actor=by,
        before={"active": True},
        after={"active": False},
        note=reason.strip(),
    )


def reactivate(user: User, *, by: User) -> None:
    if user.is_active:
        return
    user.deactivated_at = None
    audit.record("user.reactivated", user, actor=by, before={"active": False}, after={"active": True})


def search_users(*, text: str = "", role: Role | None = None) -> sa.Select[User]:
    query = sa.select(User).order_by(User.name, User.id)
    if text:
        escaped = text.strip().lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        pattern = f"%{escaped}%"
        query = query.where(
            sa.or_(
                sa.func.lower(User.name).like(pattern, escape="\\"),
                User.email.like(pattern, escape="\\"),
            )
        )
    if role is not None:
        query = query.where(User.role == role)
    return query

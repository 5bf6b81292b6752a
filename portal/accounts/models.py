"""People who sign in, their roles, their signed-in devices, second factors and password reset tokens."""

from __future__ import annotations

import enum
from datetime import datetime

import sqlalchemy as sa
from flask_login import UserMixin
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.core.db import UTCDateTime, str_enum, utcnow
from portal.core.extensions import Model


class Role(enum.StrEnum):
    """Site-wide role. Each role includes the powers of the ones before it (see permissions)."""

    MEMBER = "member"
    STAFF = "staff"
    FINANCE = "finance"
    ADMIN = "admin"

    @property
    def label(self) -> str:
        return self.value.capitalize()


class ContactMethod(enum.StrEnum):
    EMAIL = "email"
    PHONE = "phone"
    TEXT = "text"
    POST = "post"

    @property
    def label(self) -> str:
        return {"email": "Email", "phone": "Phone call", "text": "Text message", "post": "Post"}[self.value]


class User(UserMixin, Model):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(sa.String(254), unique=True)
    name: Mapped[str] = mapped_column(sa.String(120), index=True)
    password_hash: Mapped[str] = mapped_column(sa.String(255))
    role: Mapped[Role] = mapped_column(str_enum(Role, "role"), default=Role.MEMBER, index=True)
    # Rotated on password change and deactivation, which also end every ``UserSession``: every
    # session and remember-me cookie stops working, because Flask-Login identifies users by id,
    # this value *and* their device's session token (see ``get_id`` and ``accounts.sessions``).
    session_token: Mapped[str] = mapped_column(sa.String(64))
    deactivated_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    last_sign_in_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # When the person proved they own ``email`` (a link sent there). Until then they cannot
    # join a team, be linked to a storyteller record, be paid or message anyone.
    email_verified_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # Staff suspended the account (accounts/suspension.py): no sign-in until they lift it.
    # ``suspension_note`` is the reason the person was told.
    suspended_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), index=True)
    suspension_note: Mapped[str] = mapped_column(sa.String(500), default="")
    # "Erase me" (accounts/erasure.py): the name is now a reference ("Former member #A1B2C3"),
    # the email a placeholder, and nothing can sign in; the row stays for the records that
    # point at it (claims the law keeps, the audit log).
    erased_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    # Second factor (accounts.two_factor): the TOTP secret, encrypted with a key derived from
    # SECRET_KEY (Fernet), never shown again after set-up; the last 30-second time step a code
    # was accepted for, so a code cannot be used twice; when it was turned on.
    totp_secret_encrypted: Mapped[str | None] = mapped_column(sa.String(255))
    totp_last_step: Mapped[int | None] = mapped_column(sa.BigInteger)
    two_factor_enabled_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    # Profile. Access needs are private: the person and staff only.
    pronouns: Mapped[str] = mapped_column(sa.String(40), default="")
    bio: Mapped[str] = mapped_column(sa.String(600), default="")
    preferred_contact: Mapped[ContactMethod] = mapped_column(
        str_enum(ContactMethod, "preferred_contact"), default=ContactMethod.EMAIL
    )
    phone: Mapped[str] = mapped_column(sa.String(40), default="")
    contact_notes: Mapped[str] = mapped_column(sa.String(300), default="")
    access_needs: Mapped[str] = mapped_column(sa.Text, default="")

    team_memberships = relationship("TeamMembership", back_populates="user", lazy="raise_on_sql", passive_deletes=True)

    @property
    def is_active(self) -> bool:  # Flask-Login refuses to sign in inactive users
        return self.deactivated_at is None and self.suspended_at is None

    @property
    def byline(self) -> str:
        """How posts and comments name their author: an erased person is "A former member"."""
        return "A former member" if self.erased_at is not None else self.name

    @property
    def verified(self) -> bool:
        return self.email_verified_at is not None

    @property
    def has_two_factor(self) -> bool:
        return self.two_factor_enabled_at is not None and self.totp_secret_encrypted is not None

    @property
    def must_have_two_factor(self) -> bool:
        """Staff, finance and admins may not use the portal without a second factor."""
        return self.role in (Role.STAFF, Role.FINANCE, Role.ADMIN)

    # The device this request came from, set by ``accounts.sessions`` when the session is started
    # or loaded: plain attributes of this object, not columns.
    @property
    def device_token(self) -> str:
        return str(self.__dict__.get("_device_token", ""))

    @device_token.setter
    def device_token(self, token: str) -> None:
        self.__dict__["_device_token"] = token

    @property
    def device(self) -> UserSession | None:
        device: UserSession | None = self.__dict__.get("_device")
        return device

    @device.setter
    def device(self, record: UserSession | None) -> None:
        self.__dict__["_device"] = record

    def get_id(self) -> str:
        """What Flask-Login keeps in the session and the remember cookie: "id:token:device"."""
        return f"{self.id}:{self.session_token}:{self.device_token}"

    def __repr__(self) -> str:
        return f"<User {self.id} {self.email} {self.role}>"


class PasswordResetToken(Model):
    """A single-use, expiring token. Only its SHA-256 is stored, so a leaked table is useless."""

    __tablename__ = "password_reset_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    user: Mapped[User] = relationship(lazy="joined")


class EmailVerification(Model):
    """A single-use, expiring link that proves a person owns ``email``: the address they signed
    up with, or the one they asked to change to (which takes effect only when the link is
    used). Only the token's SHA-256 is stored."""

    __tablename__ = "email_verifications"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"), index=True)
    email: Mapped[str] = mapped_column(sa.String(254))
    token_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    user: Mapped[User] = relationship(lazy="joined")


class UserSession(Model):
    """One signed-in device. Only the SHA-256 of its token is stored; the token itself lives in
    the person's session and remember cookies. Ending it (``ended_at``) refuses both cookies."""

    __tablename__ = "user_sessions"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    user_agent: Mapped[str] = mapped_column(sa.String(120), default="")  # a summary: "Firefox on Android"
    ip_address: Mapped[str] = mapped_column(sa.String(45), default="")
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class RecoveryCode(Model):
    """A one-time code for signing in without the authenticator. Only its SHA-256 is stored
    (the codes are 50 random bits, so a fast hash is enough); ``used_at`` spends it."""

    __tablename__ = "recovery_codes"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"), index=True)
    code_hash: Mapped[str] = mapped_column(sa.String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

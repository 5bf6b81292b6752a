"""People who sign in, their roles, and password reset tokens."""

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
    # Rotated on password change and deactivation: every other session and remember-me
    # cookie stops working, because Flask-Login identifies users by id *and* this value.
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
    def verified(self) -> bool:
        return self.email_verified_at is not None

    def get_id(self) -> str:
        return f"{self.id}:{self.session_token}"

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

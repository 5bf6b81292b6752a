"""Password hashing with Argon2id (argon2-cffi), tuned by settings so tests stay quick."""

from __future__ import annotations

import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from flask import Flask, current_app

MIN_LENGTH = 10
MAX_LENGTH = 256


def prepare(app: Flask) -> None:
    """Make the app's hasher, and once, at start, the hash that sign-in checks a password against
    when there is no such account: the same Argon2 work as for a real one, so the time taken does
    not tell anyone which addresses have accounts."""
    config = app.config
    hasher = PasswordHasher(
        time_cost=config.get("ARGON2_TIME_COST", 3),
        memory_cost=config.get("ARGON2_MEMORY_KIB", 65536),
        parallelism=config.get("ARGON2_PARALLELISM", 2),
    )
    app.extensions["portal.password_hasher"] = hasher
    app.extensions["portal.dummy_password_hash"] = hasher.hash(secrets.token_hex(16))


def _hasher() -> PasswordHasher:
    hasher: PasswordHasher = current_app.extensions["portal.password_hasher"]
    return hasher


def spend_time_like_a_check(password: str) -> None:
    """Verify ``password`` against the start-up dummy hash (always fails), for a missing account."""
    verify_password(current_app.extensions["portal.dummy_password_hash"], password)


def hash_password(password: str) -> str:
    return _hasher().hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    try:
        return _hasher().verify(password_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    return _hasher().check_needs_rehash(password_hash)


def password_problem(password: str, *, email: str = "", name: str = "") -> str | None:
    """Why a new password is not good enough, in words a person can act on, or None."""
    if len(password) < MIN_LENGTH:
        return f"Enter a password of at least {MIN_LENGTH} characters. A few words together work well."
    if len(password) > MAX_LENGTH:
        return f"Enter a password of no more than {MAX_LENGTH} characters."
    lowered = password.lower()
    if email and lowered == email.lower():
        return "Choose a password that is not your email address."
    if len(set(lowered)) < 4 or lowered in COMMON_PASSWORDS:
        return "That password is too easy to guess. Try three or four random words together."
    return None


COMMON_PASSWORDS = frozenset(
    {
        "password123",
        "password1234",
        "1234567890",
        "12345678910",
        "qwertyuiop",
        "iloveyou123",
        "passw0rd123",
        "welcome123",
        "letmein123",
        "administrator",
        "qwerty12345",
        "abc1234567",
        "football123",
        "monkey12345",
        "sunshine123",
    }
)

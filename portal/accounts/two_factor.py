"""Second factor: time-based one-time codes (TOTP, RFC 6238) and ten one-time recovery codes.

Why the TOTP secret is stored encrypted: the portal must read it to check a code, so it cannot
be hashed like a password; stored in the clear, anyone with a copy of the database (a backup, a
leaked dump) could make codes for every account and the second factor would protect nothing.
It is encrypted with Fernet (AES-128-CBC + HMAC-SHA256) under a key derived from SECRET_KEY
with HKDF, which is kept out of the database. It is shown once, at set-up (as a QR code and as
text), and never again: losing the device means a recovery code or an admin reset, never
"show my key". Changing SECRET_KEY makes stored secrets (and recovery codes) unusable: after
rotating it, an admin resets each person's second factor and they set it up again.

Recovery codes are 50 random bits each; only an HMAC-SHA256 of each (keyed from SECRET_KEY) is
stored, so a leaked table cannot be turned back into codes by guessing. Each works once.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
import time

import pyotp
import qrcode
import qrcode.image.svg
import sqlalchemy as sa
from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from flask import current_app
from markupsafe import Markup

from portal.accounts import sessions
from portal.accounts.models import RecoveryCode, User
from portal.core import audit, outbox
from portal.core.db import utcnow
from portal.core.errors import RuleBroken
from portal.core.extensions import db

ISSUER = "Co-Production Portal"
RECOVERY_CODE_COUNT = 10
STEP_SECONDS = 30
ALLOWED_DRIFT_STEPS = 1  # a code from the step before or after is accepted (clocks drift)
_CODE_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"  # no 0/o, 1/l/i: easy to copy from paper
_TOTP_PATTERN = re.compile(r"^\d{6}$")


def _derived_key(purpose: bytes) -> bytes:
    secret_key = str(current_app.config["SECRET_KEY"]).encode()
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=purpose).derive(secret_key)


def _fernet() -> Fernet:
    return Fernet(base64.urlsafe_b64encode(_derived_key(b"portal: two-factor secrets")))


def _code_hash(code: str) -> str:
    return hmac.new(_derived_key(b"portal: recovery codes"), code.encode(), hashlib.sha256).hexdigest()


def new_secret() -> str:
    return pyotp.random_base32()


def _secret_of(user: User) -> str | None:
    if not user.totp_secret_encrypted:
        return None
    try:
        return _fernet().decrypt(user.totp_secret_encrypted.encode()).decode()
    except InvalidToken:
        return None  # SECRET_KEY changed since set-up: only a recovery code or an admin reset helps


def grouped(secret: str) -> str:
    """The key as people type it: groups of four."""
    return " ".join(secret[i : i + 4] for i in range(0, len(secret), 4))


def qr_code_svg(user: User, secret: str) -> Markup:
    """An inline SVG QR code of the otpauth:// link, drawn as one path (no Pillow needed)."""
    uri = pyotp.TOTP(secret).provisioning_uri(name=user.email, issuer_name=ISSUER)
    image = qrcode.make(uri, image_factory=qrcode.image.svg.SvgPathImage, box_size=8, border=2)
    svg = image.to_string(encoding="unicode")
    svg = re.sub(r"^<\?xml[^>]*\?>\s*", "", svg)
    # Built here from our own data only; the page labels it and shows the text key beside it.
    return Markup(svg.replace("<svg ", '<svg aria-hidden="true" focusable="false" ', 1))


def clean_code(code: str) -> str:
    return re.sub(r"[\s-]", "", code).lower()


def _accept_totp(user: User, secret: str, code: str, *, now: float | None = None) -> bool:
    """Whether ``code`` is right for a time step later than the last one used (then spend it)."""
    if not _TOTP_PATTERN.match(code):
        return False
    totp = pyotp.TOTP(secret)
    current = int((time.time() if now is None else now) // STEP_SECONDS)
    for step in range(current - ALLOWED_DRIFT_STEPS, current + ALLOWED_DRIFT_STEPS + 1):
        if hmac.compare_digest(totp.at(step * STEP_SECONDS), code):
            if user.totp_last_step is not None and step <= user.totp_last_step:
                return False  # already used: a code seen over someone's shoulder is no good
            user.totp_last_step = step
            return True
    return False


def _new_recovery_codes(user: User) -> list[str]:
    db.session.execute(sa.delete(RecoveryCode).where(RecoveryCode.user_id == user.id))
    codes = []
    for _ in range(RECOVERY_CODE_COUNT):
        raw = "".join(secrets.choice(_CODE_ALPHABET) for _ in range(10))
        codes.append(f"{raw[:5]}-{raw[5:]}")
        db.session.add(RecoveryCode(user_id=user.id, code_hash=_code_hash(raw)))
    return codes


def recovery_codes_left(user: User) -> int:
    return (
        db.session.scalar(
            sa.select(sa.func.count())
            .select_from(RecoveryCode)
            .where(RecoveryCode.user_id == user.id, RecoveryCode.used_at.is_(None))
        )
        or 0
    )


def store_secret(user: User, secret: str) -> None:
    """Keep ``secret`` (encrypted) as the person's second factor, from now on."""
    user.totp_secret_encrypted = _fernet().encrypt(secret.encode()).decode()
    user.two_factor_enabled_at = utcnow()


def enable(user: User, secret: str, code: str) -> list[str]:
    """Turn two-factor sign-in on once ``code`` proves the app has ``secret``; the recovery codes."""
    if user.has_two_factor:
        raise RuleBroken("code", "Two-factor sign-in is already on for your account.")
    if not _TOTP_PATTERN.match(clean_code(code)):
        raise RuleBroken("code", "Enter the 6-digit code your authenticator app shows, like 123456.")
    user.totp_last_step = None
    if not _accept_totp(user, secret, clean_code(code)):
        raise RuleBroken("code", "That code is not right. Check the key in your app and enter the code it shows now.")
    store_secret(user, secret)
    audit.record("user.two_factor_enabled", user, actor=user, before={"two_factor": False}, after={"two_factor": True})
    return _new_recovery_codes(user)


def check_second_step(user: User, code: str) -> str:
    """Accept a TOTP code or an unused recovery code for ``user``: "totp" or "recovery"."""
    cleaned = clean_code(code)
    if not cleaned:
        raise RuleBroken("code", "Enter the 6-digit code from your authenticator app, or a recovery code.")
    secret = _secret_of(user)
    if secret is not None and _accept_totp(user, secret, cleaned):
        return "totp"
    if len(cleaned) == 10:
        spent = db.session.execute(
            sa.update(RecoveryCode)
            .where(
                RecoveryCode.user_id == user.id,
                RecoveryCode.code_hash == _code_hash(cleaned),
                RecoveryCode.used_at.is_(None),
            )
            .values(used_at=utcnow())
        )
        if getattr(spent, "rowcount", 0) == 1:  # a conditional update: two requests racing with one code, one wins
            audit.record("user.recovery_code_used", user, actor=user, after={"left": recovery_codes_left(user)})
            return "recovery"
    raise RuleBroken("code", "That code is not right, or has already been used. Try the code your app shows now.")


def new_recovery_codes(user: User, code: str) -> list[str]:
    """Replace the recovery codes, after a current code proves it is the person."""
    check_second_step(user, code)
    audit.record("user.recovery_codes_replaced", user, actor=user)
    return _new_recovery_codes(user)


def _turn_off(user: User) -> None:
    user.totp_secret_encrypted = None
    user.totp_last_step = None
    user.two_factor_enabled_at = None
    db.session.execute(sa.delete(RecoveryCode).where(RecoveryCode.user_id == user.id))


def disable(user: User, code: str) -> None:
    """A member turns two-factor sign-in off (staff, finance and admins may not)."""
    if user.must_have_two_factor:
        raise RuleBroken("code", "Programme staff need two-factor sign-in: it cannot be turned off.")
    check_second_step(user, code)
    _turn_off(user)
    audit.record("user.two_factor_disabled", user, actor=user, before={"two_factor": True}, after={"two_factor": False})
    outbox.enqueue(
        "two_factor_off",
        user.email,
        "Two-factor sign-in is off",
        f"Hello {user.name},\n\nTwo-factor sign-in was turned off for your Co-Production Portal account. "
        "If this was not you, reset your password now and contact the programme team.\n",
    )


def admin_reset(user: User, *, by: User) -> None:
    """For a lost device: remove the second factor and sign the person out everywhere. Staff set
    a new one up at their next sign-in; the person is emailed so a reset they did not ask for is seen."""
    if not user.has_two_factor:
        raise RuleBroken("two_factor", f"{user.name} does not have two-factor sign-in set up.")
    _turn_off(user)
    sessions.end_all(user)
    audit.record("user.two_factor_reset", user, actor=by, before={"two_factor": True}, after={"two_factor": False})
    outbox.enqueue(
        "two_factor_reset",
        user.email,
        "Your two-factor sign-in was reset",
        f"Hello {user.name},\n\n{by.name} removed the two-factor sign-in from your Co-Production Portal "
        "account, as happens when a phone is lost. You have been signed out everywhere. "
        + (
            "Next time you sign in you will be asked to set it up again with your authenticator app."
            if user.must_have_two_factor
            else "You can set it up again from your account settings."
        )
        + "\n\nIf you did not ask for this, contact the programme team straight away.\n",
    )

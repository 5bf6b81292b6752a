"""Failed attempts counted in the shared rate-limit storage: slow down, never lock out.

Every count here lives where every worker sees it: the database, or Redis when
PORTAL_REDIS_URL is set (see core/rate_limits.py). Sign-in has two guards:

* per client address (a Flask-Limiter decorator on the view): after LOGIN_RATE_LIMIT failures
  from one address, that address gets 429 until the window passes. This stops one machine
  trying many accounts.
* per email address (``SIGN_IN`` here): after LOGIN_RATE_LIMIT failures for one address, from
  anywhere, the account is *not* locked, or anyone could lock its owner out by typing five
  wrong passwords. Instead every further attempt for that address waits
  SIGN_IN_SLOW_DOWN_SECONDS before the password is even checked, right or wrong alike (so the
  wait tells nothing), and a wrong one is answered 429. The owner, with the right password,
  gets in after the wait; a person with two-factor sign-in still has to give a code after it.
  A guesser is held to one try per wait per connection, and the per-address limit caps how
  many tries one machine makes.

Wrong codes at the second step (``SECOND_STEP``, per person) are a hard limit: whoever got
that far has the password, so after LOGIN_RATE_LIMIT wrong codes the half-finished sign-in is
dropped and they start again, slowed down like any other sign-in.
"""

from __future__ import annotations

import time

from flask import current_app
from limits import RateLimitItem, parse

from portal.core.extensions import limiter

SIGN_IN = "sign-in-email"
SECOND_STEP = "sign-in-code"


def _item() -> RateLimitItem:
    return parse(str(current_app.config["LOGIN_RATE_LIMIT"]))


def _identifiers(namespace: str, key: str) -> tuple[str, ...]:
    # RATELIMIT_KEY_PREFIX keeps several portals sharing one Redis apart, as for Flask-Limiter's own keys.
    prefix = str(current_app.config.get("RATELIMIT_KEY_PREFIX") or "")
    return (*([prefix] if prefix else []), namespace, key.strip().lower())


def over_limit(namespace: str, key: str) -> bool:
    """Whether ``key`` has had LOGIN_RATE_LIMIT failures in the current window."""
    return not limiter.limiter.test(_item(), *_identifiers(namespace, key))


def failed(namespace: str, key: str) -> None:
    limiter.limiter.hit(_item(), *_identifiers(namespace, key))


def wait_if_slowed(email: str) -> bool:
    """Wait SIGN_IN_SLOW_DOWN_SECONDS when this email address is slowed down; whether it was."""
    slowed = over_limit(SIGN_IN, email)
    if slowed:
        time.sleep(float(current_app.config["SIGN_IN_SLOW_DOWN_SECONDS"]))
    return slowed

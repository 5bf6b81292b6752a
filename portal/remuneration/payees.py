"""Finance's payee references: the code a person has in the finance system, never bank details.

The portal stores no bank details (see the design's remuneration section). A reference shaped
like a UK sort code and account number, or an IBAN, is refused, so that nobody keeps them here
by mistake; an ordinary reference such as ``SUP-0042`` or ``INV-2026-0042`` passes.
"""

from __future__ import annotations

import re

from portal.accounts.models import User
from portal.core import audit
from portal.core.errors import RuleBroken
from portal.core.extensions import db
from portal.remuneration.models import PaymentPreference

BANK_DETAILS_MESSAGE = (
    "This looks like bank details (a sort code and account number). The portal never keeps bank "
    "details: enter the person's code in the finance system instead, like SUP-0042."
)

# Digit groups split by spaces or punctuation ("12-34-56", "1234 5678") are joined before matching.
_BETWEEN_DIGITS = re.compile(r"(?<=\d)[\s./_-]+(?=\d)")
# A sort code (6 digits), at most a few words, then an account number (7 or 8 digits).
_SORT_CODE_THEN_ACCOUNT = re.compile(r"(?<!\d)\d{6}(?:\D{0,24}?)\d{7,8}(?!\d)")
_SORT_CODE_WORDS = re.compile(r"\bsort\s*code\b|\bs/?c\b|\bacc(?:oun)?t?\s*(?:no|number)?\b.*\d{7,8}", re.IGNORECASE)
_UK_IBAN = re.compile(r"GB\d{2}[A-Z]{4}\d{14}", re.IGNORECASE)


def looks_like_bank_details(reference: str) -> bool:
    joined = _BETWEEN_DIGITS.sub("", reference)
    return bool(
        _SORT_CODE_THEN_ACCOUNT.search(joined)
        or (_SORT_CODE_WORDS.search(reference) and re.search(r"\d{6}", joined))
        or _UK_IBAN.search(re.sub(r"\s+", "", reference))
    )


def set_payee_reference(person: User, preference: PaymentPreference | None, reference: str, *, by: User) -> bool:
    """Save finance's reference for ``person``; False when it is unchanged. Audited."""
    if looks_like_bank_details(reference):
        raise RuleBroken("payee_reference", BANK_DETAILS_MESSAGE)
    before = preference.payee_reference if preference else ""
    if reference == before:
        return False
    if preference is None:
        preference = PaymentPreference(user_id=person.id, payee_reference=reference)
        db.session.add(preference)
    preference.payee_reference = reference
    # PaymentPreference is keyed by its person, so the entry is filed under the person.
    audit.record(
        "payee_reference.set",
        person,
        actor=by,
        before={"payee_reference": before},
        after={"payee_reference": reference},
    )
    return True

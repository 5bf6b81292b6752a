"""Erase me: a person (or an admin on their behalf) erases everything the portal holds about
them, except the money records the law keeps (HMRC: six years), which stay under a reference.

Every area erases its own records (``core.my_data.register_eraser``); this module checks who may,
runs them all in one transaction, replaces the person's name and email in the audit log with the
reference, and records the erasure. No email is sent: by the end there is no address left to send
it to, and an email would keep the address in the outbox; the person sees the last page instead.
"""

from __future__ import annotations

from portal.accounts import services
from portal.accounts.models import User
from portal.accounts.my_data import new_reference
from portal.accounts.passwords import verify_password
from portal.core import audit, my_data
from portal.core.errors import RuleBroken
from portal.core.my_data import StoredFile

BY_THEMSELVES = "Erased at the person's own request, from their profile."
BY_STAFF = "Erased on the person's behalf by an admin."


def check_erase(person: User, *, by: User, password: str | None = None) -> None:
    """Their own password (when erasing themselves), and the portal keeps an admin."""
    field = "password" if by.id == person.id else "reason"
    if person.erased_at is not None:
        raise RuleBroken(field, "This person's data has already been erased.")
    if by.id == person.id and not verify_password(person.password_hash, password or ""):
        raise services.AccountError("password", "Your password is not right. Try again.")
    waiting = my_data.reasons_not_to_erase(person)
    if waiting:
        raise RuleBroken(field, " ".join(waiting))
    try:
        services.check_deactivate(person)
    except services.AccountError as error:
        raise services.AccountError(field, error.message) from error


def erase(person: User, *, by: User, password: str | None = None) -> tuple[str, list[StoredFile]]:
    """Erase in the caller's transaction; returns the reference and the files to delete after it commits."""
    check_erase(person, by=by, password=password)
    reference = new_reference()
    words = [person.name, person.email]
    files = my_data.erase_everything(person, reference)
    audit.pseudonymise(person_id=person.id, words=words, reference=reference)
    audit.record(
        "user.erased",
        person,
        actor=by,
        after={"reference": reference},
        note=BY_THEMSELVES if by.id == person.id else BY_STAFF,
    )
    return reference, files

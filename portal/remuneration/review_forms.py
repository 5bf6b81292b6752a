"""Forms for the people who check and pay claims: leads, staff, finance and admins.

Each action form on a claim has a prefix, so several can sit on one page with their own field
ids (``reject-reason``, ``void-reason``). Money is typed in pounds and read into integer pence
with ``Decimal`` (``PoundsField``), never ``float``. The services own the rules (a question
must have words, a payment date cannot be in the future); the forms only parse.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from flask_wtf import FlaskForm
from wtforms import BooleanField, Field, HiddenField, SelectField, StringField, TextAreaField
from wtforms.validators import InputRequired, Length, Optional, Regexp, ValidationError

from portal.core.form_fields import DateInputField, PoundsField, VersionField, ascii_digits, strip
from portal.core.forms import choices
from portal.remuneration.models import ClaimState, Unit
from portal.remuneration.rates import MAX_RATE_PENCE

TEXT_LIMIT = Length(max=2000, message="Keep this to 2,000 characters or fewer.")


class ConfirmForm(FlaskForm):
    """A project lead confirms the activity happened: only the CSRF token."""


class ApproveForm(FlaskForm):
    confirm_over_budget = BooleanField(
        "I understand this takes the project over its award, and I want to approve it anyway",
        description="Your name and this choice are kept in the claim's history.",
    )


class QueryForm(FlaskForm):
    question = TextAreaField(
        "Your question for the claimant",
        filters=[strip],
        validators=[Optional(), TEXT_LIMIT],
        description="The claim goes back to them with your question. They answer by changing the claim "
        "and sending it again.",
    )


class RejectForm(FlaskForm):
    reason = TextAreaField(
        "Why is this claim not being approved?",
        filters=[strip],
        validators=[Optional(), TEXT_LIMIT],
        description="The claimant reads this, so say what was wrong in plain words. A rejected claim cannot be sent again.",
    )


class VoidForm(FlaskForm):
    reason = TextAreaField("Why is this claim being cancelled?", filters=[strip], validators=[Optional(), TEXT_LIMIT])


ACTION_FORMS: dict[str, tuple[type[FlaskForm], str]] = {
    # action -> (form class, prefix of its field ids and names)
    "confirm": (ConfirmForm, "confirm"),
    "approve": (ApproveForm, "approve"),
    "query": (QueryForm, "query"),
    "reject": (RejectForm, "reject"),
    "void": (VoidForm, "void"),
}


def action_form(action: str, *, blank: bool = False) -> FlaskForm:
    """The form for one action on a claim; ``blank`` ignores any submitted data (for display)."""
    form_class, prefix = ACTION_FORMS[action]
    if blank:
        return form_class(formdata=None, prefix=prefix)
    return form_class(prefix=prefix)


# --- lists -----------------------------------------------------------------------------------

WAITING = "waiting"
QUEUE_FILTERS = [
    (WAITING, "Waiting for approval"),
    (ClaimState.SUBMITTED.value, "Submitted (including those waiting for a project lead)"),
    (ClaimState.CONFIRMED.value, "Confirmed by the project lead"),
    (ClaimState.QUERIED.value, "Waiting for the claimant to answer a question"),
    (ClaimState.APPROVED.value, "Approved, not yet in a payment batch"),
]


class QueueFilterForm(FlaskForm):
    """Read-only filters sent with GET, so no CSRF token (and the URL can be bookmarked)."""

    class Meta:
        csrf = False

    state = SelectField("Show claims", choices=choices(QUEUE_FILTERS), validators=[Optional()])

    def chosen(self) -> str:
        values = {value for value, _label in QUEUE_FILTERS}
        return self.state.data if self.state.data in values else WAITING


# --- payment batches and payees ---------------------------------------------------------------

REFERENCE_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9 ./_-]*\Z")  # Regexp() matches from the start only
REFERENCE_MESSAGE = "Use letters, numbers, spaces and . / - _ only, like PAY-2026-11."


class ClaimIdsField(Field):
    """The claims ticked in a list of checkboxes, as whole numbers."""

    def __init__(self, label: str | None = None, validators: Any = None, **kwargs: Any) -> None:
        super().__init__(label, validators, **kwargs)
        self.data: list[int] = []

    def process_formdata(self, valuelist: list[str]) -> None:
        if not all(ascii_digits(value) for value in valuelist):
            self.data = []
            raise ValueError("Choose claims from the list.")
        self.data = sorted({int(value) for value in valuelist})


class CreateBatchForm(FlaskForm):
    reference = StringField(
        "Batch reference",
        filters=[strip],
        validators=[
            Optional(),
            Length(max=60, message="Keep the reference to 60 characters or fewer."),
            Regexp(REFERENCE_PATTERN, message=REFERENCE_MESSAGE),
        ],
        description="A name for this payment run that finance will recognise, like PAY-2026-11.",
    )
    claim_ids = ClaimIdsField("Claims to pay in this batch")
    every_approved = BooleanField(
        "Put every approved claim in this batch",
        description="Every claim approved by the time this page was shown, on every page of the list, "
        "except your own. The ticks above are then not needed.",
    )
    approved_until = HiddenField()  # when the page was shown: claims approved after it are left out

    def approved_until_moment(self) -> datetime | None:
        try:
            moment = datetime.fromisoformat(self.approved_until.data or "")
        except ValueError:
            return None
        return moment if moment.tzinfo is not None else None


class MarkPaidForm(FlaskForm):
    paid_on = DateInputField(
        "Date paid",
        validators=[InputRequired(message="Enter the date the payments were made.")],
        invalid_value_message="Enter a real date, like 14 March 2026.",
        description="The day the money left the account. It cannot be in the future.",
    )
    payment_reference = StringField(
        "Payment reference",
        filters=[strip],
        validators=[Optional(), Length(max=80, message="Keep the reference to 80 characters or fewer.")],
        description="The reference of the payment run in the finance system.",
    )


class CarryOnForm(FlaskForm):
    """Carry on a payment run that stopped: only the CSRF token."""


class PayeeForm(FlaskForm):
    payee_reference = StringField(
        "Payee reference",
        filters=[strip],
        validators=[
            Optional(),
            Length(max=60, message="Keep the reference to 60 characters or fewer."),
            Regexp(REFERENCE_PATTERN, message="Use letters, numbers, spaces and . / - _ only, like SUP-0042."),
        ],
        description="The number or code for this person in the finance system, like SUP-0042. "
        "Leave it empty to remove it. Never enter bank details here.",
    )


# --- rate card -------------------------------------------------------------------------------

UNIT_PAIRS = [(u.value, u.label.capitalize()) for u in Unit]


class ActivityForm(FlaskForm):
    name = StringField(
        "Name of the activity",
        filters=[strip],
        validators=[Optional(), Length(max=80, message="Keep the name to 80 characters or fewer.")],
        description="What people will choose when they claim, like Focus group.",
    )
    unit = SelectField(
        "Paid by the",
        choices=choices([("", "Choose a unit"), *UNIT_PAIRS]),
        validators=[
            InputRequired(message="Choose how this activity is paid: by the hour, half day, day or a fixed fee.")
        ],
        validate_choice=False,
    )

    def validate_unit(self, field: SelectField) -> None:
        if field.data not in Unit._value2member_map_:
            raise ValidationError("Choose how this activity is paid: by the hour, half day, day or a fixed fee.")

    def chosen_unit(self) -> Unit:
        return Unit(self.unit.data)


class RateForm(FlaskForm):
    """A new rate for one activity; built with ``prefix=f"rate-{activity.id}"`` so each form's ids differ."""

    amount = PoundsField(
        "New amount in pounds",
        validators=[InputRequired(message="Enter the new amount in pounds and pence, like 27.50.")],
        message="Enter the amount in pounds and pence, like 27.50.",
        minimum_pence=1,
        maximum_pence=MAX_RATE_PENCE,
        range_message="Enter an amount more than £0 and no more than £100,000.",
    )
    effective_from = DateInputField(
        "In force from",
        validators=[InputRequired(message="Enter the date the new rate starts, like 1 April 2026.")],
        invalid_value_message="Enter a real date, like 1 April 2026.",
        description="Claims for activity on or after this date use the new rate.",
    )
    version = VersionField()  # the activity's version when the rate card was opened


def rate_form(activity_id: int, *, blank: bool = False, version: int | None = None) -> RateForm:
    """The new-rate form of one activity; a blank one carries the activity's ``version`` as shown."""
    prefix = f"rate-{activity_id}"
    return RateForm(formdata=None, prefix=prefix, version=version) if blank else RateForm(prefix=prefix)

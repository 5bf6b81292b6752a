"""Forms for people claiming payment: claims, expenses, sending a claim, preferences, statements.

Money is typed in pounds ("196.00") and read into integer pence with ``Decimal``, never
``float``. Numbers and money are text fields, parsed here, so bad input gets a message that
says what to type instead of a browser's or WTForms' generic one.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from typing import Any

from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from wtforms import DateField, HiddenField, RadioField, SelectField, StringField, TextAreaField
from wtforms.validators import InputRequired, Length, Optional, ValidationError

from portal.core.form_fields import (
    DateInputField,
    NumberField,
    PoundsField,
    ascii_digits,
    number_text,
    pounds_text,
    strip,
)
from portal.core.formatting import money
from portal.core.forms import choices
from portal.remuneration.claims import ClaimDetails
from portal.remuneration.models import ActivityType, ClaimState, ExpenseCategory, PaymentMethod, Rate, Unit
from portal.teams.models import Project

_RATE_WORDS = {Unit.HOUR: "an hour", Unit.HALF_DAY: "a half day", Unit.DAY: "a day", Unit.FIXED_FEE: "fixed fee"}


def activity_choices(card: Iterable[tuple[ActivityType, Rate | None, list[Rate]]]) -> list[tuple[str, str]]:
    """Active activities, each labelled with its unit and the rate in force today."""
    pairs = [("", "Choose an activity")]
    for activity, current, _history in card:
        if not activity.is_active:
            continue
        rate = f"{money(current.amount_pence)} {_RATE_WORDS[activity.unit]}" if current else "no rate set yet"
        pairs.append((str(activity.id), f"{activity.name} ({rate})"))
    return pairs


class ClaimForm(FlaskForm):
    activity_type_id = SelectField(
        "What did you do?",
        validators=[InputRequired(message="Choose the kind of activity.")],
        validate_choice=False,  # the service checks the activity exists and is in use
        description="The amount next to each activity is today's rate. "
        "Your claim uses the rate on the day of the activity.",
    )
    activity_date = DateInputField(
        "Date of the activity",
        validators=[InputRequired(message="Enter the date of the activity.")],
        invalid_value_message="Enter a real date, like 14 March 2026.",
        description="The day it happened. It cannot be in the future.",
    )
    units = NumberField(
        "How much time?",
        validators=[InputRequired(message="Enter how much time you are claiming for.")],
        message="Enter a number, like 1 or 1.5, with no more than two decimal places.",
        description="In the unit shown next to the activity: hours, half days or days. "
        "For a fixed fee, enter 1. Part units are fine, like 1.5 hours.",
    )
    project_id = SelectField(
        "What was it for?",
        validate_choice=False,  # the service checks it is one of the claimant's own projects
        description="Choose your project if you did this as part of a pilot project's team. "
        "Otherwise choose the programme.",
    )
    notes = TextAreaField(
        "Notes (optional)",
        filters=[strip],
        validators=[Optional(), Length(max=2000, message="Keep the notes to 2,000 characters or fewer.")],
        description="Anything that helps us check your claim, like the name of the meeting.",
    )

    def set_choices(self, activities: list[tuple[str, str]], projects: Iterable[Project]) -> None:
        self.activity_type_id.choices = choices(activities)
        self.project_id.choices = choices(
            [("", "The programme (no project)"), *((str(p.id), p.title) for p in projects)]
        )

    def validate_project_id(self, field: SelectField) -> None:
        if field.data and not ascii_digits(str(field.data)):
            raise ValidationError("Choose one of your own projects, or the programme.")

    def details(self) -> ClaimDetails:
        assert self.units.number is not None and self.activity_date.data is not None
        activity = str(self.activity_type_id.data)
        return ClaimDetails(
            activity_type_id=int(activity) if ascii_digits(activity) else 0,
            activity_date=self.activity_date.data,
            units=self.units.number,
            project_id=int(self.project_id.data) if self.project_id.data else None,
            notes=self.notes.data or "",
        )

    @staticmethod
    def data_from(claim: Any) -> dict[str, Any]:
        return {
            "activity_type_id": str(claim.activity_type_id),
            "activity_date": claim.activity_date,
            "units": number_text(claim.units),
            "project_id": str(claim.project_id or ""),
            "notes": claim.notes,
        }


class ExpenseForm(FlaskForm):
    category = SelectField(
        "Type of expense",
        choices=choices([("", "Choose a type"), *((c.value, c.label) for c in ExpenseCategory)]),
        validators=[InputRequired(message="Choose the type of expense.")],
        validate_choice=False,
    )
    description = StringField(
        "What was it for? (optional)",
        filters=[strip],
        validators=[Optional(), Length(max=200, message="Keep this to 200 characters or fewer.")],
        description="For example: bus fare to the workshop and back.",
    )
    amount = PoundsField("Amount in pounds", description="For example 4.80. Leave this empty for mileage.")
    miles = NumberField(
        "Miles (mileage only)",
        places=1,
        message="Enter the miles as a number, like 12 or 12.5.",
    )
    receipt = FileField(
        "Receipt (optional)",
        description="A photo or scan of the receipt: a PDF, JPEG or PNG file.",
    )

    def validate_category(self, field: SelectField) -> None:
        if field.data not in ExpenseCategory._value2member_map_:
            raise ValidationError("Choose the type of expense.")

    def chosen_category(self) -> ExpenseCategory:
        return ExpenseCategory(self.category.data)


SUBMIT_CHOICES = ("as_is", "reduce", "decline")


class SubmitClaimForm(FlaskForm):
    """Sending a claim; after a limit warning, also what the claimant chose to do."""

    warned = HiddenField()  # set on the warning page, where a choice is needed
    choice = RadioField(
        "What would you like to do?",
        choices=choices(
            [
                ("as_is", "Send the claim for the full fee"),
                ("reduce", "Reduce the fee"),
                ("decline", "Do not take a fee for this claim"),
            ]
        ),
        validate_choice=False,  # checked below, and only on the warning page
    )
    reduced_fee = PoundsField(
        "Reduce the fee to", description="In pounds, like 46.00. Only used if you choose to reduce the fee."
    )

    def validate_choice(self, field: RadioField) -> None:
        if self.warned.data and field.data not in SUBMIT_CHOICES:
            raise ValidationError("Choose what you would like to do with this claim.")


class ActionForm(FlaskForm):
    """A button that changes something: only the CSRF token."""


LIMIT_MAXIMUM_PENCE = 100_000_00
LIMIT_RANGE = "Enter a limit more than £0 and no more than £100,000, or leave it empty."


class PreferencesForm(FlaskForm):
    method = RadioField(
        "How would you like to be paid?",
        choices=choices([(m.value, m.label) for m in PaymentMethod]),
        validators=[InputRequired(message="Choose how you would like to be paid.")],
        validate_choice=False,
    )
    charity_name = StringField(
        "Name of the charity",
        filters=[strip],
        validators=[Length(max=120, message="Keep the charity's name to 120 characters or fewer.")],
        description="Only if you chose to donate your payment to a charity.",
    )
    weekly_limit = PoundsField(
        "Weekly earnings limit (optional)",
        minimum_pence=1,
        maximum_pence=LIMIT_MAXIMUM_PENCE,
        range_message=LIMIT_RANGE,
        message="Enter the weekly limit in pounds and pence, like 196.00.",
        description="In pounds, like 196.00. Leave it empty if you do not have a weekly limit.",
    )
    monthly_limit = PoundsField(
        "Monthly earnings limit (optional)",
        minimum_pence=1,
        maximum_pence=LIMIT_MAXIMUM_PENCE,
        range_message=LIMIT_RANGE,
        message="Enter the monthly limit in pounds and pence, like 850.00.",
        description="In pounds, like 850.00. Leave it empty if you do not have a monthly limit.",
    )

    def validate_method(self, field: RadioField) -> None:
        if field.data not in PaymentMethod._value2member_map_:
            raise ValidationError("Choose how you would like to be paid.")

    def validate_charity_name(self, field: StringField) -> None:
        if self.method.data == PaymentMethod.CHARITY.value and not field.data:
            raise ValidationError("Enter the name of the charity you would like your payment to go to.")

    @staticmethod
    def data_from(preference: Any) -> dict[str, Any]:
        if preference is None:
            return {}
        return {
            "method": preference.method.value,
            "charity_name": preference.charity_name,
            "weekly_limit": pounds_text(preference.weekly_limit_pence),
            "monthly_limit": pounds_text(preference.monthly_limit_pence),
        }


class StatementForm(FlaskForm):
    """Read-only filters sent with GET, so no CSRF token (and the URL can be bookmarked)."""

    class Meta:
        csrf = False

    start = DateInputField(
        "From", validators=[Optional()], invalid_value_message="Enter a real start date, like 6 April 2026."
    )
    end = DateInputField(
        "To", validators=[Optional()], invalid_value_message="Enter a real end date, like 5 April 2027."
    )

    def validate_end(self, field: DateField) -> None:
        if field.data and self.start.data and field.data < self.start.data:
            raise ValidationError("The end date must be the same as the start date or after it.")

    def period(self, default: tuple[date, date]) -> tuple[date, date]:
        return self.start.data or default[0], self.end.data or default[1]


class ClaimExportForm(StatementForm):
    """Which claims finance downloads: a state (or every state but drafts) and activity dates."""

    state = SelectField("State", validators=[Optional()], default="")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.state.choices = [("", "Every state (drafts are not included)")] + [
            (state.value, state.label) for state in ClaimState if state != ClaimState.DRAFT
        ]

    def chosen_state(self) -> ClaimState | None:
        return ClaimState(self.state.data) if self.state.data else None

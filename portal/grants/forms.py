"""Forms for phases, applications, the panel, reviews and decisions.

Money is typed in pounds ("5000" or "5,000.00") and read into integer pence with ``Decimal``,
never ``float``. Numbers and money are text fields parsed here, so a wrong entry gets a message
that says what to type. The services check the rules; these forms check the shape.
"""

from __future__ import annotations

import re
from datetime import date, time
from typing import Any, ClassVar

from flask_wtf import FlaskForm
from wtforms import BooleanField, HiddenField, RadioField, SelectField, StringField, TextAreaField
from wtforms.validators import InputRequired, Length, Optional, ValidationError

from portal.accounts.forms import EMAIL_VALID
from portal.core.errors import RuleBroken
from portal.core.form_fields import DateInputField, PoundsField, TimeInputField, VersionField, pounds_text, strip
from portal.core.forms import attach_error, choices, is_id
from portal.grants.applications import TEXT_LENGTH, ApplicationDetails, NewLine
from portal.grants.models import (
    ApplicationState,
    BudgetCategory,
    Criterion,
    Outcome,
    Phase,
    PhaseState,
    Recommendation,
)
from portal.grants.phases import CriterionDetails, PhaseDetails
from portal.grants.reviews import COMMENT_LENGTH, SORTS
from portal.teams.models import TeamRole

CRITERION_ROWS = 6
_WHOLE = re.compile(r"[0-9]{1,9}")  # ASCII digits only (core/form_fields.py says why)


class WholeNumberField(StringField):
    """A whole number ("7"); after validation ``number`` holds it (or None)."""

    def __init__(
        self,
        label: str | None = None,
        validators: Any = None,
        *,
        message: str = "Enter a whole number, like 7.",
        **kwargs: Any,
    ) -> None:
        super().__init__(label, validators, **kwargs)
        self.message = message
        self.number: int | None = None

    def pre_validate(self, form: Any) -> None:
        self.number = None
        text = (self.data or "").strip()
        if text:
            if not _WHOLE.fullmatch(text):
                raise ValidationError(self.message)
            self.number = int(text)


def seen_version(field: VersionField) -> int | None:
    """The version a form was opened at (a tampered one reads 0, never fresh; None when absent)."""
    data: object = field.data
    return data if isinstance(data, int) else None


class ActionForm(FlaskForm):
    """A button that changes something: only the CSRF token."""


def attach_problems(form: FlaskForm, error: RuleBroken) -> list[RuleBroken]:
    """Put each broken rule's message next to its field; return those with no field on this form
    (like the application window), for the page to show in its error summary."""
    others = []
    for problem in getattr(error, "problems", [error]):
        name = "criterion_1_name" if problem.field == "criteria" else problem.field
        if name in form._fields:
            attach_error(form, name, problem.message)
        else:
            others.append(problem)
    return others


# --- phases ----------------------------------------------------------------------------------------


class PhaseForm(FlaskForm):
    name = StringField(
        "Name",
        filters=[strip],
        description="For example: Phase 3 (2026).",
        validators=[
            InputRequired(message="Enter the phase's name."),
            Length(max=120, message="Keep the name to 120 characters or fewer."),
        ],
    )
    summary = TextAreaField(
        "Summary",
        filters=[strip],
        validators=[Optional(), Length(max=TEXT_LENGTH)],
        description="What this round funds, in a few sentences. Everyone can read it.",
    )
    eligibility = TextAreaField(
        "Who can apply",
        filters=[strip],
        validators=[Optional(), Length(max=TEXT_LENGTH)],
        description="Who is eligible, in plain words.",
    )
    max_award = PoundsField(
        "Largest award, in pounds",
        validators=[InputRequired(message="Enter the largest award.")],
        description="The most one pilot can be given, like 15000.",
    )
    pot = PoundsField(
        "Pot, in pounds",
        validators=[InputRequired(message="Enter the pot.")],
        description="The total to share between every award in this phase, like 60000.",
    )
    delivery_months = WholeNumberField(
        "Delivery time, in months",
        validators=[InputRequired(message="Enter the delivery time in months.")],
        message="Enter the delivery time as a whole number of months, like 7.",
        description="How long each pilot has to deliver, from its start date.",
    )
    target_awards = WholeNumberField(
        "Number of awards you aim to make",
        validators=[InputRequired(message="Enter how many awards you aim to make.")],
        message="Enter a whole number of awards, like 4.",
    )
    opens_on = DateInputField(
        "Applications open on",
        validators=[InputRequired(message="Enter the opening date.")],
        invalid_value_message="Enter a real date, like 1 May 2026.",
    )
    opens_time = TimeInputField(
        "Opening time, UK time",
        default=time(0, 0),
        validators=[Optional()],
        invalid_value_message="Enter the opening time as hours and minutes, like 09:00.",
        description="The round opens by itself at this time on the opening date, like 09:00. Left empty, it opens at midnight.",
    )
    closes_on = DateInputField(
        "Applications close on",
        validators=[InputRequired(message="Enter the closing date.")],
        invalid_value_message="Enter a real date, like 30 June 2026.",
        description="Applications can be sent on this day until the closing time.",
    )
    closes_time = TimeInputField(
        "Closing time, UK time",
        default=time(23, 59),
        validators=[Optional()],
        invalid_value_message="Enter the closing time as hours and minutes, like 17:00.",
        description="The round closes by itself at this time, and the panel gets every application sent by then. Left empty, it closes at 23:59.",
    )
    reviews_close_on = DateInputField(
        "Panel reviews close on (optional)",
        validators=[Optional()],
        invalid_value_message="Enter a real date, like 15 July 2026.",
        description="Reviewers are reminded 3 days before; reviews cannot be sent after this day.",
    )
    version = VersionField()  # after the fields: a message about no field goes by the first one

    def criterion_rows(self) -> list[tuple[int, Any, Any, Any]]:
        return [
            (row, self[f"criterion_{row}_name"], self[f"criterion_{row}_description"], self[f"criterion_{row}_weight"])
            for row in range(1, CRITERION_ROWS + 1)
        ]

    def validate(self, extra_validators: Any = None) -> bool:
        valid: bool = super().validate(extra_validators)
        for row, name, description, weight in self.criterion_rows():
            if (description.data or weight.data) and not name.data:
                name.errors = [*name.errors, f"Give criterion {row} a name, or clear its row."]
                valid = False
            if name.data and not (weight.data or "").strip():
                weight.errors = [*weight.errors, f"Give criterion {row} a weight from 1 to 100."]
                valid = False
        return valid

    def details(self) -> PhaseDetails:
        criteria = [
            CriterionDetails(name=name.data, description=description.data or "", weight=weight.number, row=row)
            for row, name, description, weight in self.criterion_rows()
            if name.data
        ]
        # Read from a validated form, where both dates are InputRequired.
        assert self.opens_on.data is not None and self.closes_on.data is not None
        return PhaseDetails(
            name=self.name.data or "",
            summary=self.summary.data or "",
            eligibility=self.eligibility.data or "",
            max_award_pence=self.max_award.pence or 0,
            pot_pence=self.pot.pence or 0,
            delivery_months=self.delivery_months.number or 0,
            target_awards=self.target_awards.number or 0,
            opens_on=self.opens_on.data,
            closes_on=self.closes_on.data,
            opens_time=self.opens_time.data or time(0, 0),
            closes_time=self.closes_time.data or time(23, 59),
            reviews_close_on=self.reviews_close_on.data,
            criteria=criteria,
        )

    @staticmethod
    def data_from(phase: Phase, criteria: list[Criterion]) -> dict[str, Any]:
        data: dict[str, Any] = {
            "version": phase.version,
            "name": phase.name,
            "summary": phase.summary,
            "eligibility": phase.eligibility,
            "max_award": pounds_text(phase.max_award_pence),
            "pot": pounds_text(phase.pot_pence),
            "delivery_months": str(phase.delivery_months),
            "target_awards": str(phase.target_awards),
            "opens_on": phase.opens_on,
            "closes_on": phase.closes_on,
            "opens_time": phase.opens_time,
            "closes_time": phase.closes_time,
            "reviews_close_on": phase.reviews_close_on,
        }
        for row, criterion in enumerate(criteria[:CRITERION_ROWS], start=1):
            data[f"criterion_{row}_name"] = criterion.name
            data[f"criterion_{row}_description"] = criterion.description
            data[f"criterion_{row}_weight"] = str(criterion.weight)
        return data


for _row in range(1, CRITERION_ROWS + 1):
    setattr(
        PhaseForm,
        f"criterion_{_row}_name",
        StringField(
            f"Criterion {_row}: name",
            filters=[strip],
            validators=[Optional(), Length(max=120, message="Keep the name to 120 characters or fewer.")],
        ),
    )
    setattr(
        PhaseForm,
        f"criterion_{_row}_description",
        StringField(
            f"Criterion {_row}: what reviewers look for (optional)",
            filters=[strip],
            validators=[Optional(), Length(max=500, message="Keep this to 500 characters or fewer.")],
        ),
    )
    setattr(
        PhaseForm,
        f"criterion_{_row}_weight",
        WholeNumberField(
            f"Criterion {_row}: weight",
            message=f"Enter criterion {_row}'s weight as a whole number from 1 to 100.",
            description="From 1 to 100. A criterion with twice the weight counts twice as much.",
        ),
    )


class PhaseStateForm(FlaskForm):
    to = HiddenField()

    def validate_to(self, field: HiddenField) -> None:
        if field.data not in PhaseState._value2member_map_:
            raise ValidationError("Choose the state to move the phase to.")


# --- applications ---------------------------------------------------------------------------------


def _text(label: str, description: str) -> TextAreaField:
    return TextAreaField(
        label,
        filters=[strip],
        description=description,
        validators=[Optional(), Length(max=TEXT_LENGTH, message=f"Keep this to {TEXT_LENGTH:,} characters or fewer.")],
    )


class ApplicationForm(FlaskForm):
    title = StringField(
        "Title",
        filters=[strip],
        validators=[Optional(), Length(max=200, message="Keep the title to 200 characters or fewer.")],
        description="A short name for your project.",
    )
    summary = _text("Summary", "What you want to do, who it is for, and what difference you hope it makes.")
    lived_experience = _text(
        "Who with lived experience is involved",
        "Who has lived experience of the issue your project is about, and how they are part of your team.",
    )
    co_design = _text(
        "Co-design",
        "Co-design means people with lived experience shape what the project is and how it is done. "
        "How will they do this?",
    )
    co_decision = _text(
        "Co-decision-making",
        "Co-decision-making means people with lived experience share the decisions, including about "
        "money. How will they do this?",
    )
    co_delivery = _text(
        "Co-delivery",
        "Co-delivery means people with lived experience do the work alongside everyone else, and are "
        "paid for their time. How will they do this?",
    )
    co_evaluation = _text(
        "Co-evaluation",
        "Co-evaluation means people with lived experience help judge what difference the project made. "
        "How will they do this?",
    )

    # The application's version when the page was opened (``core.edits``): it covers the lines too.
    version = VersionField()
    # A new budget line, in the same form, so adding one (without JavaScript too) saves the words.
    category = SelectField(
        "What kind of cost",
        choices=choices([("", "Choose a kind of cost"), *((c.value, c.label) for c in BudgetCategory)]),
        validate_choice=False,
    )
    description = StringField(
        "What it is for",
        filters=[strip],
        validators=[Optional(), Length(max=200, message="Keep this to 200 characters or fewer.")],
        description="For example: paying 6 co-researchers for 10 half days each.",
    )
    amount = PoundsField("Amount, in pounds", description="Like 1200 or 1,200.00.")

    def validate_category(self, field: SelectField) -> None:
        if field.data and field.data not in BudgetCategory._value2member_map_:
            raise ValidationError("Choose what kind of cost this is.")

    NEW_LINE: ClassVar[tuple[str, ...]] = ("category", "description", "amount")

    def validate(self, extra_validators: Any = None) -> bool:
        """A new line that was started needs all three of its parts (a blank one is no line)."""
        valid = bool(super().validate(extra_validators))
        if any((self[name].data or "").strip() for name in self.NEW_LINE):
            for name, message in (
                ("category", "Choose what kind of cost this is."),
                ("description", "Say what this budget line is for."),
                ("amount", "Enter the amount."),
            ):
                if not (self[name].data or "").strip() and not self[name].errors:
                    self[name].errors = [*self[name].errors, message]
                    valid = False
        return valid

    def new_line(self) -> NewLine:
        return NewLine(self.category.data or "", self.description.data or "", self.amount.pence)

    def details(self) -> ApplicationDetails:
        return ApplicationDetails(
            **{
                name: getattr(self, name).data or ""
                for name in (
                    "title",
                    "summary",
                    "lived_experience",
                    "co_design",
                    "co_decision",
                    "co_delivery",
                    "co_evaluation",
                )
            }
        )


class BudgetLineForm(FlaskForm):
    category = SelectField(
        "What kind of cost",
        choices=choices([("", "Choose a kind of cost"), *((c.value, c.label) for c in BudgetCategory)]),
        validators=[InputRequired(message="Choose what kind of cost this is.")],
        validate_choice=False,
    )
    description = StringField(
        "What it is for",
        filters=[strip],
        validators=[
            InputRequired(message="Say what this budget line is for."),
            Length(max=200, message="Keep this to 200 characters or fewer."),
        ],
        description="For example: paying 6 co-researchers for 10 half days each.",
    )
    amount = PoundsField(
        "Amount, in pounds",
        validators=[InputRequired(message="Enter the amount.")],
        description="Like 1200 or 1,200.00.",
    )
    version = VersionField()

    def new_line(self) -> NewLine:
        return NewLine(self.category.data or "", self.description.data or "", self.amount.pence)

    def validate_category(self, field: SelectField) -> None:
        if field.data not in BudgetCategory._value2member_map_:
            raise ValidationError("Choose what kind of cost this is.")


class InviteForm(FlaskForm):
    email = StringField(
        "Their email address",
        filters=[strip],
        validators=[
            InputRequired(message="Enter the email address of the person you want to invite."),
            EMAIL_VALID,
            Length(max=254),
        ],
        description="We email them a link. They join the team when they accept, signed in with this address.",
    )


ROLE_CHOICES = [
    (TeamRole.LEAD.value, "Lead: can change the team, send the application or reports, and confirm claims"),
    (TeamRole.MEMBER.value, "Member: works on the team"),
]


class RoleForm(FlaskForm):
    """A team member's role (on an application's team or a project's)."""

    role = RadioField(
        "Their role on the team",
        choices=choices(ROLE_CHOICES),
        validators=[InputRequired(message="Choose lead or member.")],
        validate_choice=False,  # an unknown value gets the message below, not WTForms' own
    )

    def validate_role(self, field: RadioField) -> None:
        if field.data not in TeamRole._value2member_map_:
            raise ValidationError("Choose lead or member.")

    @property
    def chosen(self) -> TeamRole:
        return TeamRole(self.role.data)


class WithdrawForm(FlaskForm):
    confirm = BooleanField(
        "Yes, withdraw this application. The panel will not consider it.",
        validators=[InputRequired(message="Tick the box to confirm that you want to withdraw this application.")],
    )


# --- the panel ----------------------------------------------------------------------------------------


class AssignReviewerForm(FlaskForm):
    email = StringField(
        "Reviewer's email address",
        filters=[strip],
        validators=[InputRequired(message="Enter the email address the reviewer signs in with."), Length(max=254)],
        description="They need an account. Any member can review, staff included.",
    )
    application_id = SelectField(
        "What they review", validate_choice=False, description="Every application in the phase, or just one."
    )

    def set_choices(self, applications: list[tuple[int, str]]) -> None:
        self.application_id.choices = choices(
            [
                ("", "Every application in this phase"),
                *((str(i), title or f"Untitled application {i}") for i, title in applications),
            ]
        )

    def validate_application_id(self, field: SelectField) -> None:
        if field.data and not is_id(str(field.data)):
            raise ValidationError("Choose every application, or one application.")

    def chosen_application_id(self) -> int | None:
        return int(self.application_id.data) if self.application_id.data else None


class PanelFilterForm(FlaskForm):
    """Read-only filters sent with GET, so no CSRF token (and the URL can be bookmarked)."""

    class Meta:
        csrf = False

    state = SelectField(
        "Show",
        validators=[Optional()],
        choices=choices(
            [
                ("", "Every application sent to the panel"),
                *((s.value, s.label) for s in ApplicationState if s != ApplicationState.DRAFT),
            ]
        ),
    )
    sort = SelectField("Sort by", validators=[Optional()], choices=choices(list(SORTS.items())))

    def chosen_state(self) -> ApplicationState | None:
        value = self.state.data
        if value in ApplicationState._value2member_map_ and value != ApplicationState.DRAFT.value:
            return ApplicationState(value)
        return None

    def chosen_sort(self) -> str:
        return self.sort.data if self.sort.data in SORTS else "average"


SCORE_CHOICES = [("1", "1: poor"), ("2", "2: weak"), ("3", "3: fair"), ("4", "4: good"), ("5", "5: excellent")]


def _score(text: str | None) -> int | None:
    return int(text) if text in ("1", "2", "3", "4", "5") else None


class ReviewFormBase(FlaskForm):
    def scores(self, criteria: list[Criterion]) -> dict[int, tuple[int | None, str]]:
        return {c.id: (_score(self[f"score_{c.id}"].data), self[f"comment_{c.id}"].data or "") for c in criteria}

    def chosen_recommendation(self) -> Recommendation | None:
        value = self["recommendation"].data
        return Recommendation(value) if value in Recommendation._value2member_map_ else None


def _score_field(criterion: Criterion) -> RadioField:
    return RadioField(
        f"Score for {criterion.name}", choices=choices(SCORE_CHOICES), validators=[Optional()], validate_choice=False
    )


def _comment_field(criterion: Criterion) -> TextAreaField:
    return TextAreaField(
        f"Comment on {criterion.name} (optional)",
        filters=[strip],
        validators=[
            Optional(),
            Length(max=COMMENT_LENGTH, message=f"Keep this comment to {COMMENT_LENGTH:,} characters or fewer."),
        ],
    )


def review_form(criteria: list[Criterion], **kwargs: Any) -> ReviewFormBase:
    """The whole review: a score and comment per criterion, then the recommendation and comment."""
    attributes: dict[str, Any] = {}
    for criterion in criteria:
        attributes[f"score_{criterion.id}"] = _score_field(criterion)
        attributes[f"comment_{criterion.id}"] = _comment_field(criterion)
    attributes["recommendation"] = RadioField(
        "Your recommendation",
        choices=choices([(r.value, r.label) for r in Recommendation]),
        validators=[Optional()],
        validate_choice=False,
    )
    attributes["comment"] = TextAreaField(
        "Overall comment (optional)",
        filters=[strip],
        validators=[
            Optional(),
            Length(max=COMMENT_LENGTH, message=f"Keep this to {COMMENT_LENGTH:,} characters or fewer."),
        ],
        description="Anything the panel should know when it discusses this application.",
    )
    form_class = type("ReviewForm", (ReviewFormBase,), attributes)
    form: ReviewFormBase = form_class(**kwargs)
    return form


def criterion_form(criterion: Criterion, **kwargs: Any) -> ReviewFormBase:
    """One criterion's score and comment, as saved in place."""
    attributes = {
        f"score_{criterion.id}": _score_field(criterion),
        f"comment_{criterion.id}": _comment_field(criterion),
    }
    form: ReviewFormBase = type("CriterionForm", (ReviewFormBase,), attributes)(**kwargs)
    return form


def review_data(scores: dict[int, Any], recommendation: Recommendation | None, comment: str) -> dict[str, Any]:
    data: dict[str, Any] = {"recommendation": recommendation.value if recommendation else None, "comment": comment}
    for criterion_id, score in scores.items():
        data[f"score_{criterion_id}"] = str(score.score)
        data[f"comment_{criterion_id}"] = score.comment
    return data


class ConflictForm(FlaskForm):
    reason = TextAreaField(
        "Why you have a conflict of interest",
        filters=[strip],
        validators=[
            InputRequired(message="Say briefly why, for example \u201cI know the lead applicant\u201d."),
            Length(max=COMMENT_LENGTH, message=f"Keep this to {COMMENT_LENGTH:,} characters or fewer."),
        ],
        description="For example, you know someone on the team, or you work for the organisation. "
        "Only the programme team sees this.",
    )


# --- decisions -------------------------------------------------------------------------------------------


class DecisionForm(FlaskForm):
    outcome = RadioField(
        "The panel's decision",
        choices=choices(
            [
                (Outcome.AWARD.value, "Fund this project (award)"),
                (Outcome.DECLINE.value, "Do not fund this project (decline)"),
            ]
        ),
        validators=[InputRequired(message="Choose whether to fund this project.")],
        validate_choice=False,
    )
    rationale = TextAreaField(
        "The panel's reasons",
        filters=[strip],
        validators=[
            InputRequired(message="Write the panel's reasons for this decision. The applicant will read them."),
            Length(max=5_000, message="Keep the reasons to 5,000 characters or fewer."),
        ],
        description="The applicant will read this, so write it for them.",
    )
    amount = PoundsField(
        "Amount to award, in pounds", description="Only for an award: no more than the amount asked for."
    )
    start_date = DateInputField(
        "Project start date",
        validators=[Optional()],
        invalid_value_message="Enter a real date, like 1 September 2026.",
        description="Only for an award. The end date is worked out from the phase's delivery time.",
    )
    backdate_reason = TextAreaField(
        "Why the project starts in the past (only for a start date before today)",
        filters=[strip],
        validators=[Optional(), Length(max=1_000, message="Keep the reason to 1,000 characters or fewer.")],
        description="To record an award made earlier, a project can start up to 90 days ago. Say why, "
        "like \u201cRecording an award the panel made in June\u201d.",
    )

    def validate_outcome(self, field: RadioField) -> None:
        if field.data not in Outcome._value2member_map_:
            raise ValidationError("Choose whether to fund this project.")

    def chosen_outcome(self) -> Outcome:
        return Outcome(self.outcome.data)

    @staticmethod
    def defaults(today: date, requested_pence: int) -> dict[str, Any]:
        return {"start_date": today, "amount": pounds_text(requested_pence)}

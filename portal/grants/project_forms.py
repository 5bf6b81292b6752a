"""Forms for running a pilot project: dates, reporting schedule, milestones, spending, reports.

Money is typed in pounds ("45.50") and read into integer pence with ``Decimal``, never
``float``. Required-ness of report fields is the service's rule (a draft may be empty, a
report that is sent may not), so the report form checks only the shape of what was typed.
"""

from __future__ import annotations

from datetime import date

from flask_wtf import FlaskForm
from wtforms import (
    DateField,
    FieldList,
    HiddenField,
    RadioField,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.validators import InputRequired, Length, Optional

from portal.core import vocabulary
from portal.core.form_fields import MONEY_MESSAGE, CheckboxesField, PoundsField, VersionField
from portal.core.forms import choices
from portal.grants.models import BudgetCategory, ProjectStatus
from portal.grants.reports import SHOW_CHOICES, ReportContent
from portal.teams.models import ReportingSchedule

CUSTOM_DATE_INPUTS = 8


class DateInputField(DateField):
    """A date input whose empty value is simply "no date" (the validators decide if that is allowed)."""

    def process_formdata(self, valuelist: list[str]) -> None:
        if not valuelist:
            return
        if not "".join(valuelist).strip():
            self.data = None
            return
        try:
            self.data = date.fromisoformat(valuelist[0].strip())
        except ValueError:
            self.data = None
            raise ValueError("Enter a real date, like 31 1 2026.") from None


def _strip(value: str | None) -> str | None:
    return value.strip() if isinstance(value, str) else value


def seen(field: VersionField) -> int | None:
    """The version a form was opened at (``VersionField`` reads a number, or 0 for anything else,
    which never matches); None when the form was sent without one."""
    return field.seen


class DatesForm(FlaskForm):
    start_date = DateInputField("Start date", validators=[InputRequired("Enter the start date, like 31 1 2026.")])
    end_date = DateInputField(
        "End date",
        validators=[InputRequired("Enter the end date, like 31 8 2026.")],
        description="Changing the dates works out the report due dates again. Reports the team has started are kept.",
    )
    version = VersionField()  # last: a message about no field goes by the first, visible one


SCHEDULE_PAIRS = [
    (ReportingSchedule.MONTHLY.value, "Every month, and a final report at the end"),
    (ReportingSchedule.MIDPOINT_FINAL.value, "Halfway through, and a final report at the end"),
    (ReportingSchedule.CUSTOM.value, "On dates you choose, and a final report at the end"),
]


class ScheduleForm(FlaskForm):
    kind = RadioField(
        "How often does the team report?",
        choices=choices(SCHEDULE_PAIRS),
        validators=[InputRequired("Choose how often the team reports.")],
    )
    custom_dates = FieldList(
        DateInputField("Report date", validators=[Optional()]),
        min_entries=CUSTOM_DATE_INPUTS,
        max_entries=CUSTOM_DATE_INPUTS,
    )
    version = VersionField()

    def chosen_dates(self) -> list[date]:
        """The custom dates typed in; blank inputs are ignored."""
        return [entry.data for entry in self.custom_dates if entry.data is not None]


class MilestoneForm(FlaskForm):
    title = StringField(
        "Milestone",
        filters=[_strip],
        validators=[
            InputRequired('Enter what the milestone is, like "First co-design workshop".'),
            Length(max=200, message="Keep the milestone to 200 characters or fewer."),
        ],
    )
    due_on = DateInputField("Due date", validators=[InputRequired("Enter the date the milestone is due.")])


class MilestoneEditForm(MilestoneForm):
    """Changing a milestone's name or date, from the version of it the page showed."""

    version = VersionField()


class MilestoneDoneForm(FlaskForm):
    done = HiddenField(validators=[InputRequired()])
    version = VersionField()


CATEGORY_PAIRS = [(c.value, c.label) for c in BudgetCategory]


class ExpenseForm(FlaskForm):
    spent_on = DateInputField("Date spent", validators=[InputRequired("Enter the date the money was spent.")])
    category = SelectField(
        "Kind of spending",
        choices=choices([("", "Choose one"), *CATEGORY_PAIRS]),
        validators=[InputRequired("Choose what kind of spending this is.")],
    )
    description = StringField(
        "What it was for",
        filters=[_strip],
        validators=[
            InputRequired("Say what the money was spent on."),
            Length(max=200, message="Keep this to 200 characters or fewer."),
        ],
    )
    amount = PoundsField(
        "Amount in pounds", validators=[InputRequired(MONEY_MESSAGE)], description="For example 45.50."
    )

    def category_value(self) -> BudgetCategory | None:
        return BudgetCategory(self.category.data) if self.category.data in BudgetCategory._value2member_map_ else None


class RemoveForm(FlaskForm):
    pass


STATUS_PAIRS = [(s.value, s.label) for s in ProjectStatus]


class ReportForm(FlaskForm):
    period_start = DateInputField("First day this report covers", validators=[Optional()])
    period_end = DateInputField("Last day this report covers", validators=[Optional()])
    what_happened = TextAreaField("What happened", description="The main things you did in this period.")
    what_changed = TextAreaField("What changed", description="For the people involved, or for how you work.")
    what_we_learned = TextAreaField(
        "What we learned",
        description="If the programme team accepts the report, your team can choose "
        "to share this on the project's public page.",
    )
    challenges = TextAreaField("Challenges", description="What was hard, and what you did about it.")
    stages = CheckboxesField(
        "At which stages were people with lived experience involved?",
        choices=choices(list(vocabulary.STAGES.items())),
        validate_choice=False,
    )
    values = CheckboxesField(
        "Which values of co-production did you put into practice?",
        choices=choices(list(vocabulary.VALUES.items())),
        validate_choice=False,
    )
    status = RadioField(
        "How is the project going?", choices=choices(STATUS_PAIRS), validators=[Optional()], validate_choice=False
    )
    version = VersionField()

    def content(self) -> ReportContent:
        status = self.status.data
        return ReportContent(
            period_start=self.period_start.data,
            period_end=self.period_end.data,
            what_happened=self.what_happened.data or "",
            what_changed=self.what_changed.data or "",
            what_we_learned=self.what_we_learned.data or "",
            challenges=self.challenges.data or "",
            stages=list(self.stages.data or []),
            values=list(self.values.data or []),
            status=ProjectStatus(status) if status in ProjectStatus._value2member_map_ else None,
        )


DECISION_PAIRS = [("accept", "Accept the report"), ("changes", "Ask the team for changes")]


class DecisionForm(FlaskForm):
    decision = RadioField(
        "Your decision",
        choices=choices(DECISION_PAIRS),
        validators=[InputRequired("Choose whether to accept the report or ask for changes.")],
    )
    feedback = TextAreaField(
        "Feedback for the team",
        filters=[_strip],
        validators=[Length(max=5000, message="Keep this to 5,000 characters or fewer.")],
        description="Needed if you ask for changes: say what to change. The team sees this.",
    )
    version = VersionField()


class PublishForm(FlaskForm):
    publish = HiddenField(validators=[InputRequired()])


class ReportFilterForm(FlaskForm):
    """Read-only filters sent with GET, so no CSRF token (and bookmarkable URLs)."""

    class Meta:
        csrf = False

    show = SelectField("Show", choices=choices(SHOW_CHOICES), validators=[Optional()])

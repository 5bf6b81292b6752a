"""Forms for telling a story, moderating, storyteller records, the import and the filters."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from wtforms import (
    BooleanField,
    DateField,
    HiddenField,
    RadioField,
    SearchField,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.validators import InputRequired, Length, Optional, ValidationError

from portal.core import vocabulary
from portal.core.extensions import db
from portal.core.form_fields import CheckboxesField, VersionField
from portal.core.forms import choices
from portal.grants.models import Phase
from portal.stories.models import (
    GENDERS,
    LIVED_EXPERIENCE_AREAS,
    PREFER_NOT_TO_SAY,
    ROLES,
    SECTORS,
    ConsentMethod,
    Scope,
)
from portal.teams.models import Project

PREFER = (PREFER_NOT_TO_SAY, "Prefer not to say")
SCOPE_PAIRS = [
    (Scope.PUBLIC.value, "Everyone: anyone can read it on this site"),
    (Scope.NETWORK.value, "Members only: people signed in to the portal"),
    (Scope.RESEARCH.value, "Research only: never shown, used only in the programme's research"),
]
ASK_LABEL = "Ask me before publishing"
ASK_HINT = (
    "Our team may take out details that could identify you or others. Tick this to see exactly what "
    "they changed and approve it before your story is published."
)
STAFF_CONSENT_PAIRS = [(m.value, m.label) for m in ConsentMethod if m != ConsentMethod.SELF]


def at_most(limit: int) -> Length:
    return Length(max=limit, message=f"Keep this to {limit:,} characters or fewer.")


def _strip(value: Any) -> Any:
    return value.strip() if isinstance(value, str) else value


def project_pairs() -> list[tuple[str, str]]:
    rows = db.session.execute(sa.select(Project.id, Project.title).order_by(Project.title)).all()
    return [(str(row.id), row.title) for row in rows]


def phase_pairs() -> list[tuple[str, str]]:
    rows = db.session.execute(sa.select(Phase.id, Phase.name).order_by(Phase.opens_on, Phase.id)).all()
    return [(str(row.id), row.name) for row in rows]


def seen_version(field: VersionField) -> int | None:
    """The version a form was opened at (``VersionField`` reads a number or 0; None when absent)."""
    return field.seen


def optional_int(value: str | None) -> int | None:
    return int(value) if value and value.isascii() and value.isdigit() and len(value) <= 9 else None


class StoryForm(FlaskForm):
    title = StringField("Title", validators=[InputRequired("Give your story a title."), at_most(200)], filters=[_strip])
    summary = TextAreaField(
        "Summary",
        validators=[InputRequired("Write a sentence or two saying what the story is about."), at_most(600)],
        description="A sentence or two saying what the story is about. It shows in the library.",
    )
    body = TextAreaField(
        "Your story",
        validators=[Optional(), at_most(50_000)],
        description="Write it in your own words. You can use Markdown: **bold**, *italic*, "
        "a blank line between paragraphs, and - for a list.",
    )
    media_file = FileField(
        "Audio or video file (optional)", description="An MP3, M4A, OGG or WAV recording, or an MP4 video."
    )
    media_link = StringField(
        "Or a link to a recording (optional)",
        validators=[Optional(), at_most(500)],
        filters=[_strip],
        description="A web address starting https://",
    )
    remove_media = BooleanField("Remove the file that is there now")
    transcript = TextAreaField(
        "Transcript",
        validators=[Optional(), at_most(100_000)],
        description="Every word of the recording, written down. A story with audio or "
        "video is published only with its transcript.",
    )
    project_id = SelectField("Project (optional)", validators=[Optional()])
    themes = CheckboxesField(
        "What does your story show about the value of co-production?",
        choices=choices(list(vocabulary.THEMES.items())),
        validators=[Optional()],
    )
    values = CheckboxesField(
        "Which values of co-production are in your story?",
        choices=choices(list(vocabulary.VALUES.items())),
        validators=[Optional()],
    )
    scope = RadioField(
        "Who may read your story?",
        choices=choices(SCOPE_PAIRS),
        default=Scope.PUBLIC.value,
        validators=[InputRequired("Choose who may read your story.")],
    )
    anonymous = BooleanField("Keep my name off it: show a made-up name (a pseudonym) instead")
    ask_before_publishing = BooleanField(
        ASK_LABEL,
        description=ASK_HINT,
    )
    pseudonym = StringField(
        "Pseudonym (optional)",
        validators=[Optional(), at_most(120)],
        filters=[_strip],
        description="The name shown if you keep your name off. Leave blank for “An anonymous storyteller”.",
    )
    consent = BooleanField(
        "I agree to my story being used in the way I chose above. I know I can withdraw it at "
        "any time, and it will then be deleted.",
        validators=[InputRequired("Tick the box to say you agree, or choose different options.")],
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.project_id.choices = choices([("", "No project"), *project_pairs()])


class EditStoryForm(StoryForm):
    """The storyteller changing their story; consent is already recorded."""

    # WTForms drops an inherited field that a subclass sets to None; mypy sees a changed type.
    consent = None  # type: ignore[assignment]
    version = VersionField()


class OnBehalfStoryForm(StoryForm):
    """Staff entering a story for a storyteller (often interviewed), with the consent they gave."""

    consent_method = RadioField(
        "How did the storyteller give their consent?",
        choices=choices(STAFF_CONSENT_PAIRS),
        validators=[InputRequired("Say how the storyteller gave their consent.")],
    )
    consent_given_on = DateField(
        "Date consent was given", validators=[InputRequired("Enter the date consent was given, like 2026-03-31.")]
    )
    consent_note = StringField(
        "Where the consent is kept (optional)",
        validators=[Optional(), at_most(300)],
        filters=[_strip],
        description="For example: the signed form is in the project file.",
    )
    ask_before_publishing = BooleanField(
        "Ask the storyteller before publishing",
        description="They sign in to see exactly what our team changed, and the story is published when they approve.",
    )
    consent = BooleanField(
        "The storyteller agreed to the choices above about who may read it and whether "
        "their name is shown, and knows they can withdraw it at any time.",
        validators=[InputRequired("Tick the box to confirm the storyteller's consent.")],
    )


class ModerationEditForm(FlaskForm):
    """The one moderation form: the text as it will be published, saved ("save") or saved and
    published ("publish") by its buttons, from the version it was opened at."""

    title = StringField("Title", validators=[InputRequired("The story needs a title."), at_most(200)])
    summary = TextAreaField("Summary", validators=[InputRequired("The story needs a summary."), at_most(600)])
    body = TextAreaField("Story", validators=[Optional(), at_most(50_000)])
    transcript = TextAreaField("Transcript", validators=[Optional(), at_most(100_000)])
    version = VersionField()


class ApprovalForm(FlaskForm):
    """The storyteller's answer to the changes, for the version they saw."""

    note = TextAreaField(
        "What is wrong with the changes?",
        validators=[Optional(), at_most(2000)],
        description="Needed only if you do not approve them. Our team reads this and looks at the story again.",
    )
    version = VersionField()


class AskSettingForm(FlaskForm):
    ask_before_publishing = BooleanField(ASK_LABEL, description=ASK_HINT)


class DecisionForm(FlaskForm):
    action = HiddenField()
    note = TextAreaField(
        "Note to the storyteller",
        validators=[Optional(), at_most(2000)],
        description="Needed when you ask for changes or decide not to publish. Say what to change, kindly and plainly.",
    )


class ConfirmForm(FlaskForm):
    """A button that needs only the CSRF token (withdraw, feature, start review)."""


class StorytellerForm(FlaskForm):
    display_name = StringField(
        "Name",
        validators=[InputRequired("Enter the name to show."), at_most(120)],
        filters=[_strip],
        description="The name shown with stories that are not anonymous.",
    )
    pseudonym = StringField(
        "Pseudonym (optional)",
        validators=[Optional(), at_most(120)],
        filters=[_strip],
        description="Shown instead of the name on anonymous stories.",
    )
    email = StringField("Email (optional)", validators=[Optional(), at_most(254)], filters=[_strip])
    project_id = SelectField("Gathered for project (optional)", validators=[Optional()])
    demographics_consent_method = RadioField(
        "How did the storyteller agree to these answers being stored?",
        choices=choices(STAFF_CONSENT_PAIRS),
        validators=[Optional()],
    )
    demographics_consent = BooleanField(
        "Store these answers about me. They are kept private: only programme staff see them about a person, "
        "and they are counted (never named) in the storyteller summary. I can remove them at any time."
    )
    roles = CheckboxesField(
        "Roles (tick all that apply)", choices=choices([*ROLES.items(), PREFER]), validators=[Optional()]
    )
    sectors = CheckboxesField(
        "Sectors (tick all that apply)", choices=choices([*SECTORS.items(), PREFER]), validators=[Optional()]
    )
    gender = RadioField("Gender", choices=choices([*GENDERS.items(), PREFER]), validators=[Optional()])
    gender_description = StringField(
        "If in another way, how do you describe your gender? (optional)",
        validators=[Optional(), at_most(60)],
        filters=[_strip],
    )
    lgbtqia = RadioField(
        "Do you identify as LGBTQIA+?", choices=choices([("yes", "Yes"), ("no", "No"), PREFER]), validators=[Optional()]
    )
    disability = RadioField(
        "Do you consider yourself to have a disability?",
        choices=choices([("yes", "Yes"), ("no", "No"), PREFER]),
        validators=[Optional()],
    )
    ethnicity = StringField(
        "Ethnicity, in your own words (optional)",
        validators=[Optional(), at_most(120)],
        filters=[_strip],
        description="For example: White British, British Pakistani, Black, mixed race.",
    )
    ethnicity_prefer_not = BooleanField("Prefer not to say my ethnicity")
    age = StringField(
        "Age in years (optional)",
        filters=[_strip],
        validators=[Optional(), Length(max=3, message="Enter an age in whole years, like 42, or leave it blank.")],
    )
    age_prefer_not = BooleanField("Prefer not to say my age")
    lived_experience_areas = CheckboxesField(
        "Lived experience of (tick all that apply)",
        choices=choices([*LIVED_EXPERIENCE_AREAS.items(), PREFER]),
        validators=[Optional()],
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.project_id.choices = choices([("", "No project"), *project_pairs()])


class ImportForm(FlaskForm):
    file = FileField("CSV file", description="Saved as CSV UTF-8, with the columns of the template.")


class ConfirmImportForm(FlaskForm):
    data = HiddenField()
    filename = HiddenField()


class LibraryFilterForm(FlaskForm):
    """Read-only filters sent with GET, so no CSRF token (and bookmarkable URLs)."""

    class Meta:
        csrf = False

    q = SearchField("Search stories", validators=[Optional(), at_most(100)])
    theme = SelectField(
        "Theme", choices=choices([("", "Any theme"), *vocabulary.THEMES.items()]), validators=[Optional()]
    )
    value = SelectField(
        "Value", choices=choices([("", "Any value"), *vocabulary.VALUES.items()]), validators=[Optional()]
    )
    phase = SelectField("Funding phase", validators=[Optional()])
    # Thousands of projects: not a menu but a name to type, matched on the server (the page lists
    # the projects that match as links; with htmx they appear as you type). ``project`` is the
    # one chosen, kept in the links and in a hidden field.
    project_name = SearchField(
        "Project", description="Type part of a project's name.", validators=[Optional(), at_most(100)]
    )
    project = HiddenField(validators=[Optional()])

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.phase.choices = choices([("", "Any phase"), *phase_pairs()])


class SummaryFilterForm(FlaskForm):
    """``offered``: the projects with figures of their own (None: every project, for exact figures)."""

    class Meta:
        csrf = False

    project = SelectField("Project", validators=[Optional()], validate_choice=False)
    view = SelectField(
        "Figures",
        choices=choices([("", "Exact (staff only)"), ("public", "As the public sees them")]),
        validators=[Optional()],
    )

    def __init__(self, *args: Any, offered: set[int] | None = None, minimum: int = 0, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        pairs = project_pairs()
        self.not_offered = 0 if offered is None else sum(1 for value, _ in pairs if int(value) not in offered)
        self.minimum = minimum
        shown = [pair for pair in pairs if offered is None or int(pair[0]) in offered]
        self.offered_values = {value for value, _ in shown}
        self.project.choices = choices([("", "All projects"), *shown])

    def validate_project(self, field: SelectField) -> None:
        if field.data and field.data not in self.offered_values:
            raise ValidationError(
                f"Figures for this project are not shown on their own: a project needs at least "
                f"{self.minimum} storytellers, so that no one can be picked out. Choose all projects or "
                "another project."
            )


class QueueFilterForm(FlaskForm):
    class Meta:
        csrf = False

    state = SelectField(
        "Show",
        validators=[Optional()],
        choices=choices(
            [
                ("", "Everything waiting"),
                ("submitted", "Waiting for review"),
                ("in_review", "In review"),
                ("changes_requested", "Changes requested"),
                ("awaiting_approval", "Waiting for the storyteller's approval"),
            ]
        ),
    )

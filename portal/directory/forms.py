"""Forms for the directory: your entry, the filters, messages; and for safeguarding: blocking,
reporting, and the decisions staff make about reports."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import BooleanField, RadioField, SelectField, SelectMultipleField, StringField, TextAreaField
from wtforms.validators import InputRequired, Length, Optional

from portal.core.form_fields import VersionField, strip
from portal.core.forms import choices
from portal.core.vocabulary import VALUES
from portal.directory.models import DirectoryEntry, ReportReason
from portal.directory.services import MAX_MESSAGE_LENGTH

VALUE_CHOICES = list(VALUES.items())


class EntryForm(FlaskForm):
    listed = BooleanField(
        "List me in the directory",
        description="Only signed-in members can see the directory. Untick this at any time to take your entry out.",
    )
    display_name = StringField(
        "Name to show",
        filters=[strip],
        validators=[
            InputRequired("Enter the name to show, like your first name."),
            Length(max=120, message="Keep the name to 120 characters."),
        ],
        description="Your full name, your first name, or what you like to be called.",
    )
    show_pronouns = BooleanField("Show my pronouns")
    show_bio = BooleanField("Show the bio from my profile")
    show_projects = BooleanField("Show the pilot projects I am on the team of")
    accepts_messages = BooleanField(
        "Let other members send me messages through the portal",
        description="You read and answer them here. Nobody sees your email address.",
    )
    interests = SelectMultipleField(
        "Interests", choices=choices(VALUE_CHOICES), validators=[Optional()], validate_choice=False
    )  # the service says what is wrong
    skills = StringField(
        "Skills",
        filters=[strip],
        validators=[Optional(), Length(max=600)],
        description="Separate skills with commas, like: facilitation, peer support, British Sign Language.",
    )
    version = VersionField()  # the entry's version when the form was opened (empty before there is one)

    @classmethod
    def for_entry(cls, entry: DirectoryEntry) -> EntryForm:
        """The form holding ``entry`` as saved. Built from plain values, never with ``obj=entry``:
        WTForms would then read the ``interests`` and ``skills`` relationships themselves (rows,
        not keys), so the skills box held their Python reprs and no interest was ticked, and saving
        the unchanged form replaced the skills with that text and deleted the interests."""
        return cls(
            formdata=None,
            data={
                "listed": entry.listed,
                "display_name": entry.display_name,
                "show_pronouns": entry.show_pronouns,
                "show_bio": entry.show_bio,
                "show_projects": entry.show_projects,
                "accepts_messages": entry.accepts_messages,
                "interests": entry.interest_values,
                "skills": entry.skills_text,
                "version": entry.version,
            },
        )


class FilterForm(FlaskForm):
    class Meta:
        csrf = False  # a search form (GET): it changes nothing

    interest = SelectField("Interest", choices=choices([("", "Any interest"), *VALUE_CHOICES]), validators=[Optional()])
    skill = StringField(
        "Skill",
        filters=[strip],
        validators=[Optional(), Length(max=40)],
        description='The start of a skill is enough, like "facilit".',
    )


class MessageForm(FlaskForm):
    body = TextAreaField(
        "Your message",
        filters=[strip],
        validators=[
            InputRequired("Write your message."),
            Length(max=MAX_MESSAGE_LENGTH, message=f"Keep your message to {MAX_MESSAGE_LENGTH:,} characters."),
        ],
    )


# --- safeguarding ---------------------------------------------------------------------

REASON_CHOICES = [(r.value, r.label) for r in ReportReason]


class ButtonForm(FlaskForm):
    """A button that changes something (block, unblock): the CSRF token and nothing else."""


class ReportForm(FlaskForm):
    # The service says what is wrong (no choice, details missing for "something else").
    reason = RadioField("What is the problem?", choices=choices(REASON_CHOICES), validate_choice=False)
    details = TextAreaField(
        "What happened? (optional, needed for something else)",
        filters=[strip],
        validators=[Optional()],
        description="Only programme staff read this. The person you report is not told who reported them.",
    )


class DismissForm(FlaskForm):
    note = TextAreaField(
        "Note for the record (optional)",
        filters=[strip],
        validators=[Optional()],
        description="Kept with the report and in the audit log. The reported person is not told.",
    )


class SuspendForm(FlaskForm):
    reason = TextAreaField(
        "Why is the account suspended?",
        filters=[strip],
        validators=[Optional()],
        description="The person is emailed this reason, with how to appeal. Write it in plain words, "
        "without saying who reported them.",
    )


class LiftForm(FlaskForm):
    note = TextAreaField(
        "Note to the person (optional)",
        filters=[strip],
        validators=[Optional()],
        description="Added to the email telling them they can sign in again. Also kept in the audit log.",
    )


class ReadForm(FlaskForm):
    """The "mark as read" button: only its CSRF token."""

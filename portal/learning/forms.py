"""Forms for posts, comments, flags and moderation decisions."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import HiddenField, RadioField, SearchField, SelectField, StringField, TextAreaField
from wtforms.validators import Length, Optional

from portal.core import vocabulary
from portal.core.form_fields import CheckboxesField, VersionField
from portal.core.forms import choices
from portal.learning.models import FlagReason, Visibility


class PostForm(FlaskForm):
    title = StringField("Title", validators=[Length(max=200, message="Keep the title to 200 characters or fewer.")])
    body = TextAreaField(
        "What did you learn?",
        description=(
            "You can use Markdown: **bold**, *italic*, [a link](https://example.org), lists with - at the start "
            "of a line. Images and HTML are not shown."
        ),
    )
    project_id = SelectField("Project (optional)", coerce=lambda v: int(v) if v else None, validate_choice=False)
    values = CheckboxesField(
        "Which values of co-production does it show?",
        choices=choices(list(vocabulary.VALUES.items())),
        validate_choice=False,
    )
    themes = CheckboxesField(
        "Which themes is it about?", choices=choices(list(vocabulary.THEMES.items())), validate_choice=False
    )
    visibility = RadioField(
        "Who can read it?",
        choices=choices([(v.value, v.label) for v in Visibility]),
        default=Visibility.PUBLIC.value,
        validate_choice=False,
    )
    version = VersionField()  # the post's version the form was opened at (only when changing a post)


class CommentForm(FlaskForm):
    body = TextAreaField("Your comment")
    parent_id = HiddenField()


class FlagForm(FlaskForm):
    reason = RadioField(
        "Why are you flagging this?", choices=choices([(r.value, r.label) for r in FlagReason]), validate_choice=False
    )
    note = TextAreaField(
        "Anything the moderators should know (optional, required for something else)", validators=[Optional()]
    )


class DecisionForm(FlaskForm):
    reason = TextAreaField("Reason, sent to the author (needed to hide)", validators=[Optional()])
    decision = HiddenField()


class FeedFilterForm(FlaskForm):
    class Meta:
        csrf = False

    tag = SelectField("Value or theme", validate_choice=False)
    # Thousands of projects: a name to type, matched on the server (see ``core.keyset.NameChoice``).
    project_name = SearchField(
        "Project",
        description="Type part of a project's name.",
        validators=[Optional(), Length(max=100, message="Keep this to 100 characters or fewer.")],
    )
    project = HiddenField(validators=[Optional()])
    phase = SelectField("Funding round", validate_choice=False)

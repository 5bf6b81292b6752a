"""Forms for managing people's accounts."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import SearchField, SelectField, StringField
from wtforms.validators import Length, Optional

from portal.accounts.models import Role
from portal.core.forms import choices

ROLE_PAIRS = [(r.value, r.label) for r in Role]


class UserSearchForm(FlaskForm):
    """Read-only filters sent with GET, so no CSRF token (and bookmarkable URLs)."""

    class Meta:
        csrf = False

    q = SearchField("Search by name or email", validators=[Optional(), Length(max=100)])
    role = SelectField("Role", choices=choices([("", "Any role"), *ROLE_PAIRS]), validators=[Optional()])


class RoleForm(FlaskForm):
    role = SelectField("Role", choices=choices(ROLE_PAIRS))


class DeactivateForm(FlaskForm):
    reason = StringField(
        "Reason (optional)",
        validators=[Optional(), Length(max=500)],
        description="Kept in the audit log.",
    )


class EraseForm(FlaskForm):
    """Only the CSRF token: what will happen is said on the confirmation page."""


class ReactivateForm(FlaskForm):
    pass


class AuditFilterForm(FlaskForm):
    class Meta:
        csrf = False

    action = SelectField("Action", choices=choices([("", "Any action")]), validators=[Optional()])
    object_type = SelectField(
        "Object",
        choices=choices([("", "Any object"), ("User", "People")]),
        validators=[Optional()],
        validate_choice=False,
    )


class PlainForm(FlaskForm):
    """A button that changes something: the CSRF token and nothing else."""


class ResetTwoFactorForm(FlaskForm):
    """A button: remove a person's second factor (a lost phone)."""

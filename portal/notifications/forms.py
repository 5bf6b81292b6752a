"""Forms of the notifications pages."""

from __future__ import annotations

from typing import Any

from flask_wtf import FlaskForm
from wtforms import RadioField
from wtforms.validators import InputRequired

from portal.core.forms import choices
from portal.notifications.inbox import DIGEST_CHOICES, LEVELS
from portal.notifications.models import DIGEST


class PlainForm(FlaskForm):
    """A form with only its CSRF token."""


def field_name(kind: str) -> str:
    return DIGEST if kind == DIGEST else f"level_{kind}"


def settings_form(kinds: dict[str, str], chosen: dict[str, str]) -> FlaskForm:
    """One radio group per kind this person can get (off, in the portal, by email too) and one
    for the digest (off, daily, weekly), each starting at the person's current choice."""
    fields: dict[str, Any] = {
        field_name(kind): RadioField(
            label,
            choices=choices(list(LEVELS.items())),
            default=chosen[kind],
            validators=[InputRequired("Choose off, in the portal, or in the portal and by email.")],
        )
        for kind, label in kinds.items()
    }
    fields[DIGEST] = RadioField(
        "Digest email",
        choices=choices(list(DIGEST_CHOICES.items())),
        default=chosen[DIGEST],
        description="One email with what is due for you and what is new: learning posts, stories and gatherings. "
        "It comes only when there is something in it.",
        validators=[InputRequired("Choose off, daily or weekly.")],
    )
    form_class = type("NotificationSettingsForm", (FlaskForm,), fields)
    form: FlaskForm = form_class()
    return form


def chosen_levels(form: FlaskForm, kinds: dict[str, str]) -> dict[str, str]:
    """What the form says, kind (and ``digest``) -> level."""
    return {kind: str(form[field_name(kind)].data) for kind in [*kinds, DIGEST]}

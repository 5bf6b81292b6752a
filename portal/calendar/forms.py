"""The calendar page's buttons: forms with no fields, for their CSRF tokens."""

from __future__ import annotations

from flask_wtf import FlaskForm


class CalendarLinkForm(FlaskForm):
    pass

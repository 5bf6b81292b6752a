"""Forms for gatherings. Times are typed in UK time (Europe/London) and stored in UTC."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from flask_wtf import FlaskForm
from wtforms import BooleanField, DateTimeLocalField, SelectField, StringField, TextAreaField
from wtforms.validators import InputRequired, Length, Optional, ValidationError

from portal.core.form_fields import VersionField, strip
from portal.core.formatting import LONDON
from portal.core.forms import choices
from portal.gatherings.models import Gathering
from portal.gatherings.services import GatheringDetails

_UNITS = re.compile(r"[0-9]{1,4}(\.[0-9]{1,2})?|\.[0-9]{1,2}")  # ASCII digits only


def number_text(value: Decimal | None) -> str:
    """Decimal('1.50') -> '1.5'; Decimal('2.00') -> '2'."""
    if value is None:
        return ""
    text = f"{value:f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


class UnitsField(StringField):
    """How many units, like 2 or 1.5; ``number`` holds it as a Decimal after validation (or None)."""

    def pre_validate(self, form: Any) -> None:
        self.number: Decimal | None = None
        text = (self.data or "").strip()
        if not text:
            return
        if not _UNITS.fullmatch(text):
            raise ValidationError("Enter a number of units, like 2 or 1.5.")
        self.number = Decimal(text)


class LondonDateTimeField(DateTimeLocalField):
    """A date and time in UK time; ``utc`` holds it in UTC after validation."""

    def __init__(self, label: str, validators: Any = None, **kwargs: Any) -> None:
        super().__init__(label, validators, format="%Y-%m-%dT%H:%M", **kwargs)

    def process_formdata(self, valuelist: list[str]) -> None:
        if not valuelist or not "".join(valuelist).strip():
            self.data = None
            return
        try:
            self.data = datetime.strptime(valuelist[0].strip(), "%Y-%m-%dT%H:%M")
        except ValueError:
            self.data = None
            raise ValueError("Enter a date and time, like 14 3 2027 at 10:30.") from None

    @property
    def utc(self) -> datetime | None:
        return None if self.data is None else self.data.replace(tzinfo=LONDON).astimezone(UTC)


def _local(moment: datetime | None) -> datetime | None:
    return None if moment is None else moment.astimezone(LONDON).replace(tzinfo=None)


class CapacityField(StringField):
    def pre_validate(self, form: Any) -> None:
        self.number: int | None = None
        text = (self.data or "").strip()
        if not (text.isascii() and text.isdigit() and len(text) <= 9):
            raise ValidationError("Enter how many people can come, as a whole number like 20.")
        self.number = int(text)


class GatheringForm(FlaskForm):
    title = StringField(
        "Title",
        filters=[strip],
        validators=[
            InputRequired("Enter the gathering's title."),
            Length(max=200, message="Keep the title to 200 characters."),
        ],
    )
    description = TextAreaField(
        "What it is for and what will happen",
        filters=[strip],
        validators=[
            InputRequired("Say what the gathering is for and what will happen."),
            Length(max=10000, message="Keep the description to 10,000 characters."),
        ],
    )
    starts_at = LondonDateTimeField(
        "Starts", validators=[InputRequired("Enter when the gathering starts.")], description="UK time."
    )
    ends_at = LondonDateTimeField(
        "Ends", validators=[InputRequired("Enter when the gathering ends.")], description="UK time."
    )
    place = StringField(
        "Place",
        filters=[strip],
        validators=[Optional(), Length(max=300)],
        description="The address, with the room and how to find it. Leave empty if it is online only.",
    )
    online_link = StringField(
        "Online link",
        filters=[strip],
        validators=[Optional(), Length(max=500)],
        description="Only people who are signed in see it. Leave empty if it is in person only.",
    )
    accessibility = TextAreaField(
        "Accessibility",
        filters=[strip],
        validators=[Optional(), Length(max=5000)],
        description="Step-free access, hearing loop, quiet room, captions, "
        "breaks, travel help: whatever people need to know to decide.",
    )
    capacity = CapacityField("How many people can come")
    paid = BooleanField(
        "Attendees with lived experience are paid for their time",
        description="When you mark attendance, each paid attendee gets a draft claim to check and send.",
    )
    activity_type_id = SelectField(
        "Paid as", validators=[Optional()], description="The rate card activity. Only needed if attendees are paid."
    )
    units = UnitsField(
        "How many units of that activity",
        description="For example 2 for two hours of a meeting, or 1 for one half day of a workshop.",
    )
    project_id = SelectField(
        "Pilot project", validators=[Optional()], description="Optional: the project the gathering belongs to."
    )
    public = BooleanField(
        "Show it on the public calendar",
        description="Anyone, signed in or not, can then see its title, time, place and description in the "
        "portal's public calendar feed. The online link stays for signed-in members only.",
    )
    version = VersionField()  # the gathering's version the form was opened at (only when changing one)

    def set_choices(self, activities: list[Any], projects: list[Any]) -> None:
        self.activity_type_id.choices = choices(
            [("", "Choose an activity")] + [(str(a.id), f"{a.name} (paid by the {a.unit.label})") for a in activities]
        )
        self.project_id.choices = choices(
            [("", "None: a programme gathering")] + [(str(p.id), p.title) for p in projects]
        )

    @classmethod
    def for_gathering(cls, gathering: Gathering) -> GatheringForm:
        return cls(
            formdata=None,
            title=gathering.title,
            description=gathering.description,
            starts_at=_local(gathering.starts_at),
            ends_at=_local(gathering.ends_at),
            place=gathering.place,
            online_link=gathering.online_link,
            accessibility=gathering.accessibility,
            capacity=str(gathering.capacity),
            paid=gathering.paid,
            activity_type_id=str(gathering.activity_type_id or ""),
            units=number_text(gathering.units),
            project_id=str(gathering.project_id or ""),
            public=gathering.public,
            version=gathering.version,
        )

    def details(self) -> GatheringDetails:
        assert self.starts_at.utc is not None and self.ends_at.utc is not None
        return GatheringDetails(
            title=self.title.data or "",
            description=self.description.data or "",
            starts_at=self.starts_at.utc,
            ends_at=self.ends_at.utc,
            place=self.place.data or "",
            online_link=self.online_link.data or "",
            accessibility=self.accessibility.data or "",
            capacity=self.capacity.number or 0,
            paid=bool(self.paid.data),
            activity_type_id=int(self.activity_type_id.data) if self.activity_type_id.data else None,
            units=self.units.number,
            project_id=int(self.project_id.data) if self.project_id.data else None,
            public=bool(self.public.data),
        )


class RsvpForm(FlaskForm):
    access_needs = TextAreaField(
        "Your access needs for this gathering (optional)",
        filters=[strip],
        validators=[Optional(), Length(max=2000, message="Keep this to 2,000 characters.")],
        description="Only the organisers see this. Your profile's access needs are not "
        "shared unless you write them here.",
    )
    lived_experience = BooleanField(
        "I am coming as someone with lived experience, and would like to be paid",
        description="After the gathering you get a draft claim to check and send.",
    )


class CancelForm(FlaskForm):
    pass


class AttendanceForm(FlaskForm):
    pass

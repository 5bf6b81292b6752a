"""Form fields and filters every domain uses: amounts in pounds held as integer pence, exact
numbers, dates.

Numbers are typed with the ASCII digits 0-9 only. Python's ``\\d``, ``str.isdigit`` and
``int``/``Decimal`` also take other scripts' digits ("٣", fullwidth "１", superscript "²", which
``int`` then refuses) and exponents or separators ("1e3", "1_000"): a value someone did not mean,
or a crash. Every money and number field here matches ``[0-9]`` explicitly and says what to type.
"""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

from wtforms import DateField, HiddenField, SelectMultipleField, StringField, TimeField, ValidationError
from wtforms.widgets import CheckboxInput, ListWidget

MONEY_MESSAGE = "Enter an amount in pounds and pence, like 45.50."
# "45", "45.5", "45.50", "£1,234.50": digits (optionally in groups of three), up to 2 decimals.
_POUNDS = re.compile(r"£?([0-9]{1,3}(,[0-9]{3})+|[0-9]{1,12})(\.[0-9]{1,2})?")
# "1", "1.5", ".5": at most seven whole digits; places are checked by the field.
_NUMBER = re.compile(r"[0-9]{1,7}(\.[0-9]+)?|\.[0-9]+")


# The most any amount may be: PostgreSQL's INTEGER columns hold up to 2,147,483,647 pence
# (about £21.4 million), so anything larger is refused by the form instead of failing to save.
CEILING_PENCE = 20_000_000_00
CEILING_MESSAGE = "Enter an amount no more than £20,000,000."


def ascii_digits(text: str, *, most: int = 9) -> bool:
    """True for 1 to ``most`` ASCII digits and nothing else ("12"; not "٣", "１", "²", "1e3", "-1")."""
    return 0 < len(text) <= most and text.isascii() and text.isdigit()


def strip(value: str | None) -> str | None:
    return value.strip() if isinstance(value, str) else value


def parse_pounds(text: str) -> int:
    """'£1,234.50' -> 123450. Raises ValueError for anything that is not pounds and pence."""
    cleaned = text.strip().replace(" ", "")
    if not _POUNDS.fullmatch(cleaned):
        raise ValueError(text)
    return int(Decimal(cleaned.lstrip("£").replace(",", "")) * 100)


def pounds_text(pence: int | None) -> str:
    """123450 -> '1234.50', for putting an amount back into a form field."""
    if pence is None:
        return ""
    whole, part = divmod(pence, 100)
    return f"{whole}.{part:02d}"


class PoundsField(StringField):
    """An amount typed in pounds; after validation ``pence`` holds it as integer pence (or None)."""

    def __init__(
        self,
        label: str | None = None,
        validators: Any = None,
        *,
        message: str = MONEY_MESSAGE,
        minimum_pence: int | None = None,
        maximum_pence: int | None = None,
        range_message: str = "",
        **kwargs: Any,
    ) -> None:
        super().__init__(label, validators, **kwargs)
        self.message = message
        self.minimum_pence = minimum_pence
        self.maximum_pence = maximum_pence
        self.range_message = range_message
        self.pence: int | None = None

    def pre_validate(self, form: Any) -> None:
        self.pence = None
        text = (self.data or "").strip()
        if not text:
            return
        try:
            pence = parse_pounds(text)
        except ValueError:
            raise ValidationError(self.message) from None
        if pence > CEILING_PENCE and (self.maximum_pence is None or self.maximum_pence > CEILING_PENCE):
            raise ValidationError(self.range_message or CEILING_MESSAGE)
        if (self.minimum_pence is not None and pence < self.minimum_pence) or (
            self.maximum_pence is not None and pence > self.maximum_pence
        ):
            raise ValidationError(self.range_message or self.message)
        self.pence = pence


def number_text(value: Decimal | None) -> str:
    """Decimal('1.50') -> '1.5'; Decimal('2.00') -> '2'."""
    if value is None:
        return ""
    text = f"{value:f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


class NumberField(StringField):
    """An exact decimal number ("1.5") in ASCII digits; after validation ``number`` holds it (or None)."""

    def __init__(
        self,
        label: str | None = None,
        validators: Any = None,
        *,
        places: int = 2,
        message: str = "Enter a number, like 1 or 1.5.",
        **kwargs: Any,
    ) -> None:
        super().__init__(label, validators, **kwargs)
        self.places = places
        self.message = message
        self.number: Decimal | None = None

    def pre_validate(self, form: Any) -> None:
        self.number = None
        text = (self.data or "").strip()
        if not text:
            return
        if not _NUMBER.fullmatch(text):
            raise ValidationError(self.message)
        number = Decimal(text)
        exponent = number.normalize().as_tuple().exponent
        assert isinstance(exponent, int)  # digits matched: a finite number, not NaN or Infinity
        if -exponent > self.places:
            raise ValidationError(self.message)
        self.number = number


class _InvalidValueMessage:
    """Takes ``invalid_value_message``: what WTForms 3.3's date and time fields show for a value
    that does not parse. types-wtforms still describes 3.2, without that argument, so it goes on
    in ``kwargs``."""

    def __init__(
        self,
        label: str | None = None,
        validators: Any = None,
        *,
        invalid_value_message: str | None = None,
        **kwargs: Any,
    ) -> None:
        kwargs["invalid_value_message"] = invalid_value_message
        super().__init__(label, validators, **kwargs)  # type: ignore[call-arg]


class DateInputField(_InvalidValueMessage, DateField):
    """A date input whose empty value is simply "no date" (the validators decide if that is allowed)."""

    def process_formdata(self, valuelist: list[str]) -> None:
        if not valuelist or not "".join(valuelist).strip():
            self.data = None
            return
        super().process_formdata(valuelist)


class TimeInputField(_InvalidValueMessage, TimeField):
    """A time of day (``<input type="time">``, or "17:00" typed where browsers show a text box)."""


class CheckboxesField(SelectMultipleField):
    """A group of checkboxes (rendered by the ``choice_group`` macro, inside a fieldset)."""

    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


class VersionField(HiddenField):
    """The version of the record the form was opened at (``core.edits``): filled from the record's
    ``version`` when the form is built with ``obj=``, sent back with the form. Anything that is not a
    plain number reads as 0, which never matches a record, so a tampered form cannot skip the check;
    a form sent without the field at all (``data`` None) is not checked."""

    def process_formdata(self, valuelist: list[Any]) -> None:
        if valuelist:
            text = str(valuelist[0]).strip()
            self.data = int(text) if text.isascii() and text.isdigit() and len(text) <= 9 else 0  # type: ignore[assignment]

    @property
    def seen(self) -> int | None:
        """The version the form was opened at, for ``core.edits`` (None when the form was sent
        without the field, 0 for anything that is not a plain number)."""
        data: object = self.data
        return data if isinstance(data, int) else None

"""Import storytellers from a CSV file: a preview with every row's errors, then an
all-or-nothing commit (nothing is saved unless every row is valid).

The file is read again when the import is confirmed, so the preview holds nothing on the
server; the same checks run again and the commit happens in one transaction.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass, field

import sqlalchemy as sa

from portal.accounts.models import User
from portal.core import audit
from portal.core.extensions import db
from portal.stories.consent import DemographicAnswers, record_demographics
from portal.stories.models import (
    GENDERS,
    LIVED_EXPERIENCE_AREAS,
    PREFER_NOT_TO_SAY,
    ROLES,
    SECTORS,
    ConsentMethod,
    Storyteller,
)
from portal.stories.telling import create_storyteller

COLUMNS = [
    "name",
    "pseudonym",
    "email",
    "roles",
    "sectors",
    "gender",
    "lgbtqia",
    "disability",
    "ethnicity",
    "age",
    "lived_experience",
    "demographics_consent",
    "consent_method",
]
DEMOGRAPHIC_COLUMNS = COLUMNS[3:11]
MAX_ROWS = 5000
MAX_BYTES = 2 * 1024 * 1024
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
TEMPLATE_ROWS = [
    [
        "Lydia Example",
        "",
        "lydia@example.org",
        "lived experience; facilitator",
        "services",
        "female",
        "no",
        "prefer not to say",
        "White British",
        "42",
        "homelessness; poverty",
        "yes",
        "in writing",
    ],
    ["Interviewed Person", "River", "", "professional", "research; policy", "", "", "", "", "", "", "no", ""],
]


@dataclass
class RowError:
    row: int  # as a spreadsheet numbers it: the header is row 1
    column: str
    message: str

    def __str__(self) -> str:
        where = f"Row {self.row}" + (f", column {self.column}" if self.column else "")
        return f"{where}: {self.message}"


@dataclass
class ImportRow:
    row: int
    name: str
    pseudonym: str
    email: str
    consent: bool
    answers: DemographicAnswers | None
    method: ConsentMethod | None = None


@dataclass
class Preview:
    rows: list[ImportRow] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors and bool(self.rows)


def _norm(text: str) -> str:
    return " ".join(text.replace("_", " ").replace("-", " ").split()).casefold()


def _lookup(names: dict[str, str]) -> dict[str, str]:
    found = {_norm(key): key for key in names}
    found.update({_norm(label): key for key, label in names.items()})
    found[_norm("prefer not to say")] = PREFER_NOT_TO_SAY
    return found


ROLE_WORDS = _lookup(ROLES) | {"lived experience": "lived_experience", "living experience": "lived_experience"}
SECTOR_WORDS = _lookup(SECTORS)
AREA_WORDS = _lookup(LIVED_EXPERIENCE_AREAS) | {"aces": "adverse_childhood_experiences"}
GENDER_WORDS = _lookup(GENDERS) | {"woman": "female", "man": "male", "nonbinary": "non_binary"}
# How consent to store the answers was given (staff record it; "online" in the portal is the person's own tick).
METHOD_WORDS = {
    _norm(word.replace(",", " ")): method
    for method, words in {
        ConsentMethod.WRITTEN: ("written", "in writing", "on paper", "signed form", ConsentMethod.WRITTEN.label),
        ConsentMethod.SPOKEN_RECORDED: (
            "spoken recorded",
            "spoken and recorded",
            "recorded",
            ConsentMethod.SPOKEN_RECORDED.label,
        ),
        ConsentMethod.SPOKEN_NOTED: (
            "spoken noted",
            "spoken and written down",
            "in person",
            "by phone",
            ConsentMethod.SPOKEN_NOTED.label,
        ),
    }.items()
    for word in (*words, method.value)
}
METHOD_HELP = (
    "Say how consent was given: in writing, spoken and recorded, or spoken and written down (in person or by phone)."
)
ANSWER_WORDS = {"yes": "yes", "no": "no", "prefer not to say": PREFER_NOT_TO_SAY, "": ""}


def _list(
    raw: str, words: dict[str, str], what: str, allowed: str, row: int, column: str, errors: list[RowError]
) -> list[str]:
    keys = []
    for part in (piece for piece in raw.split(";") if piece.strip()):
        key = words.get(_norm(part))
        if key is None:
            errors.append(RowError(row, column, f"“{part.strip()}” is not {what}. Use {allowed}, separated by ;."))
        elif key not in keys:
            keys.append(key)
    if PREFER_NOT_TO_SAY in keys and len(keys) > 1:
        errors.append(RowError(row, column, "“prefer not to say” cannot be mixed with other answers."))
    return keys


def _answers(values: dict[str, str], row: int, errors: list[RowError]) -> DemographicAnswers:
    answers = DemographicAnswers(
        roles=_list(
            values["roles"], ROLE_WORDS, "a role", "lived experience, facilitator or professional", row, "roles", errors
        ),
        sectors=_list(
            values["sectors"], SECTOR_WORDS, "a sector", "research, policy or services", row, "sectors", errors
        ),
        lived_experience_areas=_list(
            values["lived_experience"],
            AREA_WORDS,
            "an area of lived experience",
            ", ".join(label.lower() for label in LIVED_EXPERIENCE_AREAS.values()),
            row,
            "lived_experience",
            errors,
        ),
        ethnicity=values["ethnicity"].strip(),
    )
    gender = values["gender"].strip()
    answers.gender = GENDER_WORDS.get(_norm(gender), gender)[:60] if gender else ""
    if _norm(answers.ethnicity) == "prefer not to say":
        answers.ethnicity = PREFER_NOT_TO_SAY
    for column in ("lgbtqia", "disability"):
        answer = ANSWER_WORDS.get(_norm(values[column]))
        if answer is None:
            errors.append(RowError(row, column, "Use yes, no, prefer not to say, or leave it blank."))
        else:
            setattr(answers, column, answer)
    age = values["age"].strip()
    if _norm(age) == "prefer not to say":
        answers.age_prefer_not_to_say = True
    elif age:
        if not (age.isascii() and age.isdigit()) or not 0 < int(age) <= 120:
            errors.append(
                RowError(row, "age", f"“{age}” is not an age. Use a whole number of years, or leave it blank.")
            )
        else:
            answers.age = int(age)
    return answers


def read(data: bytes) -> Preview:
    """Check every row; nothing is saved."""
    preview = Preview()
    if len(data) > MAX_BYTES:
        preview.errors.append(RowError(1, "", "The file is too big. Split it into files of 5,000 rows or fewer."))
        return preview
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        preview.errors.append(RowError(1, "", "Save the file as CSV UTF-8 and upload it again."))
        return preview
    reader = csv.reader(io.StringIO(text, newline=""))
    header = [name.strip().lower() for name in next(reader, [])]
    if sorted(header) != sorted(COLUMNS) or len(header) != len(COLUMNS):
        missing = [name for name in COLUMNS if name not in header]
        extra = [name for name in header if name not in COLUMNS]
        detail = (
            "; ".join(
                part
                for part in (
                    f"missing: {', '.join(missing)}" if missing else "",
                    f"not expected: {', '.join(extra)}" if extra else "",
                )
                if part
            )
            or "a column is repeated"
        )
        preview.errors.append(
            RowError(
                1,
                "",
                f"The first row must name exactly these columns: "
                f"{', '.join(COLUMNS)} ({detail}). Start from the template.",
            )
        )
        return preview
    emails_seen: dict[str, int] = {}
    for number, cells in enumerate(reader, start=2):
        if not any(cell.strip() for cell in cells):
            continue
        if len(preview.rows) >= MAX_ROWS:
            preview.errors.append(RowError(number, "", f"A file can hold at most {MAX_ROWS:,} storytellers."))
            break
        if len(cells) != len(COLUMNS):
            preview.errors.append(RowError(number, "", f"This row has {len(cells)} cells; it needs {len(COLUMNS)}."))
            continue
        values = dict(zip(header, cells, strict=True))
        preview.rows.append(_row(values, number, preview.errors, emails_seen))
    if not preview.rows and not preview.errors:
        preview.errors.append(RowError(2, "", "The file has no storytellers in it."))
    _existing_emails(preview, emails_seen)
    return preview


def _row(values: dict[str, str], number: int, errors: list[RowError], emails_seen: dict[str, int]) -> ImportRow:
    name = values["name"].strip()
    if not name:
        errors.append(RowError(number, "name", "Enter the storyteller's name."))
    elif len(name) > 120:
        errors.append(RowError(number, "name", "Keep the name to 120 characters or fewer."))
    email = values["email"].strip().lower()
    if email and not _EMAIL.fullmatch(email):
        errors.append(RowError(number, "email", f"“{email}” is not an email address. Correct it or leave it blank."))
    elif email in emails_seen:
        errors.append(RowError(number, "email", f"This email is also on row {emails_seen[email]}."))
    elif email:
        emails_seen[email] = number
    consent_word = _norm(values["demographics_consent"])
    answers, method = None, None
    if consent_word not in ("yes", "no"):
        errors.append(RowError(number, "demographics_consent", "Use yes or no."))
    elif consent_word == "yes":
        answers = _answers(values, number, errors)
        method = METHOD_WORDS.get(_norm(values["consent_method"].replace(",", " ")))
        if method is None:
            errors.append(RowError(number, "consent_method", METHOD_HELP))
    row = ImportRow(number, name, values["pseudonym"].strip()[:120], email, consent_word == "yes", answers, method)
    return row


def _existing_emails(preview: Preview, emails_seen: dict[str, int]) -> None:
    if not emails_seen:
        return
    taken = set(db.session.scalars(sa.select(Storyteller.email).where(Storyteller.email.in_(list(emails_seen)))))
    for email in sorted(taken, key=emails_seen.__getitem__):
        preview.errors.append(
            RowError(emails_seen[email], "email", "A storyteller with this email is already recorded.")
        )
    preview.errors.sort(key=lambda error: error.row)


def commit(data: bytes, *, by: User, filename: str = "") -> int:
    """Create every storyteller in the file, or none. Returns how many were created."""
    preview = read(data)
    if not preview.ok:
        raise ValueError("The file has errors; nothing was saved.")
    for row in preview.rows:
        person = create_storyteller(display_name=row.name, pseudonym=row.pseudonym, email=row.email, by=by)
        if row.consent and row.answers is not None:
            record_demographics(person, row.answers, by=by, method=row.method)
    audit.record(
        "storytellers.imported", by, actor=by, after={"count": len(preview.rows)}, note=f"CSV import {filename}"[:500]
    )
    return len(preview.rows)

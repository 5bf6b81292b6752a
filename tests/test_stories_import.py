"""Importing storytellers from CSV: a preview with row-level errors, all-or-nothing commit."""

from __future__ import annotations

import base64
import csv
import io
import re
from typing import Any

import sqlalchemy as sa

from portal.core.audit import AuditEntry
from portal.core.extensions import db
from portal.stories import importer
from portal.stories.models import PREFER_NOT_TO_SAY, ConsentMethod, Demographics, Storyteller

HEADER = ",".join(importer.COLUMNS)
VALID = f"""{HEADER}
Ada Lovelace,,ada@example.org,Lived Experience ; FACILITATOR,services,female,no,prefer not to say,White British,42,homelessness; Poverty,yes,in writing
Interviewed Person,River,,professional,research;policy,male,yes,no,,,,no,
Sam Smith,Kestrel,sam@example.org,facilitator,Policy,prefer not to say,Prefer not to say,yes,Black British,,adverse childhood experiences,YES,"Spoken, and recorded"
"""


def _upload(client: Any, text: str, name: str = "people.csv") -> Any:
    return client.post(
        "/stories/storytellers/import",
        data={"file": (io.BytesIO(text.encode("utf-8")), name)},
        content_type="multipart/form-data",
    )


def _count() -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(Storyteller)) or 0


def test_a_valid_file_previews_then_imports_exactly(app: Any, as_role: Any) -> None:
    staff = as_role("staff")
    preview = _upload(staff, VALID)
    page = preview.get_data(as_text=True)
    assert preview.status_code == 200
    assert "3 storytellers will be created" in page and "Ada Lovelace" in page and "No (no consent)" in page
    assert _count() == 0  # a preview saves nothing

    data = re.search(r'name="data"[^>]*value="([^"]+)"', page) or re.search(r'value="([^"]+)"[^>]*name="data"', page)
    assert data is not None
    done = staff.post("/stories/storytellers/import", data={"data": data.group(1), "filename": "people.csv"})
    assert done.status_code == 303 and done.headers["Location"].endswith("/stories/storytellers")
    assert _count() == 3

    people = {p.display_name: p for p in db.session.scalars(sa.select(Storyteller))}
    ada = db.session.scalar(sa.select(Demographics).where(Demographics.storyteller_id == people["Ada Lovelace"].id))
    assert ada.roles == ["lived_experience", "facilitator"] and ada.sectors == ["services"]
    assert ada.gender == "female" and ada.lgbtqia == "no" and ada.disability == PREFER_NOT_TO_SAY
    assert ada.ethnicity == "White British" and ada.age == 42
    assert ada.lived_experience_areas == ["homelessness", "poverty"]
    assert people["Ada Lovelace"].email == "ada@example.org"
    # demographics_consent "no": the columns are ignored and nothing is stored.
    assert (
        db.session.scalar(sa.select(Demographics).where(Demographics.storyteller_id == people["Interviewed Person"].id))
        is None
    )
    assert people["Interviewed Person"].pseudonym == "River"
    sam = db.session.scalar(sa.select(Demographics).where(Demographics.storyteller_id == people["Sam Smith"].id))
    assert sam.gender == PREFER_NOT_TO_SAY and sam.lgbtqia == PREFER_NOT_TO_SAY and sam.roles == ["facilitator"]
    # How each person agreed is kept with their answers, and in the audit entry.
    assert ada.consent_method == ConsentMethod.WRITTEN and sam.consent_method == ConsentMethod.SPOKEN_RECORDED
    entries = db.session.scalars(
        sa.select(AuditEntry).where(AuditEntry.action == "storyteller.demographics_consent").order_by(AuditEntry.id)
    ).all()
    assert [entry.after["consent_method"] for entry in entries] == ["written", "spoken_recorded"]


def test_one_bad_row_saves_nothing_and_names_the_row_and_column(app: Any, as_role: Any) -> None:
    bad = VALID.replace("Kestrel,sam@example.org,facilitator", "Kestrel,sam@example.org,facilitator;carer")
    staff = as_role("staff")
    page = _upload(staff, bad).get_data(as_text=True)
    assert "Row 4, column roles: “carer” is not a role" in page
    assert "Nothing has been saved" in page and 'name="data"' not in page  # no button to import
    assert _count() == 0
    # Even a hand-made confirmation of the bad file saves nothing.
    forced = staff.post(
        "/stories/storytellers/import", data={"data": base64.b64encode(bad.encode()).decode(), "filename": "x.csv"}
    )
    assert forced.status_code == 422 and _count() == 0


def test_each_kind_of_bad_cell_is_reported(app: Any, users: dict[str, Any]) -> None:
    rows = [
        ",,,,,,,,,,,yes,written",  # row 2: no name
        "B,,not-an-email,,,,,,,,,no,",  # row 3
        "C,,,,,,maybe,,,,,yes,by phone",  # row 4: lgbtqia
        "D,,,,,,,,,forty,,yes,on paper",  # row 5: age
        "E,,,,,,,,,,,perhaps,",  # row 6: consent
        "F,,,,,,,,,,fishing,yes,recorded",  # row 7: area
        "G,,dup@example.org,,,,,,,,,no,",
        "H,,dup@example.org,,,,,,,,,no,",  # row 9: duplicate email
        "I,,,,galaxy,,,,,,,yes,in person",  # row 10: sector
        "J,,,,,,,,,,,no,,extra",  # row 11: wrong number of cells
        "K,,,,,,,,,,,yes,",  # row 12: consent given, but not how
        "L,,,,,,,,,,,yes,by pigeon",  # row 13: not a way we know
    ]
    preview = importer.read((HEADER + "\n" + "\n".join(rows) + "\n").encode())
    found = {(error.row, error.column) for error in preview.errors}
    assert found == {
        (2, "name"),
        (3, "email"),
        (4, "lgbtqia"),
        (5, "age"),
        (6, "demographics_consent"),
        (7, "lived_experience"),
        (9, "email"),
        (10, "sectors"),
        (11, ""),
        (12, "consent_method"),
        (13, "consent_method"),
    }
    assert not preview.ok


def test_an_email_already_recorded_is_an_error(app: Any, users: dict[str, Any]) -> None:
    from portal.stories.telling import create_storyteller

    create_storyteller(display_name="Existing", email="ada@example.org", by=users["staff"])
    db.session.commit()
    preview = importer.read(VALID.encode())
    assert [str(error) for error in preview.errors] == [
        "Row 2, column email: A storyteller with this email is already recorded."
    ]


def test_the_header_must_be_exactly_the_columns(app: Any) -> None:
    preview = importer.read(b"name,email\nA,a@example.org\n")
    assert len(preview.errors) == 1 and preview.errors[0].row == 1
    assert "missing: pseudonym, roles" in preview.errors[0].message
    assert not importer.read(b"\xff\xfe not utf8").ok
    assert not importer.read(f"{HEADER}\n".encode()).ok  # no rows


def test_template_downloads_and_imports_cleanly(app: Any, as_role: Any) -> None:
    response = as_role("staff").get("/stories/storytellers/import/template.csv")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    rows = list(csv.reader(io.StringIO(response.get_data(as_text=True))))
    assert rows[0] == importer.COLUMNS
    assert importer.read(response.get_data()).ok
    assert as_role("member").get("/stories/storytellers/import/template.csv").status_code == 403


def test_consent_without_how_it_was_given_is_refused_with_the_choices(app: Any, as_role: Any) -> None:
    text = f"{HEADER}\nAda Lovelace,,,facilitator,,,,,,,,yes,\n"
    page = _upload(as_role("staff"), text).get_data(as_text=True)
    assert "Row 2, column consent_method: Say how consent was given: in writing, spoken and recorded" in page
    assert "Nothing has been saved" in page and _count() == 0


def test_staff_see_how_demographics_consent_was_given(app: Any, as_role: Any, users: dict[str, Any]) -> None:
    staff = as_role("staff")
    page = _upload(staff, VALID).get_data(as_text=True)
    assert "Yes: In writing (signed form)" in page and "Yes: Spoken, and recorded" in page
    importer.commit(VALID.encode(), by=users["staff"])
    db.session.commit()
    ada = db.session.scalar(sa.select(Storyteller).where(Storyteller.display_name == "Ada Lovelace"))
    record = staff.get(f"/stories/storytellers/{ada.id}/record").get_data(as_text=True)
    assert "with consent recorded on" in record and "(in writing (signed form))" in record


def test_staff_adding_answers_say_how_consent_was_given(app: Any, as_role: Any) -> None:
    staff = as_role("staff")
    form = {"display_name": "Interviewed Ian", "roles": ["facilitator"], "demographics_consent": "y"}
    refused = staff.post("/stories/storytellers/new", data=form)
    assert refused.status_code == 422
    page = refused.get_data(as_text=True)
    by_the_field = page[page.index('id="demographics_consent_method-error"') :][:300]
    assert "Say how the storyteller gave their consent to store these answers." in by_the_field
    assert _count() == 0 and db.session.scalar(sa.select(sa.func.count()).select_from(Demographics)) == 0
    assert (
        staff.post(
            "/stories/storytellers/new", data={**form, "demographics_consent_method": "spoken_noted"}
        ).status_code
        == 303
    )
    stored = db.session.scalar(sa.select(Demographics))
    assert stored.consent_method == ConsentMethod.SPOKEN_NOTED and stored.roles == ["facilitator"]

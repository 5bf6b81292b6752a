"""Download my data: a zip of everything the portal holds about the signed-in person, and
nothing about anyone else (tests/my_data_factories.py gives two people a record of every kind)."""

from __future__ import annotations

import csv
import io
import json
import zipfile
from typing import Any

import sqlalchemy as sa
from flask import Flask

from portal.core import my_data
from portal.core.audit import AuditEntry
from portal.core.extensions import db
from tests import factories
from tests.helpers import client_for, count_queries
from tests.my_data_factories import everything, world

# Kinds every person in the world below has at least one record of.
FILLED = {
    "applications",
    "audit",
    "bookings",
    "claims",
    "comments",
    "demographics",
    "directory",
    "flags",
    "invitations",
    "messages",
    "payment_preferences",
    "posts",
    "profile",
    "resonates",
    "sessions",
    "stories",
    "storyteller",
    "team_memberships",
}


def _download(app: Flask, person: Any) -> zipfile.ZipFile:
    client = client_for(app, person)
    response = client.post("/account/my-data")
    assert response.status_code == 200, response.get_data(as_text=True)[:500]
    assert response.headers["Content-Type"] == "application/zip"
    assert response.headers["Content-Disposition"].startswith('attachment; filename="my-portal-data-')
    return zipfile.ZipFile(io.BytesIO(response.data))


def _all_text(archive: zipfile.ZipFile) -> str:
    return "\n".join(archive.read(name).decode() for name in archive.namelist())


def test_the_zip_holds_every_kind_of_record_for_the_person(app: Flask) -> None:
    people = world()
    alice = people["alice"]
    archive = _download(app, alice.person)
    names = set(archive.namelist())
    assert "README.txt" in names
    assert {f"{kind}.json" for kind in my_data.EXPORTS} <= names
    assert {"claims.csv", "bookings.csv", "audit.csv"} <= names
    data = {kind: json.loads(archive.read(f"{kind}.json")) for kind in my_data.EXPORTS}
    empty = sorted(kind for kind in FILLED if not data[kind])
    assert empty == []
    readme = archive.read("README.txt").decode()
    for kind in my_data.EXPORTS:
        assert f"{kind}.json" in readme

    word = alice.word
    assert data["profile"][0]["access_needs"] == f"{word} large print please"
    assert data["storyteller"][0]["id"] == alice.storyteller.id
    assert data["demographics"][0]["ethnicity"] == f"{word} heritage"
    assert [s["title"] for s in data["stories"]] == [f"{word} by the river"]
    assert f"{word} learning" in [p["title"] for p in data["posts"]]
    assert f"My {word} reply." in [c["body"] for c in data["comments"]]
    assert {c["id"] for c in data["claims"]} == {alice.paid_claim.id, alice.draft_claim.id}
    assert {c["fee_pence"] for c in data["claims"]} == {alice.paid_claim.fee_pence, alice.draft_claim.fee_pence}
    assert data["payment_preferences"][0]["charity_name"] == f"{word} trust"
    assert data["bookings"][0]["access_needs"] == f"{word} ramp"
    assert [m["project_id"] for m in data["team_memberships"]] == [alice.project.id]
    assert [a["title"] for a in data["applications"]] == [f"{word} application"]
    assert {i["direction"] for i in data["invitations"]} == {"to you", "from you"}
    assert any(e["action"] == "user.email_verified" for e in data["audit"])
    sent = [m for m in data["messages"] if m["direction"] == "sent"]
    received = [m for m in data["messages"] if m["direction"] == "received"]
    assert f"Hello from {word}." in [m["body"] for m in sent]
    assert received and all(m["body"] is None for m in received)  # the sender's words are theirs

    rows = list(csv.DictReader(io.StringIO(archive.read("claims.csv").decode())))
    assert {int(row["id"]) for row in rows} == {alice.paid_claim.id, alice.draft_claim.id}
    assert {row["notes"] for row in rows} == {f"{word} claim note", f"{word} draft note"}
    bookings = list(csv.DictReader(io.StringIO(archive.read("bookings.csv").decode())))
    assert bookings[0]["access_needs"] == f"{word} ramp"


def test_the_zip_holds_nothing_of_anyone_else(app: Flask) -> None:
    people = world()
    alice, bob = people["alice"], people["bob"]
    # Bob replied to Alice's post, messaged her and left a note about her in the audit log.
    text = _all_text(_download(app, alice.person))
    for theirs in (bob.word, bob.person.name, bob.person.email, "Placeholder Person", "placeholder", "Staff Member"):
        assert theirs.lower() not in text.lower(), theirs
    # "A reply from Placeholder Person." (a message she was sent) and "Thank you, from Placeholder
    # Person." (a comment on her post) are other people's words: the name check above covers both.
    assert "A reply from Placeholder" not in text
    assert alice.word in text


def test_a_download_is_audited_and_a_get_makes_none(app: Flask) -> None:
    person = factories.user(name="Plain Person")
    client = client_for(app, person)
    page = client.get("/account/my-data")
    assert page.status_code == 200
    assert page.headers["Content-Type"].startswith("text/html")
    assert "Download my data" in page.get_data(as_text=True)
    exported = sa.select(sa.func.count()).select_from(AuditEntry).where(AuditEntry.action == "data.exported")
    assert db.session.scalar(exported) == 0
    assert client.post("/account/my-data").status_code == 200
    entry = db.session.scalars(sa.select(AuditEntry).where(AuditEntry.action == "data.exported")).one()
    assert entry.actor_id == person.id and entry.object_id == str(person.id)


def test_the_profile_page_links_to_both(app: Flask) -> None:
    person = factories.user()
    page = client_for(app, person).get("/account/profile").get_data(as_text=True)
    assert 'href="/account/my-data"' in page
    assert 'href="/account/erase"' in page


def test_the_download_needs_a_signed_in_person(app: Flask) -> None:
    response = app.test_client().post("/account/my-data")
    assert response.status_code in (302, 303)
    assert "/account/sign-in" in response.headers["Location"]


def test_queries_do_not_grow_with_the_records(app: Flask) -> None:
    people = world()
    alice = people["alice"]
    with count_queries() as few:
        before = my_data.collect(alice.person)
    # Twice as much of everything (more posts, comments, claims, bookings, messages...).
    more = everything(
        "Numbatreed", other=alice.person, staff=people["staff"], activity=people["activity"], first="Carys"
    )
    for _ in range(3):
        factories.make_post(alice.person, title="Another", body="More words.")
        factories.submitted(alice.person, people["activity"])
        factories.book(factories.make_gathering(people["staff"]), alice.person, access_needs="More")
    assert more.person.id != alice.person.id
    db.session.expire_all()
    with count_queries() as many:
        data = my_data.collect(alice.person)
    for kind in ("posts", "claims", "bookings", "comments", "messages"):
        assert len(data[kind]) > len(before[kind]), kind
    assert len(many) == len(few)

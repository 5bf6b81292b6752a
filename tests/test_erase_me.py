"""Erase me: afterwards no page shows the person's name or words; the money records the law
keeps stay under a reference, the audit log names them by it, and they cannot sign in."""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask

from portal.accounts import erasure
from portal.accounts.models import Role, User, UserSession
from portal.core import outbox
from portal.core.audit import AuditEntry
from portal.core.extensions import db
from portal.core.outbox import OutboxMessage
from portal.directory.models import DirectoryEntry, PeerMessage
from portal.gatherings.models import Rsvp
from portal.learning.models import Comment, LearningPost
from portal.remuneration.models import Claim, ClaimState, PaymentPreference
from portal.stories.models import Demographics, Story, StoryState
from tests import factories
from tests.helpers import client_for, sign_in, text_of
from tests.my_data_factories import Everything, world


def _erase_themselves(app: Flask, alice: Everything) -> Any:
    client = client_for(app, alice.person)
    asked = client.get("/account/erase")
    assert asked.status_code == 200
    assert "Erase your data?" in asked.get_data(as_text=True)
    done = client.post("/account/erase", data={"confirm": "yes", "password": factories.PASSWORD})
    assert done.status_code == 303, done.get_data(as_text=True)
    assert done.headers["Location"].endswith("/account/erased")
    return client


def _pages(alice: Everything, bob: Everything) -> list[tuple[str, str]]:
    """(who looks, page) for every page Alice's name or words appeared on."""
    return [
        ("anonymous", "/learning/"),
        ("bob", "/learning/"),
        ("bob", f"/learning/{alice.post.id}"),
        ("bob", f"/learning/{alice.reply_post.id}"),
        ("bob", f"/learning/{bob.post.id}"),
        ("bob", f"/learning/?author={alice.person.id}"),
        ("anonymous", "/stories"),
        ("bob", "/stories"),
        ("bob", f"/stories/{alice.story.id}"),
        ("bob", "/people"),
        ("bob", "/people/messages"),
        ("bob", "/notifications"),
        ("staff", f"/gatherings/{alice.gathering.id}/people"),
        ("staff", f"/claims/{alice.paid_claim.id}"),
        ("staff", "/claims/queue"),
        ("staff", "/stories/moderation"),
        ("admin", "/admin/audit"),
        ("admin", "/admin/users"),
        ("admin", f"/admin/users/{alice.person.id}"),
        ("anonymous", f"/search?q={alice.word}"),
        ("bob", f"/search?q={alice.word}"),
        ("bob", "/search?q=Ottilie"),
    ]


def test_after_erasing_no_page_shows_their_name_or_words(app: Flask) -> None:
    people = world()
    alice, bob = people["alice"], people["bob"]
    clients = {
        "anonymous": app.test_client(),
        "bob": client_for(app, bob.person),
        "staff": client_for(app, people["staff"]),
        "admin": client_for(app, people["admin"]),
    }
    # Before: her words are there to be found (else the checks below prove nothing).
    seen_before = {
        page for who, page in _pages(alice, bob) if alice.word in clients[who].get(page).get_data(as_text=True)
    }
    assert {f"/learning/{alice.post.id}", f"/stories/{alice.story.id}", f"/claims/{alice.paid_claim.id}"} <= seen_before

    found = text_of(clients["bob"].get(f"/search?q={alice.word}")).lower()
    assert "0 results for" not in found

    _erase_themselves(app, alice)

    for who, page in _pages(alice, bob):
        response = clients[who].get(page)
        assert response.status_code in (200, 404), (who, page, response.status_code)
        text = text_of(response).lower()
        if page.startswith("/search"):  # the page repeats the words searched for: count what it found
            assert "0 results for" in text, (who, page)
            continue
        for theirs in (alice.word.lower(), "ottilie"):
            assert theirs not in text, (who, page, theirs)
    # Bob's own words are still where they were.
    assert bob.word in clients["bob"].get(f"/learning/{bob.post.id}").get_data(as_text=True)


def test_their_content_is_erased_and_the_money_records_stay_under_a_reference(app: Flask) -> None:
    people = world()
    alice = people["alice"]
    outbox.enqueue(
        "comment", people["bob"].person.email, f"{alice.person.name} commented", f"{alice.person.name} said hello."
    )
    db.session.commit()
    person_id, draft_id, paid_id, fee = (
        alice.person.id,
        alice.draft_claim.id,
        alice.paid_claim.id,
        alice.paid_claim.fee_pence,
    )
    _erase_themselves(app, alice)
    db.session.expire_all()
    person = db.session.get_one(User, person_id)
    assert person.name.startswith("Former member #")
    assert person.erased_at is not None and not person.is_active
    reference = person.name

    story = db.session.get_one(Story, alice.story.id)
    assert story.state == StoryState.WITHDRAWN and alice.word not in story.title + story.body
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Demographics)) == 1  # Bob's only
    assert alice.storyteller.display_name == reference
    # Her post had a reply: its place stays, without her words; her comment is a placeholder.
    post = db.session.get_one(LearningPost, alice.post.id)
    assert post.title == "Removed by its author" and post.body == ""
    theirs = db.session.scalars(sa.select(Comment).where(Comment.author_id == person_id)).all()
    assert theirs and all(c.body == "" and c.deleted_at is not None for c in theirs)
    assert db.session.get(DirectoryEntry, person_id) is None
    assert not db.session.scalars(
        sa.select(PeerMessage).where(sa.or_(PeerMessage.sender_id == person_id, PeerMessage.recipient_id == person_id))
    ).all()
    assert {r.access_needs for r in db.session.scalars(sa.select(Rsvp).where(Rsvp.user_id == person_id))} <= {""}
    assert db.session.get(PaymentPreference, person_id) is None
    # Money: the paid claim stays with its amount, without her note; the draft is gone.
    paid = db.session.get_one(Claim, paid_id)
    assert paid.state == ClaimState.PAID and paid.fee_pence == fee and paid.notes == ""
    assert db.session.get(Claim, draft_id) is None
    waiting = db.session.scalars(sa.select(OutboxMessage).where(OutboxMessage.kind == "comment")).all()
    assert [m.subject for m in waiting if m.to_email == people["bob"].person.email][-1] == "A former member commented"
    assert not [m for m in db.session.scalars(sa.select(OutboxMessage)) if "ottilie" in (m.subject + m.body).lower()]
    staff_page = client_for(app, people["staff"]).get(f"/claims/{paid.id}").get_data(as_text=True)
    assert reference in staff_page


def test_the_audit_log_names_them_by_the_reference(app: Flask) -> None:
    people = world()
    alice = people["alice"]
    person_id, email, name = alice.person.id, alice.person.email, alice.person.name
    _erase_themselves(app, alice)
    db.session.expire_all()
    reference = db.session.get_one(User, person_id).name
    entries = db.session.scalars(sa.select(AuditEntry)).all()
    for entry in entries:
        words = f"{entry.before} {entry.after} {entry.note}".lower()
        assert email not in words and name.lower() not in words, entry.action
    verified = [e for e in entries if e.action == "user.email_verified" and e.object_id == str(person_id)]
    assert verified and verified[-1].after == {"email": reference}
    noted = [e for e in entries if e.action == "user.role_changed" and e.object_id == str(person_id)]
    assert noted[-1].note == f"Checked with {reference}"
    erased = [e for e in entries if e.action == "user.erased"]
    assert len(erased) == 1 and erased[0].actor_id == person_id and erased[0].after == {"reference": reference}
    assert any(e.actor_id == person_id for e in entries if e.action != "user.erased")  # her id stays
    # The guard still refuses any other change to the log.
    with pytest.raises(sa.exc.DatabaseError, match="append-only"):
        db.session.execute(sa.text("UPDATE audit_entries SET note = 'changed' WHERE id = :id"), {"id": entries[0].id})
    db.session.rollback()
    with pytest.raises(sa.exc.DatabaseError, match="append-only"):
        db.session.execute(sa.text("DELETE FROM audit_entries WHERE id = :id"), {"id": entries[0].id})
    db.session.rollback()


def test_they_cannot_sign_in_and_every_device_is_signed_out(app: Flask) -> None:
    people = world()
    alice = people["alice"]
    email = alice.person.email
    client = _erase_themselves(app, alice)
    assert client.get("/account/profile").status_code in (302, 303)
    assert (
        db.session.scalar(
            sa.select(sa.func.count()).select_from(UserSession).where(UserSession.user_id == alice.person.id)
        )
        == 0
    )
    refused = sign_in(app.test_client(), email)
    assert refused.status_code != 303
    assert db.session.scalar(sa.select(User).where(User.email == email)) is None


def test_a_wrong_password_erases_nothing(app: Flask) -> None:
    people = world()
    alice = people["alice"]
    client = client_for(app, alice.person)
    response = client.post("/account/erase", data={"confirm": "yes", "password": "not my password"})
    assert response.status_code == 422
    assert "Your password is not right" in response.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get_one(User, alice.person.id).erased_at is None
    assert db.session.get_one(Story, alice.story.id).state == StoryState.PUBLISHED
    # A POST without the confirmation only asks.
    asked = client.post("/account/erase", data={"password": factories.PASSWORD})
    assert asked.status_code == 200 and "Erase your data?" in asked.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get_one(User, alice.person.id).erased_at is None


def test_the_last_admin_and_claims_waiting_to_be_paid_hold_it_back(app: Flask) -> None:
    admin = factories.user(role=Role.ADMIN, name="Only Admin")
    with pytest.raises(erasure.RuleBroken, match="last admin"):
        erasure.erase(admin, by=admin, password=factories.PASSWORD)
    db.session.rollback()
    member = factories.user(name="Waiting Member")
    activity = factories.rate_card()["Meeting"]
    factories.submitted(member, activity)
    response = client_for(app, member).post("/account/erase", data={"confirm": "yes", "password": factories.PASSWORD})
    assert response.status_code == 422
    assert "1 claim is still on the way to being paid" in response.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get_one(User, member.id).erased_at is None


def test_an_admin_erases_someone_on_their_behalf_after_a_confirmation(app: Flask) -> None:
    people = world()
    alice, admin = people["alice"], people["admin"]
    client = client_for(app, admin)
    page = client.get(f"/admin/users/{alice.person.id}").get_data(as_text=True)
    assert "Erase their data" in page
    asked = client.post(f"/admin/users/{alice.person.id}/erase")
    assert asked.status_code == 200 and f"Erase {alice.person.name}" in asked.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get_one(User, alice.person.id).erased_at is None
    done = client.post(f"/admin/users/{alice.person.id}/erase", data={"confirm": "yes"})
    assert done.status_code == 303
    db.session.expire_all()
    person = db.session.get_one(User, alice.person.id)
    assert person.erased_at is not None
    entry = db.session.scalars(sa.select(AuditEntry).where(AuditEntry.action == "user.erased")).one()
    assert entry.actor_id == admin.id and entry.note == erasure.BY_STAFF
    assert db.session.get_one(Story, alice.story.id).state == StoryState.WITHDRAWN
    # Nobody erases themselves from the admin page, nor anyone twice.
    assert client.post(f"/admin/users/{admin.id}/erase", data={"confirm": "yes"}).status_code == 403
    assert client.post(f"/admin/users/{person.id}/erase", data={"confirm": "yes"}).status_code == 403

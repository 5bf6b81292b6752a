"""Safeguarding in the network: blocks work both ways and can be undone; reports reach staff
with the reported message's words kept; suspension stops sign-in and ends sessions, audited
and emailed; lifting it lets the person back in."""

from __future__ import annotations

import html
from typing import Any

import pytest
import sqlalchemy as sa

from portal.accounts import suspension
from portal.accounts.models import User
from portal.core.audit import AuditEntry
from portal.core.errors import NotAllowed, RuleBroken
from portal.core.extensions import db
from portal.core.outbox import OutboxMessage
from portal.directory import blocks, reports, services
from portal.directory.models import DirectoryEntry, MemberReport, PeerMessage, ReportReason, ReportState
from tests import factories
from tests.helpers import client_for, count_queries, sign_in, text_of


def listed(person: User, name: str | None = None) -> DirectoryEntry:
    entry = services.save_entry(
        person,
        listed=True,
        display_name=name or person.name,
        show_pronouns=False,
        show_bio=False,
        show_projects=False,
        accepts_messages=True,
        interests=["equality"],
        skills_text="Facilitation",
    )
    db.session.commit()
    return entry


def pair() -> tuple[User, User]:
    one = factories.user(name="Ada Able")
    other = factories.user(name="Ben Bold")
    listed(one, "Ada")
    listed(other, "Ben")
    return one, other


def message(sender: User, recipient: User, body: str = "Hello there") -> PeerMessage:
    sent = services.send_message(sender, recipient, body)
    db.session.commit()
    return sent


def actions(action: str) -> list[AuditEntry]:
    return list(db.session.scalars(sa.select(AuditEntry).where(AuditEntry.action == action)))


# --- blocks -------------------------------------------------------------------------------


def test_blocked_members_cannot_message_each_other_either_way(app: Any) -> None:
    ada, ben = pair()
    first = message(ben, ada, "Before the block")
    ada_client, ben_client = client_for(app, ada), client_for(app, ben)

    assert ada_client.post(f"/people/{ben.id}/block", data={}).status_code == 303
    assert blocks.has_blocked(ada.id, ben.id) and not blocks.has_blocked(ben.id, ada.id)

    for sender, recipient in ((ada, ben), (ben, ada)):
        with pytest.raises((NotAllowed, RuleBroken)):
            services.send_message(sender, recipient, "Still there?")
        db.session.rollback()
    # through the pages: a new message is refused, and so is a reply to the earlier message
    assert ben_client.post(f"/people/{ada.id}/message", data={"body": "Hi"}).status_code == 403
    assert ada_client.post(f"/people/{ben.id}/message", data={"body": "Hi"}).status_code == 403
    reply = ada_client.post(f"/people/messages/{first.id}/reply", data={"body": "Go away"})
    assert reply.status_code == 422 and blocks.BLOCKED in text_of(reply)
    assert db.session.scalar(sa.select(sa.func.count(PeerMessage.id))) == 1
    page = text_of(ada_client.get(f"/people/messages/{first.id}"))
    assert "You cannot reply: one of you has blocked the other." in page and "Send the reply" not in page
    # the earlier message stays, and can still be reported
    assert "Report this message" in page


def test_blocked_members_do_not_see_each_other_in_the_directory(app: Any) -> None:
    ada, ben = pair()
    carla = factories.user(name="Carla")
    listed(carla, "Carla")
    ada_client, ben_client = client_for(app, ada), client_for(app, ben)
    assert f'href="/people/{ben.id}"' in ada_client.get("/people").get_data(as_text=True)
    ada_client.post(f"/people/{ben.id}/block", data={})

    for viewer, other in ((ada_client, ben), (ben_client, ada)):
        page = viewer.get("/people").get_data(as_text=True)
        assert "2 people found" in page and "Carla" in page
        assert f'href="/people/{other.id}"' not in page
        assert viewer.get(f"/people/{other.id}").status_code == 403
    # Carla sees both
    assert "3 people found" in text_of(client_for(app, carla).get("/people"))


def test_blocked_page_lists_blocks_and_unblock_restores(app: Any) -> None:
    ada, ben = pair()
    ada_client, ben_client = client_for(app, ada), client_for(app, ben)
    ada_client.post(f"/people/{ben.id}/block", data={})
    page = text_of(ada_client.get("/people/blocked"))
    assert "Ben" in page and "Unblock Ben" in page
    assert "You have not blocked anyone." in text_of(ben_client.get("/people/blocked"))  # the other is not told

    response = ada_client.post(f"/people/blocked/{ben.id}/unblock", data={})
    assert response.status_code == 303
    assert "You have not blocked anyone." in text_of(ada_client.get("/people/blocked"))
    assert ben_client.get(f"/people/{ada.id}").status_code == 200
    assert ben_client.post(f"/people/{ada.id}/message", data={"body": "Hello again"}).status_code == 303
    assert [e.actor_id for e in actions("member.blocked")] == [ada.id]
    assert [e.actor_id for e in actions("member.unblocked")] == [ada.id]


def test_blocking_yourself_or_twice_changes_nothing(app: Any) -> None:
    ada, ben = pair()
    ada_client = client_for(app, ada)
    response = ada_client.post(f"/people/{ada.id}/block", data={}, follow_redirects=True)
    assert "You cannot block yourself." in text_of(response)
    ada_client.post(f"/people/{ben.id}/block", data={})
    again = ada_client.post(f"/people/{ben.id}/block", data={}, follow_redirects=True)
    assert "You had already blocked Ben." in text_of(again)
    assert ada_client.post("/people/999999/block", data={}).status_code == 404
    assert len(actions("member.blocked")) == 1


def test_block_and_report_controls_on_the_entry_and_on_each_message(app: Any) -> None:
    ada, ben = pair()
    sent = message(ben, ada)
    ada_client = client_for(app, ada)
    entry = ada_client.get(f"/people/{ben.id}").get_data(as_text=True)
    assert f'action="/people/{ben.id}/block"' in entry and f'href="/people/{ben.id}/report"' in entry
    own = ada_client.get(f"/people/{ada.id}").get_data(as_text=True)
    assert "/block" not in own and "/report" not in own
    received = ada_client.get(f"/people/messages/{sent.id}").get_data(as_text=True)
    assert f'href="/people/messages/{sent.id}/report"' in received and f'action="/people/{ben.id}/block"' in received
    # the sender can block but cannot report their own message
    as_sender = client_for(app, ben).get(f"/people/messages/{sent.id}").get_data(as_text=True)
    assert "/report" not in as_sender and f'action="/people/{ada.id}/block"' in as_sender
    assert client_for(app, ben).get(f"/people/messages/{sent.id}/report").status_code == 403


def test_blocked_list_query_count_does_not_grow(app: Any) -> None:
    ada = factories.user()
    ada_client = client_for(app, ada)

    def block_more(count: int) -> None:
        for _ in range(count):
            blocks.block(ada, factories.user())
        db.session.commit()

    block_more(3)
    ada_client.get("/people/blocked")
    with count_queries() as few:
        assert ada_client.get("/people/blocked").status_code == 200
    block_more(20)
    with count_queries() as many:
        assert ada_client.get("/people/blocked").status_code == 200
    assert len(many) == len(few)


# --- reports ------------------------------------------------------------------------------


def test_a_reported_message_reaches_the_staff_queue_with_its_words_kept(app: Any, users: dict[str, User]) -> None:
    ada, ben = pair()
    sent = message(ben, ada, "Meet me alone or else.")
    response = client_for(app, ada).post(
        f"/people/messages/{sent.id}/report", data={"reason": "harassment", "details": "He keeps writing."}
    )
    assert response.status_code == 303
    report = db.session.scalar(sa.select(MemberReport))
    assert report is not None
    assert (report.subject_id, report.reporter_id, report.message_id) == (ben.id, ada.id, sent.id)
    assert report.message_text == "Meet me alone or else." and report.state == ReportState.OPEN

    # the message goes (its sender's account is erased, say): the report keeps the words
    db.session.delete(db.session.get(PeerMessage, sent.id))
    db.session.commit()
    staff = client_for(app, users["staff"])
    queue = text_of(staff.get("/people/reports"))
    assert "Ben Bold" in queue and "Harassment, bullying or threats" in queue and "Open (1)" not in queue
    assert "Waiting for staff (1)" in queue
    page = text_of(staff.get(f"/people/reports/{report.id}"))
    assert "Meet me alone or else." in page and "He keeps writing." in page and "has since been deleted" in page
    assert client_for(app, ada).get("/people/reports").status_code == 403


def test_reporting_a_member_with_a_reason_and_details(app: Any, users: dict[str, User]) -> None:
    ada, ben = pair()
    ada_client = client_for(app, ada)
    form = html.unescape(text_of(ada_client.get(f"/people/{ben.id}/report")))
    for reason in ReportReason:
        assert reason.label in form
    refused = ada_client.post(f"/people/{ben.id}/report", data={"reason": "", "details": ""})
    assert refused.status_code == 422 and "Choose why you are reporting this." in text_of(refused)
    other = ada_client.post(f"/people/{ben.id}/report", data={"reason": "other", "details": " "})
    assert other.status_code == 422 and "Tell us what happened" in text_of(other)
    too_long = ada_client.post(f"/people/{ben.id}/report", data={"reason": "spam", "details": "x" * 1001})
    assert too_long.status_code == 422 and "1,000 characters" in text_of(too_long)
    assert db.session.scalar(sa.select(sa.func.count(MemberReport.id))) == 0

    assert ada_client.post(f"/people/{ben.id}/report", data={"reason": "safety", "details": ""}).status_code == 303
    again = ada_client.post(f"/people/{ben.id}/report", data={"reason": "spam"}, follow_redirects=True)
    assert "You have already reported this." in text_of(again)
    report = db.session.scalar(sa.select(MemberReport))
    assert report is not None and report.priority == 0 and report.message_text == ""
    assert db.session.scalar(sa.select(sa.func.count(MemberReport.id))) == 1


def test_safety_concerns_head_the_queue(app: Any, users: dict[str, User]) -> None:
    ada, ben = pair()
    carla = factories.user(name="Carla Cross")
    listed(carla)
    reports.report_member(ada, ben, reason="spam", details="")
    reports.report_member(ada, carla, reason="safety", details="She said she is not safe at home.")
    db.session.commit()
    queue = [r.subject_id for r in db.session.scalars(reports.queue_query())]
    assert queue == [carla.id, ben.id]


def test_nobody_can_be_reported_by_their_number_alone(app: Any) -> None:
    ada = factories.user()
    stranger = factories.user(name="Unlisted Stranger")
    ada_client = client_for(app, ada)
    assert ada_client.get(f"/people/{stranger.id}/report").status_code == 404  # no names of other accounts
    assert ada_client.get(f"/people/{ada.id}/report").status_code == 404
    with pytest.raises(RuleBroken):
        reports.report_member(ada, stranger, reason="spam", details="")
    # once they have written to you (a reply to a message of yours, say), you can
    db.session.add(PeerMessage(sender_id=stranger.id, recipient_id=ada.id, body="Hi"))
    db.session.commit()
    assert ada_client.get(f"/people/{stranger.id}/report").status_code == 200


def test_staff_dismiss_a_report(app: Any, users: dict[str, User]) -> None:
    ada, ben = pair()
    reports.report_member(ada, ben, reason="spam", details="")
    db.session.commit()
    report = db.session.scalar(sa.select(MemberReport))
    assert report is not None
    staff = client_for(app, users["staff"])
    too_long = staff.post(f"/people/reports/{report.id}/dismiss", data={"note": "x" * 501})
    assert too_long.status_code == 422 and "500 characters" in text_of(too_long)
    assert staff.post(f"/people/reports/{report.id}/dismiss", data={"note": "Not spam."}).status_code == 303
    db.session.refresh(report)
    assert report.state == ReportState.DISMISSED and report.decided_by_id == users["staff"].id
    assert ben.is_active
    assert [e.note for e in actions("report.dismissed")] == ["Not spam."]
    assert "No reports are waiting for a decision." in text_of(staff.get("/people/reports"))
    assert "Ben Bold" in text_of(staff.get("/people/reports?state=dismissed"))
    twice = staff.post(f"/people/reports/{report.id}/dismiss", data={})
    assert twice.status_code == 422 and "already decided" in text_of(twice)


# --- suspension ---------------------------------------------------------------------------


def test_suspension_stops_sign_in_and_ends_the_sessions_the_person_has(app: Any, users: dict[str, User]) -> None:
    ada, ben = pair()
    reports.report_member(ada, ben, reason="harassment", details="Threats.")
    db.session.commit()
    report = db.session.scalar(sa.select(MemberReport))
    assert report is not None
    bens_browser = client_for(app, ben)  # signed in before the suspension
    assert bens_browser.get("/people").status_code == 200
    staff = client_for(app, users["staff"])

    refused = staff.post(f"/people/reports/{report.id}/suspend", data={"reason": "  "})
    assert refused.status_code == 422 and "Say why the account is suspended" in text_of(refused)
    assert db.session.get(User, ben.id).suspended_at is None  # type: ignore[union-attr]

    reason = "You sent threatening messages to another member."
    assert staff.post(f"/people/reports/{report.id}/suspend", data={"reason": reason}).status_code == 303
    person = db.session.get(User, ben.id)
    assert person is not None and person.suspended_at is not None and not person.is_active
    assert person.suspension_note == reason
    db.session.refresh(report)
    assert report.state == ReportState.SUSPENDED

    # the signed-in browser is refused on its next request
    response = bens_browser.get("/people")
    assert response.status_code in (302, 303) and "/account/sign-in" in response.headers["Location"]
    # and signing in again is refused, saying why
    again = sign_in(app.test_client(), ben.email)
    assert again.status_code != 303 and "This account is suspended." in text_of(again)

    audit = actions("user.suspended")
    assert [(e.actor_id, e.object_id, e.note) for e in audit] == [(users["staff"].id, str(ben.id), reason)]
    assert [e.object_id for e in actions("report.suspended")] == [str(report.id)]
    email = db.session.scalar(sa.select(OutboxMessage).where(OutboxMessage.kind == "account_suspended"))
    assert email is not None and email.to_email == ben.email
    assert reason in email.body and "How to appeal" in email.body
    assert ada.email not in email.body and "Ada" not in email.body  # not who reported them

    # a suspended person leaves the directory
    assert f'href="/people/{ben.id}"' not in client_for(app, ada).get("/people").get_data(as_text=True)


def test_lifting_a_suspension_lets_the_person_sign_in_again(app: Any, users: dict[str, User]) -> None:
    ben = factories.user(name="Ben Bold")
    suspension.suspend(ben, by=users["staff"], reason="Spam.")
    db.session.commit()
    staff = client_for(app, users["staff"])
    page = text_of(staff.get("/people/suspended"))
    assert "Ben Bold" in page and "Spam." in page
    assert sign_in(app.test_client(), ben.email).status_code != 303

    assert staff.post(f"/people/suspended/{ben.id}/lift", data={"note": "Appeal upheld."}).status_code == 303
    assert db.session.get(User, ben.id).is_active  # type: ignore[union-attr]
    assert sign_in(app.test_client(), ben.email).status_code == 303
    assert [e.note for e in actions("user.suspension_lifted")] == ["Appeal upheld."]
    lifted = db.session.scalar(sa.select(OutboxMessage).where(OutboxMessage.kind == "account_suspension_lifted"))
    assert lifted is not None and lifted.to_email == ben.email and "Appeal upheld." in lifted.body
    assert "No accounts are suspended." in text_of(staff.get("/people/suspended"))
    # lifting again says so, and changes nothing
    again = staff.post(f"/people/suspended/{ben.id}/lift", data={}, follow_redirects=True)
    assert "is not suspended" in text_of(again)
    assert len(actions("user.suspension_lifted")) == 1


def test_who_may_suspend(app: Any, users: dict[str, User]) -> None:
    member = factories.user()
    other_staff = factories.user(role="staff")
    with pytest.raises(NotAllowed):
        suspension.suspend(member, by=factories.user(), reason="No.")  # a member
    with pytest.raises(NotAllowed):
        suspension.suspend(other_staff, by=users["staff"], reason="No.")  # staff cannot suspend staff
    with pytest.raises(NotAllowed):
        suspension.suspend(users["admin"], by=users["admin"], reason="No.")  # nobody themselves
    suspension.suspend(other_staff, by=users["admin"], reason="Misuse of the directory.")
    db.session.commit()
    assert not other_staff.is_active
    # a staff member cannot act on a staff member's report through the page either
    listed(other_staff)
    ada = factories.user()
    suspension.lift(other_staff, by=users["admin"])
    reports.report_member(ada, other_staff, reason="spam", details="")
    db.session.commit()
    report = db.session.scalar(sa.select(MemberReport))
    assert report is not None
    staff = client_for(app, users["staff"])
    assert "Only an admin can suspend" in text_of(staff.get(f"/people/reports/{report.id}"))
    assert staff.post(f"/people/reports/{report.id}/suspend", data={"reason": "x"}).status_code == 403
    assert db.session.get(User, other_staff.id).is_active  # type: ignore[union-attr]


def test_reports_queue_query_count_does_not_grow(app: Any, users: dict[str, User]) -> None:
    staff = client_for(app, users["staff"])
    reporter = factories.user()

    def reported(count: int) -> None:
        for _ in range(count):
            person = factories.user()
            listed(person)
            reports.report_member(reporter, person, reason="spam", details="")
        db.session.commit()

    reported(3)
    staff.get("/people/reports")
    with count_queries() as few:
        assert staff.get("/people/reports").status_code == 200
    reported(20)
    with count_queries() as many:
        assert staff.get("/people/reports").status_code == 200
    assert len(many) == len(few)


def test_suspended_list_query_count_does_not_grow(app: Any, users: dict[str, User]) -> None:
    staff = client_for(app, users["staff"])

    def suspended(count: int) -> None:
        for _ in range(count):
            suspension.suspend(factories.user(), by=users["staff"], reason="Spam.")
        db.session.commit()

    suspended(3)
    staff.get("/people/suspended")
    with count_queries() as few:
        assert staff.get("/people/suspended").status_code == 200
    suspended(20)
    with count_queries() as many:
        assert staff.get("/people/suspended").status_code == 200
    assert len(many) == len(few)

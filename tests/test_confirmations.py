"""Are you sure? Every irreversible or wide action shows a page that says what will happen and to
how many people, and acts only when that page's Confirm is pressed: a POST without it (an old
one-click form) shows the page again and changes nothing (``core.confirm``)."""

from __future__ import annotations

import html
import re
from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask

from portal.accounts.models import User
from portal.core.audit import AuditEntry
from portal.core.db import utcnow
from portal.core.extensions import db
from portal.core.formatting import london_today
from portal.core.outbox import OutboxMessage
from portal.grants.models import ApplicationState, Phase, PhaseState
from portal.learning import comments
from portal.learning.models import LearningPost
from portal.remuneration import batches, claims
from portal.remuneration.models import ActivityType, BatchState, Claim, ClaimState, PaymentBatch
from portal.stories.models import Story, StoryState
from portal.teams.models import TeamMembership
from tests import factories
from tests import stories_factories as make
from tests.factories import make_application, make_phase, submitted
from tests.helpers import client_for, count, text_of

CONFIRM = {"confirm": "yes"}


def words(response: Any) -> str:
    """What the page says, as text."""
    return html.unescape(re.sub(r"\s+", " ", text_of(response)))


def raw(response: Any) -> str:
    """The page's HTML."""
    return str(response.get_data(as_text=True))


def audited(action: str) -> list[AuditEntry]:
    return list(db.session.scalars(sa.select(AuditEntry).where(AuditEntry.action == action)))


def asks(response: Any, question: str) -> str:
    """The response is the confirmation page with ``question`` as its heading; its words."""
    page, said = raw(response), words(response)
    assert response.status_code == 200, said
    assert 'name="confirm" value="yes"' in page  # its Confirm button is what acts
    heading = re.search(r'<h1 id="confirmation-title">(.*?)</h1>', page)
    assert heading is not None and html.unescape(heading.group(1)) == question, said
    return said


def fresh(model: Any, ident: int) -> Any:
    db.session.expire_all()
    return db.session.get(model, ident)


@pytest.fixture
def meeting(app: Flask, users: dict[str, Any]) -> ActivityType:
    return factories.rate_card()["Meeting"]


# --- the page itself ------------------------------------------------------------------------------


def _story(users: dict[str, Any], title: str = "Market day") -> Story:
    teller = make.storyteller(user=users["member"], by=users["member"])
    return make.story(teller, by=users["member"], staff=users["staff"], title=title)


def test_the_page_says_what_happens_and_offers_a_way_back(app: Flask, as_role: Any, users: dict[str, Any]) -> None:
    story = _story(users)
    page = as_role("member").get(f"/stories/{story.id}/withdraw")
    said = asks(page, "Withdraw “Market day”?")
    assert "This will withdraw your story “Market day” and erase it" in said
    assert "This cannot be undone." in said
    body = raw(page)
    assert f'action="/stories/{story.id}/withdraw"' in body and "Yes, withdraw and delete it" in body
    assert re.search(r'<a class="button button-secondary" href="/stories/mine">No, keep it</a>', body)


def test_an_htmx_request_gets_the_question_on_its_own_to_show_in_place(
    app: Flask, as_role: Any, users: dict[str, Any]
) -> None:
    story = _story(users)
    page = as_role("member").get(f"/stories/{story.id}/withdraw", headers={"HX-Request": "true"})
    body = raw(page)
    assert page.status_code == 200 and "<html" not in body and 'id="confirmation"' in body
    assert 'name="confirm" value="yes"' in body
    assert "HX-Request" in page.headers["Vary"]


def test_what_was_typed_goes_with_the_confirm_and_stays_text(app: Flask, users: dict[str, Any], meeting: Any) -> None:
    claim = submitted(users["member"], meeting)
    reason = 'Duplicate "claim" <b>1</b> & more'
    page = client_for(app, users["staff"]).post(f"/claims/{claim.id}/reject", data={"reject-reason": reason})
    asks(page, f"Reject claim {claim.id}?")
    body = raw(page)
    assert 'name="reject-reason" value="Duplicate &#34;claim&#34; &lt;b&gt;1&lt;/b&gt; &amp; more"' in body
    assert "<b>1</b>" not in body


# --- withdrawing a story ----------------------------------------------------------------------------


def test_withdrawing_a_story_needs_the_confirm(app: Flask, as_role: Any, users: dict[str, Any]) -> None:
    story = _story(users)
    member = as_role("member")
    old_form = member.post(f"/stories/{story.id}/withdraw")  # the old one-click button
    asks(old_form, "Withdraw “Market day”?")
    assert fresh(Story, story.id).state == StoryState.PUBLISHED and fresh(Story, story.id).body
    assert audited("story.withdrawn") == []

    staff_page = as_role("staff").get(f"/stories/{story.id}/withdraw")
    assert "Do this only when the storyteller has asked." in asks(staff_page, "Withdraw “Market day”?")

    done = member.post(f"/stories/{story.id}/withdraw", data=CONFIRM)
    assert done.status_code == 303 and done.headers["Location"].endswith("/stories/mine")
    withdrawn = fresh(Story, story.id)
    assert withdrawn.state == StoryState.WITHDRAWN and withdrawn.body == ""
    [entry] = audited("story.withdrawn")
    assert entry.actor_id == users["member"].id and entry.object_id == str(story.id)


# --- claims: rejecting and cancelling -----------------------------------------------------------------


def test_rejecting_a_claim_needs_the_confirm(app: Flask, users: dict[str, Any], meeting: Any) -> None:
    claim = submitted(users["member"], meeting)
    staff = client_for(app, users["staff"])
    data = {"reject-reason": "A duplicate of claim 1"}
    said = asks(staff.post(f"/claims/{claim.id}/reject", data=data), f"Reject claim {claim.id}?")
    assert f"tell 1 person, the claimant {users['member'].name}, with the reason you gave" in said
    assert fresh(Claim, claim.id).state == ClaimState.SUBMITTED and audited("claim.rejected") == []

    done = staff.post(f"/claims/{claim.id}/reject", data={**data, **CONFIRM})
    assert done.status_code == 303
    rejected = fresh(Claim, claim.id)
    assert rejected.state == ClaimState.REJECTED and rejected.decision_reason == "A duplicate of claim 1"
    [entry] = audited("claim.rejected")
    assert entry.actor_id == users["staff"].id and entry.note == "A duplicate of claim 1"


def test_a_reject_without_a_reason_is_refused_before_the_question(
    app: Flask, users: dict[str, Any], meeting: Any
) -> None:
    claim = submitted(users["member"], meeting)
    response = client_for(app, users["staff"]).post(f"/claims/{claim.id}/reject", data={"reject-reason": " "})
    assert response.status_code == 422
    said = words(response)
    assert "Give the reason, so the claimant understands why." in said and 'value="yes"' not in raw(response)
    assert fresh(Claim, claim.id).state == ClaimState.SUBMITTED


def test_cancelling_a_claim_needs_the_confirm(app: Flask, users: dict[str, Any], meeting: Any) -> None:
    claim = submitted(users["member"], meeting)
    staff = client_for(app, users["staff"])
    data = {"void-reason": "Made twice"}
    said = asks(staff.post(f"/claims/{claim.id}/void", data=data), f"Cancel claim {claim.id}?")
    assert "tell 1 person" in said and "A cancelled claim cannot be sent again." in said
    assert fresh(Claim, claim.id).state == ClaimState.SUBMITTED and audited("claim.voided") == []

    assert staff.post(f"/claims/{claim.id}/void", data={**data, **CONFIRM}).status_code == 303
    assert fresh(Claim, claim.id).state == ClaimState.VOIDED
    [entry] = audited("claim.voided")
    assert entry.actor_id == users["staff"].id and entry.note == "Made twice"


def test_a_claimant_cancelling_their_own_is_asked_too(app: Flask, users: dict[str, Any], meeting: Any) -> None:
    claim = submitted(users["member"], meeting)
    own = client_for(app, users["member"])
    said = asks(own.post(f"/claims/{claim.id}/void", data={"void-reason": ""}), f"Cancel claim {claim.id}?")
    assert "This will cancel your claim" in said
    assert fresh(Claim, claim.id).state == ClaimState.SUBMITTED
    assert own.post(f"/claims/{claim.id}/void", data={"void-reason": "", **CONFIRM}).status_code == 303
    assert fresh(Claim, claim.id).state == ClaimState.VOIDED


# --- marking a payment batch paid ------------------------------------------------------------------------


def test_marking_a_batch_paid_says_how_many_claims_and_people(app: Flask, users: dict[str, Any], meeting: Any) -> None:
    other = factories.user(name="Olu Other")
    made = [submitted(users["member"], meeting), submitted(users["member"], meeting), submitted(other, meeting)]
    for claim in made:
        claims.approve_claim(claim, by=users["staff"], now=utcnow())
    batch = batches.create_batch(reference="PAY-12", claim_ids=[c.id for c in made], by=users["finance"])
    db.session.commit()
    emails_before = count(OutboxMessage)
    finance = client_for(app, users["finance"])
    data = {"paid_on": (london_today() - timedelta(days=1)).isoformat(), "payment_reference": "BACS-77"}

    said = asks(finance.post(f"/finance/batches/{batch.id}/paid", data=data), "Mark batch PAY-12 paid?")
    assert "This will mark 3 claims paid (£60.00 in fees, plus expenses) and email 2 people" in said
    assert "with the payment reference BACS-77" in said
    assert fresh(PaymentBatch, batch.id).state == BatchState.AWAITING_PAYMENT
    assert {fresh(Claim, c.id).state for c in made} == {ClaimState.IN_BATCH}
    assert count(OutboxMessage) == emails_before and audited("batch.paid") == []

    done = finance.post(f"/finance/batches/{batch.id}/paid", data={**data, **CONFIRM})
    assert done.status_code == 303
    assert fresh(PaymentBatch, batch.id).state == BatchState.PAID
    assert {fresh(Claim, c.id).state for c in made} == {ClaimState.PAID}
    [entry] = audited("batch.paid")
    assert entry.actor_id == users["finance"].id and entry.after["payment_reference"] == "BACS-77"
    told = set(db.session.scalars(sa.select(OutboxMessage.to_email).where(OutboxMessage.kind == "claim_paid")))
    assert told == {users["member"].email, other.email}


def test_a_batch_that_cannot_be_marked_paid_says_why_instead_of_asking(
    app: Flask, users: dict[str, Any], meeting: Any
) -> None:
    claim = submitted(users["member"], meeting)
    claims.approve_claim(claim, by=users["staff"], now=utcnow())
    batch = batches.create_batch(reference="PAY-13", claim_ids=[claim.id], by=users["finance"])
    db.session.commit()
    tomorrow = (london_today() + timedelta(days=1)).isoformat()
    response = client_for(app, users["finance"]).post(
        f"/finance/batches/{batch.id}/paid", data={"paid_on": tomorrow, "payment_reference": "B1"}
    )
    assert response.status_code == 422 and "The payment date must be today or in the past." in words(response)
    assert fresh(PaymentBatch, batch.id).state == BatchState.AWAITING_PAYMENT


# --- moving a funding round to its next stage -----------------------------------------------------------


def test_moving_a_phase_says_how_many_applications_and_people(app: Flask, as_role: Any) -> None:
    phase = make_phase(state=PhaseState.OPEN, today=london_today(), name="Phase 9")
    first, second, third = factories.user(), factories.user(), factories.user()
    for lead in (first, second):
        make_application(phase, lead, state=ApplicationState.SUBMITTED)
    make_application(phase, third)  # still a draft
    staff = as_role("staff")

    old_button = staff.post(f"/staff/phases/{phase.id}/state", data={"to": "assessing"})
    said = asks(old_button, "Move Phase 9 to: panel assessing?")
    assert "send 2 submitted applications to the panel. We will tell 2 people: the lead of each one." in said
    assert "1 application still being written can no longer be sent." in said
    assert fresh(Phase, phase.id).state == PhaseState.OPEN and audited("phase.state_changed") == []

    done = staff.post(f"/staff/phases/{phase.id}/state", data={"to": "assessing", **CONFIRM})
    assert done.status_code == 303
    assert fresh(Phase, phase.id).state == PhaseState.ASSESSING
    [entry] = audited("phase.state_changed")
    assert entry.before == {"state": "open"} and entry.after == {"state": "assessing"}


def test_a_move_that_breaks_a_rule_says_why_instead_of_asking(app: Flask, as_role: Any) -> None:
    phase = make_phase(state=PhaseState.DRAFT, today=london_today())
    refused = as_role("staff").post(f"/staff/phases/{phase.id}/state", data={"to": "active"})
    assert refused.status_code == 422 and "cannot move to pilots running" in words(refused)
    assert 'name="confirm"' not in raw(refused)
    assert fresh(Phase, phase.id).state == PhaseState.DRAFT


# --- removing a team member -----------------------------------------------------------------------------


def test_removing_a_team_member_needs_the_confirm(app: Flask) -> None:
    lead, member = factories.user(name="Lena Lead"), factories.user(name="Mo Member")
    project = factories.project(title="Recovery cafés", lead=lead, members=(member,))
    client = client_for(app, lead)
    url = f"/projects/{project.id}/team/{member.id}/remove"
    said = asks(client.get(url), "Remove Mo Member from the team?")
    assert "We will tell 1 person: Mo Member." in said

    asks(client.post(url), "Remove Mo Member from the team?")  # the old button, without the confirm
    on_team = sa.select(TeamMembership).where(
        TeamMembership.project_id == project.id, TeamMembership.user_id == member.id
    )
    assert db.session.scalar(on_team) is not None and audited("project.member_removed") == []

    assert client.post(url, data=CONFIRM).status_code == 303
    db.session.expire_all()
    assert db.session.scalar(on_team) is None
    [entry] = audited("project.member_removed")
    assert entry.actor_id == lead.id


# --- deleting a post -------------------------------------------------------------------------------------


def test_deleting_a_post_needs_the_confirm(app: Flask, as_role: Any, users: dict[str, Any]) -> None:
    post = factories.make_post(users["member"], title="Paying people promptly")
    comments.add_comment(post, by=users["staff"], body="Thank you for this.")
    db.session.commit()
    post_id, member = post.id, as_role("member")
    said = asks(member.get(f"/learning/{post_id}/delete"), "Delete “Paying people promptly”?")
    assert "with its 1 comment and 0 validations from other people" in said
    asks(member.post(f"/learning/{post_id}/delete"), "Delete “Paying people promptly”?")
    assert fresh(LearningPost, post_id) is not None and audited("post.deleted") == []

    assert member.post(f"/learning/{post_id}/delete", data=CONFIRM).status_code == 303
    assert fresh(LearningPost, post_id) is None
    [entry] = audited("post.deleted")
    assert entry.actor_id == users["member"].id and entry.before == {"title": "Paying people promptly"}


# --- an admin closing someone's account ------------------------------------------------------------------


def test_an_admin_closing_an_account_needs_the_confirm(app: Flask, users: dict[str, Any]) -> None:
    person = factories.user(name="Pat Person")
    signed_in = client_for(app, person)  # one device signed in
    admin = client_for(app, users["admin"])
    data = {"reason": "Asked to leave"}
    said = asks(admin.post(f"/admin/users/{person.id}/deactivate", data=data), "Close Pat Person's account?")
    assert "sign them out on 1 device at once" in said and "Nothing they have made is removed" in said
    assert "This cannot be undone." not in said  # it can be reopened
    assert fresh(User, person.id).is_active and audited("user.deactivated") == []
    assert signed_in.get("/dashboard").status_code == 200

    assert admin.post(f"/admin/users/{person.id}/deactivate", data={**data, **CONFIRM}).status_code == 303
    assert not fresh(User, person.id).is_active
    [entry] = audited("user.deactivated")
    assert entry.actor_id == users["admin"].id and entry.note == "Asked to leave"
    assert signed_in.get("/dashboard").status_code in (302, 303)


# --- closing your own account, end to end ------------------------------------------------------------------


def test_a_person_closes_their_own_account(app: Flask) -> None:
    person = factories.user(name="Cass Closer", email="cass@example.test")
    other_device = client_for(app, person)
    client = client_for(app, person)
    assert 'href="/account/close"' in raw(client.get("/account/profile"))

    said = asks(client.get("/account/close"), "Close your account?")
    assert "signed out on every device, including this one" in said and "What stays for now" in said
    assert "Stories you told, and the posts and comments you wrote, stay as they are: closing can be undone." in said
    assert 'type="password"' in raw(client.get("/account/close"))

    asks(client.post("/account/close", data={"password": factories.PASSWORD}), "Close your account?")
    assert fresh(User, person.id).is_active  # the password alone, without the confirm, closes nothing

    wrong = client.post("/account/close", data={"password": "not my password", **CONFIRM})
    assert wrong.status_code == 422 and "Your password is not right. Try again." in words(wrong)
    assert fresh(User, person.id).is_active and audited("user.deactivated") == []

    done = client.post("/account/close", data={"password": factories.PASSWORD, **CONFIRM})
    assert done.status_code == 303 and done.headers["Location"] == "/"
    closed = fresh(User, person.id)
    assert not closed.is_active
    [entry] = audited("user.deactivated")
    assert entry.actor_id == person.id and entry.object_id == str(person.id) and "themselves" in entry.note
    [email] = db.session.scalars(sa.select(OutboxMessage).where(OutboxMessage.kind == "account_closed"))
    assert email.to_email == "cass@example.test"
    for device in (client, other_device):  # signed out everywhere
        assert device.get("/dashboard").status_code in (302, 303)
    again = app.test_client().post("/account/sign-in", data={"email": person.email, "password": factories.PASSWORD})
    assert again.status_code != 303


def test_the_last_admin_cannot_close_their_own_account(app: Flask, users: dict[str, Any]) -> None:
    admin = client_for(app, users["admin"])
    refused = admin.post("/account/close", data={"password": factories.PASSWORD, **CONFIRM})
    assert refused.status_code == 422 and "This is the last admin." in words(refused)
    assert fresh(User, users["admin"].id).is_active

"""Moderation that cannot leak: edits and publishing are one form and one action, a stale form
never overwrites or publishes, "ask me before publishing" waits for the storyteller's approval,
every saved version is kept (and erased on withdrawal), and who may see and do each."""

from __future__ import annotations

import re
from html import unescape
from typing import Any

import sqlalchemy as sa

from portal.core.audit import AuditEntry
from portal.core.extensions import db
from portal.core.outbox import OutboxMessage
from portal.core.revisions import Revision, fields_of
from portal.stories import approval
from portal.stories.models import Scope, Story, StoryState
from tests import factories
from tests import stories_factories as make
from tests.helpers import sign_in
from tests.test_stories_services import TELL

NAMED = "I met Dr Jane Bloggs at the Elm Street clinic every week."
EDITED = "I met a doctor at the clinic every week."


def _story(users: dict[str, Any], *, ask: bool = False, state: StoryState = StoryState.IN_REVIEW) -> Story:
    teller = make.storyteller(user=users["member"], by=users["member"])
    return make.story(
        teller,
        by=users["member"],
        staff=users["staff"],
        state=state,
        title="Our clinic",
        body=NAMED,
        scope=Scope.PUBLIC,
        ask_before_publishing=ask,
    )


def _fresh(story_id: int) -> Story:
    db.session.expire_all()
    found = db.session.get(Story, story_id)
    assert found is not None
    return found


def _form(story: Story, **changes: Any) -> dict[str, Any]:
    return {
        "title": story.title,
        "summary": story.summary,
        "body": story.body,
        "transcript": story.transcript,
        "version": story.version,
        **changes,
    }


def _text(response: Any) -> str:
    return unescape(response.get_data(as_text=True))


def _marked(html: str, kind: str) -> str:
    """The words a comparison marks as "removed" or "added"."""
    return " ".join(re.findall(rf"\[{kind}: </span>(.*?)<span", html, flags=re.S))


def _another_member(app: Any) -> Any:
    client = app.test_client()
    assert sign_in(client, factories.user(name="Another Member", email="another@example.test").email).status_code == 303
    return client


def _audit(action: str) -> list[AuditEntry]:
    return list(db.session.scalars(sa.select(AuditEntry).where(AuditEntry.action == action)))


def _revisions(story_id: int) -> list[Revision]:
    return list(
        db.session.scalars(
            sa.select(Revision).where(Revision.kind == "stories", Revision.record_id == story_id).order_by(Revision.id)
        )
    )


def _outbox(kind: str) -> list[OutboxMessage]:
    return list(db.session.scalars(sa.select(OutboxMessage).where(OutboxMessage.kind == kind)))


# --- one form, one action -------------------------------------------------------------------


def test_the_moderation_page_has_one_form_and_publish_is_its_button(
    app: Any, as_role: Any, users: dict[str, Any]
) -> None:
    story = _story(users)
    page = as_role("staff").get(f"/stories/{story.id}/moderate").get_data(as_text=True)
    forms = re.findall(r"<form\b.*?</form>", page, flags=re.S)
    publishing = [form for form in forms if 'value="publish"' in form]
    assert len(publishing) == 1  # no other form on the page can publish
    (one,) = publishing
    assert f'action="/stories/{story.id}/moderate/edit"' in one
    assert (
        'name="body"' in one
        and 'name="title"' in one
        and f'name="version" type="hidden" value="{story.version}"' in one
    )
    assert ">Save edits</button>" in one and ">Save edits and publish</button>" in one


def test_save_edits_and_publish_publishes_exactly_the_text_in_the_form(
    app: Any, as_role: Any, users: dict[str, Any]
) -> None:
    story = _story(users)
    staff = as_role("staff")
    # The name is edited out in the box and "Save edits and publish" pressed, never "Save edits" first.
    response = staff.post(f"/stories/{story.id}/moderate/edit", data={**_form(story, body=EDITED), "action": "publish"})
    assert response.status_code == 303
    row = _fresh(story.id)
    assert row.state == StoryState.PUBLISHED and row.body == EDITED and row.original_body == NAMED
    public = _text(as_role("anonymous").get(f"/stories/{story.id}"))
    assert EDITED in public and "Bloggs" not in public
    assert _audit("story.edited")[0].after == {"fields": ["body"]} and len(_audit("story.published")) == 1
    kept = _revisions(story.id)
    assert [fields_of(story, r)["body"] for r in kept] == [NAMED, EDITED]  # as told, then as edited (and published)
    assert kept[-1].by_id == users["staff"].id


def test_publish_is_not_a_decision_on_its_own(app: Any, as_role: Any, users: dict[str, Any]) -> None:
    story = _story(users)
    response = as_role("staff").post(f"/stories/{story.id}/moderate/decide", data={"action": "publish"})
    assert response.status_code == 400
    assert _fresh(story.id).state == StoryState.IN_REVIEW


def test_two_moderators_edit_one_story_and_the_second_is_refused_with_both_versions(
    app: Any, as_role: Any, users: dict[str, Any]
) -> None:
    story = _story(users)
    opened = _form(story)  # both open the page at the same version
    first, second = as_role("staff"), as_role("admin")
    assert first.post(f"/stories/{story.id}/moderate/edit", data={**opened, "body": EDITED}).status_code == 303
    theirs = "I met Dr Jane Bloggs at a clinic every week."
    refused = second.post(f"/stories/{story.id}/moderate/edit", data={**opened, "body": theirs})
    text = _text(refused)
    assert refused.status_code == 422
    assert f"This was changed by {users['staff'].name}" in text
    conflict = text.split('id="edit-conflict"')[1].split("</section>")[0]
    assert EDITED in conflict and theirs in conflict  # the saved version beside theirs
    now = _fresh(story.id)
    assert now.body == EDITED  # nothing of the second save was kept
    assert f'name="version" type="hidden" value="{now.version}"' in text  # saving again, after merging, works
    assert theirs in text.split('name="body"')[1].split("</textarea>")[0]  # their own text stays in the box
    merged = second.post(f"/stories/{story.id}/moderate/edit", data={**_form(now), "title": "Our local clinic"})
    assert merged.status_code == 303
    assert _fresh(story.id).title == "Our local clinic" and _fresh(story.id).body == EDITED


def test_a_stale_form_can_never_publish_the_unedited_text(app: Any, as_role: Any, users: dict[str, Any]) -> None:
    story = _story(users)
    stale = _form(story)  # opened before anyone edited: still has the name in it
    assert (
        as_role("staff").post(f"/stories/{story.id}/moderate/edit", data={**stale, "body": EDITED}).status_code == 303
    )
    other = as_role("admin")
    refused = other.post(f"/stories/{story.id}/moderate/edit", data={**stale, "action": "publish"})
    assert refused.status_code == 422
    row = _fresh(story.id)
    assert row.state == StoryState.IN_REVIEW and row.body == EDITED
    assert as_role("anonymous").get(f"/stories/{story.id}").status_code == 404  # not published
    # A form sent without its version is never taken as fresh either.
    without = {key: value for key, value in _form(row, body=NAMED).items() if key != "version"}
    assert other.post(f"/stories/{story.id}/moderate/edit", data={**without, "action": "publish"}).status_code == 422
    assert (
        other.post(
            f"/stories/{story.id}/moderate/edit", data={**_form(row, version="x"), "action": "publish"}
        ).status_code
        == 422
    )
    assert _fresh(story.id).state == StoryState.IN_REVIEW and _fresh(story.id).body == EDITED
    assert _audit("story.published") == []


def test_the_storyteller_and_a_moderator_cannot_overwrite_each_other(
    app: Any, as_role: Any, users: dict[str, Any]
) -> None:
    story = _story(users, state=StoryState.SUBMITTED)
    member = as_role("member")
    page = member.get(f"/stories/{story.id}/edit").get_data(as_text=True)
    assert f'name="version" type="hidden" value="{story.version}"' in page
    form = {
        **TELL,
        "scope": "public",
        "anonymous": "",
        "consent": "",
        "body": "My first change.",
        "version": story.version,
    }
    assert member.post(f"/stories/{story.id}/edit", data=form).status_code == 303
    # The same page, sent again from another tab: refused, the saved text shown beside theirs.
    again = member.post(f"/stories/{story.id}/edit", data={**form, "body": "My other change."})
    text = _text(again)
    assert again.status_code == 422 and "you, in another window or tab" in text
    assert "My first change." in text and "My other change." in text
    assert _fresh(story.id).body == "My first change."
    assert [fields_of(story, r)["body"] for r in _revisions(story.id)] == [NAMED, "My first change."]


# --- ask me before publishing ---------------------------------------------------------------


def test_ask_me_waits_for_the_storyteller_and_publishes_only_after_approval(
    app: Any, as_role: Any, users: dict[str, Any]
) -> None:
    member = as_role("member")
    told = member.post("/stories/tell", data={**TELL, "scope": "public", "body": NAMED, "ask_before_publishing": "y"})
    assert told.status_code == 303
    story = db.session.scalar(sa.select(Story))
    assert story.ask_before_publishing and _audit("story.consent_recorded")[0].after["ask_before_publishing"] is True
    staff = as_role("staff")
    assert staff.post(f"/stories/{story.id}/moderate/decide", data={"action": "start_review"}).status_code == 303
    page = _text(staff.get(f"/stories/{story.id}/moderate"))
    assert "The storyteller asked to approve changes before publishing" in page

    sent = staff.post(
        f"/stories/{story.id}/moderate/edit", data={**_form(_fresh(story.id), body=EDITED), "action": "publish"}
    )
    assert sent.status_code == 303
    assert "asked to approve them" in _text(staff.get(sent.headers["Location"]))
    row = _fresh(story.id)
    assert row.state == StoryState.AWAITING_APPROVAL and row.body == EDITED and row.published_at is None
    assert as_role("anonymous").get(f"/stories/{story.id}").status_code == 404  # not public yet
    assert _audit("story.published") == [] and len(_audit("story.approval_requested")) == 1
    waiting = staff.get("/stories/moderation?state=awaiting_approval").get_data(as_text=True)
    assert "1 story waiting" in waiting and f"/stories/{story.id}/moderate" in waiting
    (email,) = _outbox("story.approval_requested")
    assert email.to_email == users["member"].email and "Bloggs" not in email.body and "doctor" not in email.body

    # The storyteller sees exactly what changed, word by word.
    assert "See our changes" in member.get("/stories/mine").get_data(as_text=True)
    shown = member.get(f"/stories/{story.id}/approval")
    assert shown.status_code == 200
    changes = shown.get_data(as_text=True).split('id="approval-changes"')[1].split("</section>")[0]
    removed, added = _marked(changes, "removed"), _marked(changes, "added")
    assert all(word in removed for word in ("Dr", "Jane", "Bloggs", "Elm", "Street"))
    assert "doctor" in added and "Bloggs" not in added
    approved = member.post(f"/stories/{story.id}/approval", data={"action": "approve", "version": row.version})
    assert approved.status_code == 303
    row = _fresh(story.id)
    assert row.state == StoryState.PUBLISHED and row.body == EDITED
    public = _text(as_role("anonymous").get(f"/stories/{story.id}"))
    assert EDITED in public and "Bloggs" not in public
    (decision,) = _audit("story.edits_approved")
    assert decision.actor_id == users["member"].id and decision.note == "" and "Bloggs" not in str(decision.after)


def test_approving_a_version_the_storyteller_did_not_see_is_refused(
    app: Any, as_role: Any, users: dict[str, Any]
) -> None:
    story = _story(users, ask=True)
    staff, member = as_role("staff"), as_role("member")
    staff.post(f"/stories/{story.id}/moderate/edit", data={**_form(story, body=EDITED), "action": "publish"})
    seen = _fresh(story.id).version  # the storyteller opens the approval page at this version
    # Staff take it back and edit again before the storyteller answers.
    assert staff.post(f"/stories/{story.id}/moderate/decide", data={"action": "take_back"}).status_code == 303
    again = "I met a doctor every week."
    staff.post(f"/stories/{story.id}/moderate/edit", data={**_form(_fresh(story.id), body=again), "action": "publish"})
    late = member.post(f"/stories/{story.id}/approval", data={"action": "approve", "version": seen})
    assert late.status_code == 422 and approval.MOVED_ON in _text(late)
    now = _fresh(story.id)
    assert now.state == StoryState.AWAITING_APPROVAL
    assert f'name="version" type="hidden" value="{now.version}"' in late.get_data(as_text=True)
    assert member.post(f"/stories/{story.id}/approval", data={"action": "approve"}).status_code == 422  # no version
    ok = member.post(f"/stories/{story.id}/approval", data={"action": "approve", "version": now.version})
    assert ok.status_code == 303 and _fresh(story.id).state == StoryState.PUBLISHED and _fresh(story.id).body == again


def test_declining_the_edits_returns_the_story_to_moderation_with_the_note(
    app: Any, as_role: Any, users: dict[str, Any]
) -> None:
    story = _story(users, ask=True)
    staff, member = as_role("staff"), as_role("member")
    staff.post(f"/stories/{story.id}/moderate/edit", data={**_form(story, body=EDITED), "action": "publish"})
    version = _fresh(story.id).version
    no_note = member.post(f"/stories/{story.id}/approval", data={"action": "decline", "version": version})
    assert no_note.status_code == 422 and 'id="note-error"' in no_note.get_data(as_text=True)
    assert _fresh(story.id).state == StoryState.AWAITING_APPROVAL
    note = "Please keep the clinic's street: it closed years ago."
    declined = member.post(
        f"/stories/{story.id}/approval", data={"action": "decline", "version": version, "note": note}
    )
    assert declined.status_code == 303
    row = _fresh(story.id)
    assert row.state == StoryState.IN_REVIEW and row.approval_note == note and row.body == EDITED
    assert as_role("anonymous").get(f"/stories/{story.id}").status_code == 404
    (entry,) = _audit("story.edits_declined")
    assert entry.actor_id == users["member"].id and "street" not in str(entry.after) + entry.note
    (email,) = _outbox("story.edits_declined")
    assert email.to_email == users["staff"].email and "street" not in email.body
    page = _text(staff.get(f"/stories/{story.id}/moderate"))
    assert "did not approve the last changes" in page and note in page
    # Moderation goes on: the next "Save edits and publish" asks the storyteller again.
    staff.post(f"/stories/{story.id}/moderate/edit", data={**_form(row, body=NAMED), "action": "publish"})
    row = _fresh(story.id)
    assert row.state == StoryState.AWAITING_APPROVAL and row.approval_note == ""


def test_who_may_answer_for_a_story_waiting_for_approval(app: Any, as_role: Any, users: dict[str, Any]) -> None:
    story = _story(users, ask=True)
    assert as_role("member").get(f"/stories/{story.id}/approval").status_code == 403  # not waiting yet
    as_role("staff").post(f"/stories/{story.id}/moderate/edit", data={**_form(story, body=EDITED), "action": "publish"})
    version = _fresh(story.id).version
    for role in ("staff", "admin"):  # staff cannot approve for the storyteller
        client = as_role(role)
        assert client.get(f"/stories/{story.id}/approval").status_code == 403
        assert (
            client.post(f"/stories/{story.id}/approval", data={"action": "approve", "version": version}).status_code
            == 403
        )
    other = _another_member(app)
    assert (
        other.post(f"/stories/{story.id}/approval", data={"action": "approve", "version": version}).status_code == 403
    )
    visitor = as_role("anonymous").get(f"/stories/{story.id}/approval")
    assert visitor.status_code in (302, 303) and "/account/sign-in" in visitor.headers["Location"]
    assert _fresh(story.id).state == StoryState.AWAITING_APPROVAL
    assert as_role("member").post(f"/stories/{story.id}/approval", data={"action": "nonsense"}).status_code == 400


def test_the_storyteller_sets_ask_me_on_their_story_page(app: Any, as_role: Any, users: dict[str, Any]) -> None:
    story = _story(users, state=StoryState.SUBMITTED)
    member = as_role("member")
    page = member.get(f"/stories/{story.id}").get_data(as_text=True)
    assert 'name="ask_before_publishing"' in page and "Ask me before publishing" in page
    turned_on = member.post(f"/stories/{story.id}/ask-before-publishing", data={"ask_before_publishing": "y"})
    assert turned_on.status_code == 303 and _fresh(story.id).ask_before_publishing is True
    assert _audit("story.ask_before_publishing")[0].after == {"ask": True}
    box = re.search(
        r'<input[^>]*name="ask_before_publishing"[^>]*>', member.get(f"/stories/{story.id}").get_data(as_text=True)
    )
    assert box is not None and "checked" in box.group(0)
    assert as_role("staff").post(f"/stories/{story.id}/ask-before-publishing", data={}).status_code == 403
    assert _fresh(story.id).ask_before_publishing is True
    assert member.post(f"/stories/{story.id}/ask-before-publishing", data={}).status_code == 303
    assert _fresh(story.id).ask_before_publishing is False


def test_staff_cannot_ask_a_storyteller_who_cannot_sign_in(app: Any, as_role: Any, users: dict[str, Any]) -> None:
    teller = make.storyteller(by=users["staff"], name="Interviewed Iris")
    form = {
        **TELL,
        "anonymous": "",
        "consent_method": "written",
        "consent_given_on": "2026-03-31",
        "ask_before_publishing": "y",
    }
    response = as_role("staff").post(f"/stories/storytellers/{teller.id}/tell", data=form)
    assert response.status_code == 422 and 'id="ask_before_publishing-error"' in response.get_data(as_text=True)
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Story)) == 0


# --- saved versions -------------------------------------------------------------------------


def test_history_and_comparison_for_staff_and_the_storyteller_only(
    app: Any, as_role: Any, users: dict[str, Any]
) -> None:
    story = _story(users)
    staff = as_role("staff")
    staff.post(f"/stories/{story.id}/moderate/edit", data=_form(story, body=EDITED))
    first, second = _revisions(story.id)
    for role in ("staff", "member"):
        history = as_role(role).get(f"/stories/{story.id}/history")
        assert history.status_code == 200
        assert f'value="{first.id}"' in history.get_data(as_text=True) and users["staff"].name in _text(history)
        compared = as_role(role).get(f"/stories/{story.id}/history/compare?from={first.id}&to={second.id}")
        text = compared.get_data(as_text=True)
        assert compared.status_code == 200
        assert "Bloggs" in _marked(text, "removed") and "doctor" in _marked(text, "added")
    other = _another_member(app)
    assert other.get(f"/stories/{story.id}/history").status_code == 403
    assert other.get(f"/stories/{story.id}/history/compare?from={first.id}&to={second.id}").status_code == 403
    assert staff.get(f"/stories/{story.id}/history/compare?from={first.id}&to=999999").status_code == 404
    assert staff.get(f"/stories/{story.id}/history/compare?from=x&to={second.id}").status_code == 404


def test_withdrawal_erases_every_saved_version(app: Any, as_role: Any, users: dict[str, Any]) -> None:
    story = _story(users, ask=True)
    staff = as_role("staff")
    staff.post(f"/stories/{story.id}/moderate/edit", data={**_form(story, body=EDITED), "action": "publish"})
    other = _story(users)  # another story keeps its versions
    assert len(_revisions(story.id)) == 2
    assert as_role("member").post(f"/stories/{story.id}/withdraw", data={"confirm": "yes"}).status_code == 303
    assert _revisions(story.id) == [] and len(_revisions(other.id)) == 1
    # The edited words were only ever in the withdrawn story: no row of revisions holds them now.
    assert not any("doctor" in str(fields) for fields in db.session.scalars(sa.select(Revision.fields)))
    assert staff.get(f"/stories/{story.id}/history").status_code == 404
    assert _fresh(story.id).approval_note == "" and _fresh(story.id).ask_before_publishing is False

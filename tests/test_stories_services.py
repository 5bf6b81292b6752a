"""Telling a story (consent and anonymity), entering one on someone's behalf, moderation with
edits that keep the original, media checks, and demographics stored only with consent."""

from __future__ import annotations

import io
from datetime import date
from typing import Any

import pytest
import sqlalchemy as sa

from portal.core import keystore
from portal.core.audit import AuditEntry
from portal.core.errors import RuleBroken
from portal.core.extensions import db
from portal.core.outbox import OutboxMessage
from portal.stories import library, media, moderation
from portal.stories.models import ConsentMethod, Demographics, MediaKind, Scope, Story, StoryState, Storyteller
from portal.stories.telling import Upload
from tests import media_samples
from tests import stories_factories as make
from tests.helpers import Stream

TELL = {
    "title": "The café we built",
    "summary": "How we chose the opening hours together.",
    "body": "We decided *together*.",
    "themes": ["outcomes", "connecting"],
    "values": ["equality"],
    "scope": "network",
    "anonymous": "y",
    "pseudonym": "Wren",
    "consent": "y",
    "project_id": "",
}


def _audit(action: str) -> list[AuditEntry]:
    return list(db.session.scalars(sa.select(AuditEntry).where(AuditEntry.action == action)))


def test_member_tells_a_story_with_consent_choices(app: Any, as_role: Any, users: dict[str, Any]) -> None:
    member = as_role("member")
    response = member.post("/stories/tell", data=TELL)
    assert response.status_code == 303 and response.headers["Location"].endswith("/stories/mine")
    story = library.story_for_page(db.session.scalar(sa.select(Story.id)))
    assert story.state == StoryState.SUBMITTED and story.scope == Scope.NETWORK and story.anonymous
    assert story.consent_method == ConsentMethod.SELF and story.consent_recorded_by_id == users["member"].id
    assert story.themes == ["connecting", "outcomes"] and story.values == ["equality"]
    teller = db.session.get(Storyteller, story.storyteller_id)
    assert teller.user_id == users["member"].id and teller.pseudonym == "Wren"
    assert story.original_body == "We decided *together*."
    entry = _audit("story.consent_recorded")[0]
    assert entry.after["scope"] == "network" and entry.after["anonymous"] is True and entry.after["method"] == "self"
    mine = member.get("/stories/mine").get_data(as_text=True)
    assert "The café we built" in mine and "Waiting for review" in mine


def test_telling_without_consent_or_title_changes_nothing(app: Any, as_role: Any) -> None:
    member = as_role("member")
    no_consent = member.post("/stories/tell", data={**TELL, "consent": ""})
    assert no_consent.status_code == 422
    assert "Tick the box to say you agree" in no_consent.get_data(as_text=True)
    no_title = member.post("/stories/tell", data={**TELL, "title": "  "})
    assert no_title.status_code == 422 and "Give your story a title." in no_title.get_data(as_text=True)
    bad_theme = member.post("/stories/tell", data={**TELL, "themes": ["nonsense"]})
    assert bad_theme.status_code == 422
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Story)) == 0


def test_staff_enter_a_story_on_behalf_recording_consent(app: Any, as_role: Any, users: dict[str, Any]) -> None:
    teller = make.storyteller(by=users["staff"], name="Interviewed Iris")
    staff = as_role("staff")
    form = {
        **TELL,
        "anonymous": "",
        "scope": "public",
        "consent_method": "spoken_recorded",
        "consent_given_on": "2026-03-31",
        "consent_note": "Recording 14, minute 2",
        "consent": "y",
    }
    missing = staff.post(f"/stories/storytellers/{teller.id}/tell", data={**form, "consent_method": ""})
    assert missing.status_code == 422 and "Say how the storyteller gave their consent." in missing.get_data(
        as_text=True
    )
    future = staff.post(f"/stories/storytellers/{teller.id}/tell", data={**form, "consent_given_on": "2099-01-01"})
    assert future.status_code == 422 and "cannot be in the future" in future.get_data(as_text=True)
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Story)) == 0

    response = staff.post(f"/stories/storytellers/{teller.id}/tell", data=form)
    assert response.status_code == 303
    story = db.session.scalar(sa.select(Story))
    assert story.storyteller_id == teller.id and story.entered_by_id == users["staff"].id
    assert story.consent_method == ConsentMethod.SPOKEN_RECORDED
    assert story.consent_given_on.date() == date(2026, 3, 31) and story.consent_note == "Recording 14, minute 2"
    entry = _audit("story.consent_recorded")[0]
    assert entry.actor_id == users["staff"].id and entry.after["given_on"] == "2026-03-31"
    assert entry.after["storyteller_id"] == teller.id
    assert as_role("member").get(f"/stories/storytellers/{teller.id}/tell").status_code == 403


def test_moderation_edit_keeps_the_original_and_shows_what_changed(
    app: Any, as_role: Any, users: dict[str, Any]
) -> None:
    teller = make.storyteller(user=users["member"], by=users["member"])
    story = make.story(
        teller,
        by=users["member"],
        staff=users["staff"],
        state=StoryState.SUBMITTED,
        body="I met Dr Jane Bloggs at Elm Street clinic every week.",
    )
    staff = as_role("staff")
    early = staff.post(
        f"/stories/{story.id}/moderate/edit",
        data={"title": story.title, "summary": story.summary, "body": "x", "transcript": "", "version": story.version},
    )
    assert early.status_code == 422 and "Start the review before editing" in early.get_data(as_text=True)
    assert staff.post(f"/stories/{story.id}/moderate/decide", data={"action": "start_review"}).status_code == 303

    edited = staff.post(
        f"/stories/{story.id}/moderate/edit",
        data={
            "title": story.title,
            "summary": story.summary,
            "body": "I met a doctor at the clinic every week.",
            "transcript": "",
            "version": db.session.get(Story, story.id).version,
        },
    )
    assert edited.status_code == 303
    row = db.session.get(Story, story.id)
    assert row.body == "I met a doctor at the clinic every week."
    assert row.original_body == "I met Dr Jane Bloggs at Elm Street clinic every week." and row.edited_by_staff
    assert _audit("story.edited")[0].after == {"fields": ["body"]}  # names the field, never the words

    page = staff.get(f"/stories/{story.id}/moderate").get_data(as_text=True)
    assert "What staff changed" in page
    assert '<del><span class="visually-hidden">[taken out: </span>Dr Jane Bloggs' in page
    assert '<ins><span class="visually-hidden">[added: </span>a doctor' in page
    assert "Elm Street" in page.split("What staff changed")[1]

    # The storyteller sees what was taken out; once published, a visitor never does.
    own = as_role("member").get(f"/stories/{story.id}").get_data(as_text=True)
    assert "What our team changed before publishing" in own and "Jane Bloggs" in own
    moderation.publish(db.session.get(Story, story.id), by=users["staff"])
    db.session.commit()
    public = as_role("anonymous").get(f"/stories/{story.id}").get_data(as_text=True)
    assert "I met a doctor at the clinic every week." in public and "Bloggs" not in public


def test_changes_requested_then_resubmitted_then_published(app: Any, as_role: Any, users: dict[str, Any]) -> None:
    teller = make.storyteller(user=users["member"], by=users["member"])
    story = make.story(teller, by=users["member"], staff=users["staff"], state=StoryState.IN_REVIEW, title="Draft")
    staff, member = as_role("staff"), as_role("member")
    no_note = staff.post(f"/stories/{story.id}/moderate/decide", data={"action": "request_changes", "note": ""})
    assert no_note.status_code == 422 and "Write a note" in no_note.get_data(as_text=True)
    assert (
        staff.post(
            f"/stories/{story.id}/moderate/decide",
            data={"action": "request_changes", "note": "Please remove the street name."},
        ).status_code
        == 303
    )
    assert "Please remove the street name." in member.get("/stories/mine").get_data(as_text=True)
    email = db.session.scalar(sa.select(OutboxMessage).where(OutboxMessage.kind == "story.changes_requested"))
    assert email.to_email == users["member"].email and "Draft" not in email.body

    changed = member.post(f"/stories/{story.id}/edit", data={**TELL, "title": "Better draft", "consent": ""})
    assert changed.status_code == 303
    row = db.session.get(Story, story.id)
    assert row.state == StoryState.SUBMITTED and row.title == "Better draft" and row.original_title == "Better draft"
    assert member.get(f"/stories/{story.id}/edit").status_code == 200
    moderation.start_review(row, by=users["staff"])
    moderation.publish(row, by=users["staff"])
    db.session.commit()
    assert member.get(f"/stories/{story.id}/edit").status_code == 403  # published: no longer editable


def test_invalid_moves_are_refused(app: Any, users: dict[str, Any]) -> None:
    teller = make.storyteller(by=users["staff"])
    story = make.story(teller, by=users["staff"], state=StoryState.SUBMITTED)
    with pytest.raises(RuleBroken):
        moderation.publish(story, by=users["staff"])  # must be in review first
    declined = make.story(teller, by=users["staff"], state=StoryState.DECLINED)
    with pytest.raises(RuleBroken):
        moderation.start_review(declined, by=users["staff"])
    with pytest.raises(RuleBroken):
        moderation.set_featured(story, True, by=users["staff"])


def test_audio_story_needs_a_transcript_before_publishing(app: Any, users: dict[str, Any]) -> None:
    key_id = keystore.create()
    stored, kind, content_type = media.store(Stream(media_samples.m4a()), max_bytes=1000, key_id=key_id)
    assert kind == MediaKind.AUDIO and content_type == "audio/mp4"
    teller = make.storyteller(by=users["staff"])
    story = make.story(
        teller, by=users["staff"], state=StoryState.IN_REVIEW, upload=Upload(stored, kind, content_type, key_id=key_id)
    )
    with pytest.raises(RuleBroken, match="transcript"):
        moderation.publish(story, by=users["staff"])
    linked = make.story(teller, by=users["staff"], state=StoryState.IN_REVIEW, media_link="https://example.org/a")
    with pytest.raises(RuleBroken, match="transcript"):
        moderation.publish(linked, by=users["staff"])
    linked.transcript = "Every word."
    moderation.publish(linked, by=users["staff"])
    assert linked.state == StoryState.PUBLISHED


@pytest.mark.parametrize(
    "data, message",
    [
        (b"%PDF-1.7 pretending to be audio", "must be audio"),
        (b"<html><script>alert(1)</script>", "must be audio"),
        (b"", "empty"),
        (b"ID3" + b"\x00" * 5000, "no bigger than"),
    ],
)
def test_media_uploads_are_checked_from_content_and_size(app: Any, as_role: Any, data: bytes, message: str) -> None:
    app.config["STORY_MEDIA_MAX_BYTES"] = 4096
    member = as_role("member")
    response = member.post(
        "/stories/tell",
        content_type="multipart/form-data",
        data={**TELL, "media_file": (io.BytesIO(data), "story.mp3")},
    )
    assert response.status_code == 422 and message in response.get_data(as_text=True)
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Story)) == 0
    assert not any(media.path_of("a" * 32).parent.iterdir())  # nothing left on disk


def test_a_good_upload_is_stored_outside_static_and_played(app: Any, as_role: Any, users: dict[str, Any]) -> None:
    member = as_role("member")
    response = member.post(
        "/stories/tell",
        content_type="multipart/form-data",
        data={
            **TELL,
            "scope": "public",
            "transcript": "Hello.",
            "media_file": (io.BytesIO(media_samples.ogg()), "voice.ogg"),
        },
    )
    assert response.status_code == 303
    story = db.session.scalar(sa.select(Story))
    assert story.media_kind == MediaKind.AUDIO and story.media_content_type == "audio/ogg"
    path = media.path_of(story.media_stored_name)
    assert path.is_file() and "static" not in str(path) and "voice" not in str(path)
    moderation.start_review(story, by=users["staff"])
    moderation.publish(story, by=users["staff"])
    db.session.commit()
    page = as_role("anonymous").get(f"/stories/{story.id}").get_data(as_text=True)
    assert f'<audio controls preload="metadata" src="/stories/{story.id}/media"' in page and "Transcript" in page


def test_demographics_are_stored_only_with_consent(app: Any, as_role: Any, users: dict[str, Any]) -> None:
    member = as_role("member")
    record_url = member.post("/stories/me").headers["Location"]
    answers = {
        "display_name": "Lydia",
        "gender": "female",
        "age": "44",
        "roles": ["lived_experience"],
        "lived_experience_areas": ["care"],
    }
    refused = member.post(record_url, data=answers)
    assert refused.status_code == 422 and "Without agreement they are not stored" in refused.get_data(as_text=True)
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Demographics)) == 0

    bad_age = member.post(record_url, data={**answers, "demographics_consent": "y", "age": "four"})
    assert bad_age.status_code == 422 and "whole years" in bad_age.get_data(as_text=True)
    mixed = member.post(
        record_url, data={**answers, "demographics_consent": "y", "roles": ["lived_experience", "prefer_not_to_say"]}
    )
    assert mixed.status_code == 422
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Demographics)) == 0

    assert member.post(record_url, data={**answers, "demographics_consent": "y"}).status_code == 303
    row = db.session.scalar(sa.select(Demographics))
    assert row.gender == "female" and row.age == 44 and row.roles == ["lived_experience"]
    assert row.consent_recorded_by_id == users["member"].id and row.consent_at is not None
    # When and how consent was given (a member's own tick: online), never the answers themselves.
    assert _audit("storyteller.demographics_consent")[0].after.keys() == {"consent_at", "consent_method"}
    assert _audit("storyteller.demographics_consent")[0].after["consent_method"] == "self"
    # Self-described gender is kept as written and counted as "in another way".
    member.post(
        record_url,
        data={**answers, "demographics_consent": "y", "gender": "self_described", "gender_description": "Genderfluid"},
    )
    assert db.session.scalar(sa.select(Demographics.gender)) == "Genderfluid"


def test_staff_add_a_storyteller_without_a_login(app: Any, as_role: Any) -> None:
    staff = as_role("staff")
    response = staff.post("/stories/storytellers/new", data={"display_name": "Interviewed Ian", "pseudonym": "Jay"})
    assert response.status_code == 303
    person = db.session.scalar(sa.select(Storyteller))
    assert person.user_id is None and person.pseudonym == "Jay"
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Demographics)) == 0
    listing = staff.get("/stories/storytellers?q=ian").get_data(as_text=True)
    assert "Interviewed Ian" in listing and "1 storyteller found" in listing


def test_removing_a_recording_while_changing_a_story_deletes_the_file(app: Any, as_role: Any) -> None:
    member = as_role("member")
    member.post(
        "/stories/tell",
        content_type="multipart/form-data",
        data={**TELL, "media_file": (io.BytesIO(media_samples.mp3()), "voice.mp3")},
    )
    story = db.session.scalar(sa.select(Story))
    path = media.path_of(story.media_stored_name)
    assert path.is_file()
    response = member.post(f"/stories/{story.id}/edit", data={**TELL, "remove_media": "y"})
    assert response.status_code == 303
    row = db.session.get(Story, story.id)
    assert row.media_stored_name is None and row.media_kind == MediaKind.NONE
    assert not path.exists()

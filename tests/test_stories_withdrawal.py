"""Withdrawal: in one step the story's words leave every page, search, feed, export and
statistic, its media file is deleted from disk, and a tombstone keeps who and when. Withdrawing
demographic consent erases those answers the same way."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from portal.core import keystore
from portal.core.audit import AuditEntry
from portal.core.extensions import db
from portal.stories import consent, media, summary
from portal.stories.models import Demographics, Story, StoryState, StoryTag
from portal.stories.telling import Upload
from tests import factories, media_samples
from tests import stories_factories as make
from tests.helpers import Stream, found_stories

SECRET = "Zanzibarquill"  # a word that appears only in the withdrawn story


def _media_story(users: dict[str, Any], project_id: int) -> Story:
    key_id = keystore.create()
    stored, kind, content_type = media.store(Stream(media_samples.ogg()), max_bytes=10_000, key_id=key_id)
    teller = make.storyteller(user=users["member"], by=users["member"])
    return make.story(
        teller,
        by=users["member"],
        staff=users["staff"],
        title=f"{SECRET} title",
        summary=f"{SECRET} summary",
        body=f"The {SECRET} body.",
        transcript=f"{SECRET} transcript",
        themes=("outcomes", "connecting"),
        project_id=project_id,
        upload=Upload(stored, kind, content_type, key_id=key_id),
        featured=True,
    )


def test_member_withdraws_and_the_story_is_gone_everywhere(app: Any, as_role: Any, users: dict[str, Any]) -> None:
    project = factories.project(title="Project Heron")
    story = _media_story(users, project.id)
    media_path = media.path_of(story.media_stored_name)
    assert media_path.is_file()
    staff, visitor, member = as_role("staff"), as_role("anonymous"), as_role("member")
    # Before: everywhere.
    assert SECRET in visitor.get(f"/stories/{story.id}").get_data(as_text=True)
    assert SECRET in visitor.get("/stories").get_data(as_text=True)
    assert story.id in found_stories(SECRET, None)
    before = summary.compute()
    before_project = summary.compute(project.id)
    assert before.stories_published == 1 and before_project.total == 1

    response = member.post(f"/stories/{story.id}/withdraw", data={"confirm": "yes"})
    assert response.status_code == 303

    # After: nowhere.
    assert visitor.get(f"/stories/{story.id}").status_code == 404
    assert member.get(f"/stories/{story.id}").status_code == 404
    assert staff.get(f"/stories/{story.id}/moderate").status_code == 404
    assert visitor.get(f"/stories/{story.id}/media").status_code == 404
    for client, url in [
        (visitor, "/stories"),
        (visitor, "/stories/feed.xml"),
        (staff, "/stories/moderation"),
        (staff, "/stories/export/stories.csv"),
        (staff, "/stories/export/summary.csv"),
        (visitor, "/stories/summary"),
        (member, "/stories/mine"),
        (staff, f"/stories/storytellers/{story.storyteller_id}/record"),
    ]:
        page = client.get(url)
        assert page.status_code == 200, url
        assert SECRET not in page.get_data(as_text=True), url
    assert "0 stories found" in visitor.get(f"/stories?q={SECRET}").get_data(as_text=True)
    assert not found_stories(SECRET, users["staff"])
    assert not media_path.exists()

    after = summary.compute()
    assert after.stories_published == 0
    assert all(cell.count == 0 for cell in after.stories_by_theme)
    assert summary.compute(project.id).total == 0  # no longer counted as this project's storyteller

    # The database keeps a tombstone only, and the audit log never held the words.
    row = db.session.get(Story, story.id)
    assert row.state == StoryState.WITHDRAWN and row.withdrawn_by_id == users["member"].id
    assert row.withdrawn_at is not None and row.storyteller_id == story.storyteller_id
    for name in (
        "summary",
        "body",
        "transcript",
        "original_title",
        "original_summary",
        "original_body",
        "original_transcript",
        "media_link",
    ):
        assert getattr(row, name) == "", name
    assert SECRET not in row.title and row.media_stored_name is None and not row.featured
    assert db.session.scalar(sa.select(sa.func.count()).select_from(StoryTag).where(StoryTag.story_id == story.id)) == 0
    for entry in db.session.scalars(sa.select(AuditEntry)):
        assert SECRET not in f"{entry.before} {entry.after} {entry.note}"
    assert "withdrawn" in member.get("/stories/mine").get_data(as_text=True).lower()


def test_staff_withdraw_on_behalf_and_others_cannot(app: Any, as_role: Any, users: dict[str, Any]) -> None:
    teller = make.storyteller(by=users["staff"], name="Interviewed Person")
    story = make.story(teller, by=users["staff"], body=f"{SECRET} words")
    assert as_role("member").post(f"/stories/{story.id}/withdraw", data={"confirm": "yes"}).status_code == 403
    assert db.session.get(Story, story.id).state == StoryState.PUBLISHED
    response = as_role("staff").post(f"/stories/{story.id}/withdraw", data={"confirm": "yes"})
    assert response.status_code == 303 and f"/stories/storytellers/{teller.id}/record" in response.headers["Location"]
    row = db.session.get(Story, story.id)
    assert row.state == StoryState.WITHDRAWN and row.withdrawn_by_id == users["staff"].id and row.body == ""
    assert (
        as_role("staff").post(f"/stories/{story.id}/withdraw", data={"confirm": "yes"}).status_code == 403
    )  # once only


def test_withdrawing_demographic_consent_erases_the_answers(app: Any, as_role: Any, users: dict[str, Any]) -> None:
    teller = make.storyteller(user=users["member"], by=users["member"])
    consent.record_demographics(
        teller,
        consent.DemographicAnswers(
            roles=["lived_experience"],
            gender="female",
            disability="yes",
            ethnicity="Cornish Breton",
            age=33,
            lived_experience_areas=["prison"],
        ),
        by=users["member"],
        method=consent.ConsentMethod.SELF,
    )
    db.session.commit()
    assert summary.compute().section("ethnicity").cells[0].label == "Cornish Breton"

    member = as_role("member")
    record = member.get(f"/stories/storytellers/{teller.id}/record").get_data(as_text=True)
    assert "Cornish Breton" in record
    assert member.post(f"/stories/storytellers/{teller.id}/demographics/withdraw").status_code == 303

    assert db.session.scalar(sa.select(Demographics).where(Demographics.storyteller_id == teller.id)) is None
    db.session.refresh(teller)
    assert teller.demographics_withdrawn_at is not None and teller.demographics_withdrawn_by_id == users["member"].id
    figures = summary.compute()
    assert figures.total == 1 and figures.age_min is None
    assert {cell.label: cell.count for cell in figures.section("gender").cells}["Not recorded"] == 1
    assert all(cell.label != "Cornish Breton" for cell in figures.section("ethnicity").cells)
    assert "Cornish Breton" not in member.get(f"/stories/storytellers/{teller.id}/record").get_data(as_text=True)
    actions = list(db.session.scalars(sa.select(AuditEntry.action).where(AuditEntry.object_type == "Storyteller")))
    assert "storyteller.demographics_withdrawn" in actions
    for entry in db.session.scalars(sa.select(AuditEntry)):
        assert "Breton" not in f"{entry.before} {entry.after} {entry.note}"


def test_another_member_cannot_see_or_change_a_storyteller_record(as_role: Any, users: dict[str, Any]) -> None:
    teller = make.storyteller(by=users["staff"], name="Someone Else")
    member = as_role("member")
    assert member.get(f"/stories/storytellers/{teller.id}/record").status_code == 403
    assert member.post(f"/stories/storytellers/{teller.id}/demographics/withdraw").status_code == 403

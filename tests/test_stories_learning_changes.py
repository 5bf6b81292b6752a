"""The stories and learning views apply changes through ``portal.core.changes``: a broken rule
keeps nothing (the database and the disk as they were) and is shown by its field with 422, or
flashed after a redirect where there is no form; a change made by someone else first is said so."""

from __future__ import annotations

import io
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.orm.exc import StaleDataError

from portal.core import keystore
from portal.core.changes import CHANGED_BY_SOMEONE_ELSE
from portal.core.extensions import db
from portal.learning import comments, posts
from portal.learning import moderation as learning_moderation
from portal.learning.models import Comment, PostState
from portal.stories import media, moderation, telling
from portal.stories.models import Demographics, MediaKind, Story, StoryState
from portal.stories.telling import Upload
from tests import media_samples
from tests import stories_factories as make
from tests.helpers import Stream as _Stream
from tests.test_learning_posts import make_post
from tests.test_stories_services import TELL

OGG = media_samples.ogg()


def _stories() -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(Story)) or 0


def _files_on_disk() -> list[Any]:
    folder = media.path_of("a" * 32).parent
    return list(folder.iterdir()) if folder.exists() else []


# --- stories ----------------------------------------------------------------------------------


def test_a_rule_broken_after_the_upload_keeps_neither_the_story_nor_the_file(app: Any, as_role: Any) -> None:
    response = as_role("member").post(
        "/stories/tell",
        content_type="multipart/form-data",
        data={**TELL, "media_link": "https://example.org/talk", "media_file": (io.BytesIO(OGG), "voice.ogg")},
    )
    text = response.get_data(as_text=True)
    assert response.status_code == 422
    assert 'id="media_link-error"' in text and "Add a file or a link to a recording, not both." in text
    assert _stories() == 0 and _files_on_disk() == []


def test_a_failure_after_the_upload_rolls_back_and_removes_the_file(
    app: Any, as_role: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = telling.tell_story

    def tell_then_fail(*args: Any, **kwargs: Any) -> Story:
        real(*args, **kwargs)
        db.session.flush()
        raise RuntimeError("the database went away")

    monkeypatch.setattr(telling, "tell_story", tell_then_fail)
    member = as_role("member")
    data = {**TELL, "transcript": "Hello.", "media_file": (io.BytesIO(OGG), "voice.ogg")}
    with pytest.raises(RuntimeError):  # TESTING lets the error through; a server answers 500
        member.post("/stories/tell", content_type="multipart/form-data", data=data)
    assert _stories() == 0 and _files_on_disk() == []


def test_replacing_a_recording_deletes_the_old_file_after_the_commit(
    app: Any, as_role: Any, users: dict[str, Any]
) -> None:
    key_id = keystore.create()
    stored, kind, content_type = media.store(_Stream(OGG), max_bytes=1000, key_id=key_id)
    teller = make.storyteller(user=users["member"], by=users["member"])
    story = make.story(
        teller,
        by=users["member"],
        state=StoryState.SUBMITTED,
        transcript="Hello.",
        upload=Upload(stored, kind, content_type, key_id=key_id),
    )
    response = as_role("member").post(
        f"/stories/{story.id}/edit",
        content_type="multipart/form-data",
        data={**TELL, "transcript": "Hello.", "media_file": (io.BytesIO(media_samples.mp3()), "new.mp3")},
    )
    assert response.status_code == 303 and response.headers["Location"].endswith("/stories/mine")
    row = db.session.get(Story, story.id)
    assert row.media_kind == MediaKind.AUDIO and row.media_stored_name != stored
    assert [path.name for path in _files_on_disk()] == [row.media_stored_name]


def test_publishing_without_a_transcript_is_refused_by_the_transcript_box(
    app: Any, as_role: Any, users: dict[str, Any]
) -> None:
    teller = make.storyteller(by=users["staff"])
    story = make.story(teller, by=users["staff"], state=StoryState.IN_REVIEW, media_link="https://example.org/a")
    form = {"title": "Edited title", "summary": story.summary, "body": story.body, "transcript": ""}
    response = as_role("staff").post(
        f"/stories/{story.id}/moderate/edit", data={**form, "action": "publish", "version": story.version}
    )
    text = response.get_data(as_text=True)
    assert response.status_code == 422
    assert 'id="transcript-error"' in text and "Add a transcript before publishing" in text
    assert 'value="Edited title"' in text  # what the moderator typed stays in the form
    row = db.session.get(Story, story.id)
    assert row.state == StoryState.IN_REVIEW and row.title == story.title  # and nothing of it was saved


def test_a_decision_rule_without_its_own_field_is_shown_by_the_note(
    app: Any, as_role: Any, users: dict[str, Any]
) -> None:
    teller = make.storyteller(by=users["staff"])
    story = make.story(teller, by=users["staff"], state=StoryState.IN_REVIEW)
    response = as_role("staff").post(f"/stories/{story.id}/moderate/decide", data={"action": "take_back"})
    text = response.get_data(as_text=True)
    assert response.status_code == 422
    assert 'id="note-error"' in text and "is not waiting for the storyteller" in text
    assert db.session.get(Story, story.id).state == StoryState.IN_REVIEW


def test_a_decision_someone_else_got_to_first_is_refused_with_that_reason(
    app: Any, as_role: Any, users: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    teller = make.storyteller(by=users["staff"])
    story = make.story(teller, by=users["staff"], state=StoryState.SUBMITTED)

    def stale(*args: Any, **kwargs: Any) -> None:
        raise StaleDataError("row changed")

    monkeypatch.setattr(moderation, "decide", stale)
    response = as_role("staff").post(f"/stories/{story.id}/moderate/decide", data={"action": "start_review"})
    assert response.status_code == 422 and CHANGED_BY_SOMEONE_ELSE in response.get_data(as_text=True)
    assert db.session.get(Story, story.id).state == StoryState.SUBMITTED


def test_featuring_an_unpublished_story_is_flashed_and_changes_nothing(
    app: Any, as_role: Any, users: dict[str, Any]
) -> None:
    teller = make.storyteller(by=users["staff"])
    story = make.story(teller, by=users["staff"], state=StoryState.SUBMITTED)
    staff = as_role("staff")
    response = staff.post(f"/stories/{story.id}/feature", data={"featured": "1"})
    assert response.status_code == 303 and response.headers["Location"].endswith(f"/stories/{story.id}/moderate")
    assert "Only a published story can be featured." in staff.get(response.headers["Location"]).get_data(as_text=True)
    assert db.session.get(Story, story.id).featured is False

    published = make.story(teller, by=users["staff"])
    featured = staff.post(f"/stories/{published.id}/feature", data={"featured": "1"}, follow_redirects=True)
    assert "The story is featured at the top of the library." in featured.get_data(as_text=True)
    assert db.session.get(Story, published.id).featured is True


def test_withdrawing_answers_that_were_never_stored_is_flashed(app: Any, as_role: Any, users: dict[str, Any]) -> None:
    teller = make.storyteller(user=users["member"], by=users["member"])
    member = as_role("member")
    response = member.post(f"/stories/storytellers/{teller.id}/demographics/withdraw")
    assert response.status_code == 303
    page = member.get(response.headers["Location"]).get_data(as_text=True)
    assert "There are no demographic answers stored for this storyteller." in page
    assert "have been deleted and will not be counted" not in page
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Demographics)) == 0


def test_adding_a_storyteller_with_a_broken_rule_adds_nobody(app: Any, as_role: Any) -> None:
    staff = as_role("staff")
    refused = staff.post("/stories/storytellers/new", data={"display_name": "Ana", "gender": "female"})
    assert refused.status_code == 422 and "Without agreement they are not stored" in refused.get_data(as_text=True)
    assert staff.get("/stories/storytellers/new").status_code == 200
    added = staff.post("/stories/storytellers/new", data={"display_name": "Ana"})
    assert added.status_code == 303 and "/stories/storytellers/" in added.headers["Location"]
    assert "Ana has been added." in staff.get(added.headers["Location"]).get_data(as_text=True)


def test_a_page_number_below_one_shows_the_first_page(app: Any, as_role: Any, users: dict[str, Any]) -> None:
    teller = make.storyteller(by=users["staff"], name="Paged Pat")
    make.story(teller, by=users["staff"], title="The only story")
    visitor = as_role("anonymous")
    assert "The only story" in visitor.get("/stories?page=-2").get_data(as_text=True)
    assert "The only story" in visitor.get("/stories?page=nonsense").get_data(as_text=True)


# --- learning ---------------------------------------------------------------------------------


def test_a_reply_to_a_comment_on_another_post_keeps_nothing(app: Any, as_role: Any, users: dict[str, Any]) -> None:
    here, elsewhere = make_post(users["member"]), make_post(users["member"], title="Another post")
    other = comments.add_comment(elsewhere, by=users["member"], body="Over there")
    db.session.commit()
    response = as_role("staff").post(f"/learning/{here.id}/comments", data={"body": "Hi", "parent_id": str(other.id)})
    text = response.get_data(as_text=True)
    assert response.status_code == 422
    assert 'id="body-error"' in text and "The comment you are replying to is not on this post." in text
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Comment)) == 1


def test_a_comment_lands_on_its_anchor(app: Any, as_role: Any, users: dict[str, Any]) -> None:
    post = make_post(users["member"])
    response = as_role("staff").post(f"/learning/{post.id}/comments?page=2", data={"body": "Same for us."})
    comment = db.session.scalar(sa.select(Comment))
    assert response.status_code == 303
    assert response.headers["Location"].endswith(f"/learning/{post.id}?page=2#comment-{comment.id}")


def test_the_resonates_fragment_varies_on_htmx(app: Any, as_role: Any, users: dict[str, Any]) -> None:
    post = make_post(users["member"])
    staff = as_role("staff")
    fragment = staff.post(f"/learning/{post.id}/validate", data={"on": "1"}, headers={"HX-Request": "true"})
    assert fragment.status_code == 200 and "HX-Request" in fragment.headers["Vary"]
    assert f'id="validate-post-{post.id}"' in fragment.get_data(as_text=True)
    page = staff.post(f"/learning/{post.id}/validate", data={"on": "0"})
    assert page.status_code == 303
    assert "You took back your" in staff.get(page.headers["Location"]).get_data(as_text=True)


def test_a_refused_decision_is_shown_beside_its_item_and_changes_nothing(
    app: Any, as_role: Any, users: dict[str, Any]
) -> None:
    post = make_post(users["member"])
    learning_moderation.flag(post, by=users["finance"], reason="offensive")
    db.session.commit()
    response = as_role("staff").post(
        f"/learning/moderation/posts/{post.id}", data={"decision": "hide", "reason": "x" * 501}
    )
    text = response.get_data(as_text=True)
    assert response.status_code == 422 and "Keep the reason to 500 characters or fewer." in text
    assert "Done. The author has been told." not in text
    db.session.refresh(post)
    assert post.state == PostState.VISIBLE


def test_premoderation_is_switched_with_a_message(app: Any, as_role: Any) -> None:
    staff = as_role("staff")
    response = staff.post("/learning/moderation/settings", data={"premoderate": "on"})
    assert response.status_code == 303 and response.headers["Location"].endswith("/learning/moderation")
    assert "now wait for a moderator" in staff.get(response.headers["Location"]).get_data(as_text=True)
    assert posts.settings().premoderate_first_posts is True
    off = staff.post("/learning/moderation/settings", data={}, follow_redirects=True)
    assert "now go up straight away" in off.get_data(as_text=True)
    assert posts.settings().premoderate_first_posts is False

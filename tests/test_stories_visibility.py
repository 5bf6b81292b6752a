"""Who sees which story: public / network / research only, for a visitor, a member and staff,
on pages, in search, in the feed and in exports; and what an anonymous story shows."""

from __future__ import annotations

import re
from typing import Any

import pytest

from portal.core import keystore, permissions
from portal.stories.models import Scope, StoryState
from tests import factories, media_samples
from tests import stories_factories as make
from tests.helpers import Stream, found_stories

VIEWERS = ("anonymous", "member", "staff")
# scope -> the viewers who find the published story in the library, search and story page
SEES = {
    Scope.PUBLIC: {"anonymous", "member", "staff"},
    Scope.NETWORK: {"member", "staff"},
    Scope.RESEARCH: set(),
}


@pytest.fixture
def published(users: dict[str, Any]) -> dict[Scope, Any]:
    teller = make.storyteller(by=users["staff"], name="Taylor Teller")
    return {
        scope: make.story(
            teller,
            by=users["staff"],
            scope=scope,
            title=f"Kingfisher {scope.value} story",
            body=f"Words about kingfishers in the {scope.value} story.",
        )
        for scope in Scope
    }


def without_reference(page: str) -> str:
    return re.sub(r"Reference: <code>[0-9a-f]{32}</code>", "Reference: <code>…</code>", page)


@pytest.mark.parametrize("viewer", VIEWERS)
@pytest.mark.parametrize("scope", list(Scope))
def test_story_page_library_and_search(
    as_role: Any, users: dict[str, Any], published: dict[Scope, Any], scope: Scope, viewer: str
) -> None:
    story = published[scope]
    client = as_role(viewer)
    allowed = viewer in SEES[scope]

    page = client.get(f"/stories/{story.id}")
    if allowed:
        assert page.status_code == 200 and story.title in page.get_data(as_text=True)
    elif scope == Scope.NETWORK:  # to a visitor, a members' story is exactly a missing one
        missing = client.get("/stories/999999")
        assert page.status_code == missing.status_code == 404
        # The same page, but for the request's own reference (new for every request).
        assert without_reference(page.get_data(as_text=True)) == without_reference(missing.get_data(as_text=True))
        # The same headers (the session cookie and the request id change with each visit, not with the story).
        varying = ("Set-Cookie", "X-Request-ID")
        assert {h for h in page.headers.items() if h[0] not in varying} == {
            h for h in missing.headers.items() if h[0] not in varying
        }
    elif viewer == "staff":  # research only: staff reach it through moderation, never the library
        assert page.status_code == 200
    else:
        assert page.status_code == 404

    library = client.get("/stories?q=kingfisher").get_data(as_text=True)
    assert (story.title in library) == allowed

    user = users.get(viewer)
    assert (story.id in found_stories("kingfishers", user)) == allowed


def test_research_only_is_never_indexed_and_feed_has_public_only(
    client: Any, published: dict[Scope, Any], users: dict[str, Any]
) -> None:
    assert found_stories("kingfishers", users["staff"]) == {published[Scope.PUBLIC].id, published[Scope.NETWORK].id}
    feed = client.get("/stories/feed.xml")
    assert feed.mimetype == "application/atom+xml"
    text = feed.get_data(as_text=True)
    assert "Kingfisher public story" in text
    assert "Kingfisher network story" not in text and "Kingfisher research story" not in text


def test_staff_export_has_public_and_network_but_never_research(as_role: Any, published: dict[Scope, Any]) -> None:
    text = as_role("staff").get("/stories/export/stories.csv").get_data(as_text=True)
    assert "Kingfisher public story" in text and "Kingfisher network story" in text
    assert "Kingfisher research story" not in text and "research story" not in text
    assert as_role("member").get("/stories/export/stories.csv").status_code == 403


@pytest.mark.parametrize(
    "state", [StoryState.SUBMITTED, StoryState.IN_REVIEW, StoryState.CHANGES_REQUESTED, StoryState.DECLINED]
)
def test_unpublished_stories_are_shown_to_their_storyteller_and_staff_only(
    as_role: Any, users: dict[str, Any], state: StoryState
) -> None:
    teller = make.storyteller(user=users["member"], by=users["member"])
    story = make.story(teller, by=users["member"], staff=users["staff"], state=state, title="Not out yet")
    other = factories.user(email="other@example.test")
    assert as_role("anonymous").get(f"/stories/{story.id}").status_code == 404
    assert as_role("member").get(f"/stories/{story.id}").status_code == 200
    assert as_role("staff").get(f"/stories/{story.id}").status_code == 200
    assert not permissions.can(other, "story.view", story)
    assert "Not out yet" not in as_role("staff").get("/stories").get_data(as_text=True)
    assert not found_stories("yet", users["staff"])


def test_anonymous_story_shows_the_pseudonym_only(as_role: Any, users: dict[str, Any]) -> None:
    teller = make.storyteller(by=users["staff"], name="Real Name Person", pseudonym="Heron")
    hidden = make.story(teller, by=users["staff"], anonymous=True, title="Otters at dawn", body="Otters everywhere.")
    named = make.story(teller, by=users["staff"], title="Badgers at dusk", body="Badgers everywhere.")
    visitor = as_role("anonymous")

    page = visitor.get(f"/stories/{hidden.id}").get_data(as_text=True)
    assert "Heron" in page and "Real Name Person" not in page
    assert f"/stories/storytellers/{teller.id}" not in page  # no profile link
    named_page = visitor.get(f"/stories/{named.id}").get_data(as_text=True)
    assert "Real Name Person" in named_page and f"/stories/storytellers/{teller.id}" in named_page

    profile = visitor.get(f"/stories/storytellers/{teller.id}").get_data(as_text=True)
    assert "Badgers at dusk" in profile and "Otters at dawn" not in profile  # never linked to the name

    library = visitor.get("/stories?q=otters").get_data(as_text=True)
    assert "Otters at dawn" in library and "Real Name Person" not in library
    assert "Otters at dawn" not in visitor.get("/stories?q=Real+Name").get_data(as_text=True)
    feed = visitor.get("/stories/feed.xml").get_data(as_text=True)
    otter_entry = next(entry for entry in feed.split("<entry>") if "Otters at dawn" in entry)
    assert "Heron" in otter_entry and "Real Name Person" not in otter_entry

    assert hidden.id not in found_stories("Real Name Person", None)
    assert named.id in found_stories("Real Name Person", None)
    assert hidden.id in found_stories("Heron", None)

    export = as_role("staff").get("/stories/export/stories.csv").get_data(as_text=True)
    otter_row = next(line for line in export.splitlines() if "Otters at dawn" in line)
    assert "Heron" in otter_row and "Real Name Person" not in otter_row


def test_network_story_media_is_for_members_only(as_role: Any, users: dict[str, Any], app: Any) -> None:
    from portal.stories import media
    from portal.stories.telling import Upload

    key_id = keystore.create()

    stored, kind, content_type = media.store(Stream(media_samples.mp3()), max_bytes=10_000, key_id=key_id)
    teller = make.storyteller(by=users["staff"])
    story = make.story(
        teller,
        by=users["staff"],
        scope=Scope.NETWORK,
        transcript="Every word.",
        upload=Upload(stored, kind, content_type, key_id=key_id),
    )
    assert as_role("anonymous").get(f"/stories/{story.id}/media").status_code == 404  # as if missing
    response = as_role("member").get(f"/stories/{story.id}/media")
    assert response.status_code == 200 and response.mimetype == "audio/mpeg"
    assert response.headers["X-Content-Type-Options"] == "nosniff"


def test_rebuilding_the_search_index_keeps_the_same_rules(
    app: Any, users: dict[str, Any], published: dict[Scope, Any]
) -> None:
    from portal.core.extensions import db
    from portal.search.rebuild import rebuild

    hidden_teller = make.storyteller(by=users["staff"], name="Quentin Realname", pseudonym="Plover")
    anonymous = make.story(hidden_teller, by=users["staff"], anonymous=True, body="Kingfishers again.")
    counts = rebuild()
    db.session.commit()
    assert counts["story"] == 3  # public, network and the anonymous one; never research only
    assert found_stories("kingfishers", users["staff"]) == {
        published[Scope.PUBLIC].id,
        published[Scope.NETWORK].id,
        anonymous.id,
    }
    assert found_stories("Plover", None) == {anonymous.id}
    assert not found_stories("Quentin", users["staff"])

"""Renaming an account renames its bylines and the search index with it, in the same change."""

from __future__ import annotations

from typing import Any

from flask import Flask

from portal.core.extensions import db
from portal.core.search import service as search_service
from portal.stories.models import Storyteller
from tests import factories
from tests import stories_factories as make
from tests.helpers import client_for

OLD, NEW = "Philippa Quennell", "Pip Marchbank"


def _found(words: str, viewer: Any = None) -> set[tuple[str, int]]:
    return {(hit.kind, hit.object_id) for hit in search_service.search(words, viewer=viewer, per_page=100).items}


def test_after_a_rename_the_old_name_finds_nothing_and_the_new_name_finds_their_work(
    app: Flask, users: dict[str, Any]
) -> None:
    author = factories.user(name=OLD, email="philippa@example.test")
    post = factories.make_post(author, title="Paying people promptly", body="We paid within a week.")
    teller = make.storyteller(user=author, by=author)
    story = make.story(teller, by=author, staff=users["staff"], title="The bus route we changed")
    hidden = make.story(
        make.storyteller(user=author, by=author), by=author, staff=users["staff"], anonymous=True, title="Quiet one"
    )
    assert teller.display_name == OLD
    assert {("post", post.id), ("story", story.id)} <= _found(OLD)

    response = client_for(app, author).post(
        "/account/profile", data={"name": NEW, "preferred_contact": "email", "pronouns": "", "bio": ""}
    )
    assert response.status_code == 303

    assert _found(OLD) == set() and _found("Quennell", viewer=users["staff"]) == set()
    assert {("post", post.id), ("story", story.id)} <= _found(NEW)
    assert ("story", hidden.id) not in _found(NEW)  # an anonymous story stays under its pseudonym only
    assert db.session.get(Storyteller, teller.id).display_name == NEW  # the byline on their stories
    page = client_for(app, users["member"]).get(f"/stories/{story.id}").get_data(as_text=True)
    assert NEW in page and OLD not in page


def test_a_name_chosen_for_stories_is_left_alone(app: Flask, users: dict[str, Any]) -> None:
    author = factories.user(name=OLD, email="philippa@example.test")
    teller = make.storyteller(user=author, by=author)
    teller.display_name = "Pippa from the allotment"
    db.session.commit()
    story = make.story(teller, by=author, staff=users["staff"], title="The allotment")
    client_for(app, author).post("/account/profile", data={"name": NEW, "preferred_contact": "email"})
    assert db.session.get(Storyteller, teller.id).display_name == "Pippa from the allotment"
    assert ("story", story.id) in _found("allotment Pippa")

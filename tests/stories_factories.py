"""Builders for storytellers and stories (used by tests/test_stories_*.py). Each commits."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime
from typing import Any

from portal.accounts.models import User
from portal.core.extensions import db
from portal.stories import moderation, telling
from portal.stories.models import ConsentMethod, Scope, Story, StoryState, Storyteller

_numbers = itertools.count(1)


def storyteller(*, user: User | None = None, by: User, name: str | None = None, pseudonym: str = "") -> Storyteller:
    if user is not None:
        person = telling.storyteller_for(user)
        person.pseudonym = pseudonym
    else:
        person = telling.create_storyteller(
            display_name=name or f"Storyteller {next(_numbers)}", by=by, pseudonym=pseudonym
        )
    db.session.commit()
    return person


def story(
    teller: Storyteller,
    *,
    by: User,
    staff: User | None = None,
    state: StoryState = StoryState.PUBLISHED,
    title: str | None = None,
    summary: str = "A summary of the story.",
    body: str = "The story itself.",
    scope: Scope = Scope.PUBLIC,
    anonymous: bool = False,
    themes: tuple[str, ...] = ("outcomes",),
    values: tuple[str, ...] = ("equality",),
    project_id: int | None = None,
    transcript: str = "",
    upload: telling.Upload | None = None,
    featured: bool = False,
    **extra: Any,
) -> Story:
    method = ConsentMethod.SELF if teller.user_id == by.id else ConsentMethod.WRITTEN
    details = telling.StoryDetails(
        title=title or f"Story number {next(_numbers)}",
        summary=summary,
        body=body,
        transcript=transcript,
        project_id=project_id,
        themes=list(themes),
        values=list(values),
        scope=scope,
        anonymous=anonymous,
        pseudonym=extra.get("pseudonym", ""),
        media_link=extra.get("media_link", ""),
        ask_before_publishing=extra.get("ask_before_publishing", False),
    )
    made = telling.tell_story(
        teller, details, by=by, upload=upload, consent=telling.ConsentRecord(method, datetime.now(UTC))
    )
    db.session.flush()
    moderator = staff or by
    if state in (StoryState.IN_REVIEW, StoryState.PUBLISHED, StoryState.CHANGES_REQUESTED, StoryState.DECLINED):
        moderation.start_review(made, by=moderator)
    if state == StoryState.PUBLISHED:
        moderation.publish(made, by=moderator)
        made.featured = featured
    elif state == StoryState.CHANGES_REQUESTED:
        moderation.request_changes(made, by=moderator, note="Please take out the street name.")
    elif state == StoryState.DECLINED:
        moderation.decline(made, by=moderator, note="Not this time.")
    db.session.commit()
    return made

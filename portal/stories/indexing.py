"""The one place stories meet the shared search service (``portal.core.search.documents``).

Only a published public or network story is indexed; research-only stories never are. An
anonymous story is indexed under its pseudonym only, never the storyteller's name.

A storyteller record made for a signed-in member takes the name on their account; when they
rename their account, a record still showing the old name takes the new one (the byline) and
their stories are indexed again (``account_renamed``), so the old name finds nothing.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import joinedload

from portal.accounts import signals as account_signals
from portal.accounts.models import User
from portal.core.extensions import db
from portal.core.search import documents
from portal.stories.markdown import plain_text
from portal.stories.models import Scope, Story, StoryState, Storyteller


def published(story: Story) -> None:
    """Call when a story is published or its published text is edited."""
    if story.state != StoryState.PUBLISHED or story.scope == Scope.RESEARCH or story.unreadable:
        removed(story)
        return
    teller = db.session.get(Storyteller, story.storyteller_id)  # usually already in the session
    author = (teller.shown_pseudonym if story.anonymous else teller.display_name) if teller else ""
    body = "\n\n".join(part for part in (author, story.summary, plain_text(story.body), story.transcript) if part)
    documents.upsert(
        kind="story",
        object_id=story.id,
        title=story.title,
        body=body,
        audience="public" if story.scope == Scope.PUBLIC else "members",
        url_path=f"/stories/{story.id}",
    )


def removed(story: Story) -> None:
    """Call on unpublish, withdrawal and decline."""
    documents.remove(kind="story", object_id=story.id)


def reindex_all() -> int:
    """Index every published, shown story again (the search package's rebuild calls this)."""
    found = db.session.scalars(
        sa.select(Story)
        .options(joinedload(Story.storyteller))
        .where(Story.state == StoryState.PUBLISHED, Story.scope != Scope.RESEARCH)
    ).all()
    for story in found:
        published(story)
    return len(found)


@account_signals.renamed.connect
def account_renamed(user: User, *, old_name: str, **extra: Any) -> None:
    """The byline follows a renamed account, and the person's stories are indexed under it."""
    tellers = db.session.scalars(sa.select(Storyteller).where(Storyteller.user_id == user.id)).all()
    for teller in tellers:
        if teller.display_name == old_name[:120]:  # copied from the account, not a name chosen for stories
            teller.display_name = user.name[:120]
    stories = db.session.scalars(
        sa.select(Story).where(
            Story.storyteller_id.in_([teller.id for teller in tellers]),
            Story.state == StoryState.PUBLISHED,
            Story.scope != Scope.RESEARCH,
        )
    )
    for story in stories:
        published(story)

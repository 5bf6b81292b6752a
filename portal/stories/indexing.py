"""The one place stories meet the shared search service (``portal.core.search.documents``).

Only a published public or network story is indexed; research-only stories never are. An
anonymous story is indexed under its pseudonym only, never the storyteller's name.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import joinedload

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

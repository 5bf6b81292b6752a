"""A story's saved versions (``core.revisions``) and a word-by-word comparison of any two, for
programme staff and the story's own storyteller. A withdrawn story has none: they were erased."""

from __future__ import annotations

from flask import abort, request, url_for
from flask_login import current_user
from werkzeug.wrappers import Response

from portal.core import revisions
from portal.core.forms import is_id
from portal.core.permissions import can, permission_required, require
from portal.core.web import paginate, render
from portal.stories import bp, library, moderation
from portal.stories.models import Story, StoryState


def _story_or_404(story_id: int) -> Story:
    story = library.story_for_page(story_id)
    if story is None or story.state == StoryState.WITHDRAWN or story.unreadable:
        abort(404)
    require("story.history", story)
    return story


def _back(story: Story) -> tuple[str, str]:
    if can(current_user, "stories.moderate"):
        return url_for("stories.moderate", story_id=story.id), "moderating the story"
    return url_for("stories.story", story_id=story.id), "the story"


@bp.route("/<int:story_id>/history")
@permission_required("stories.tell")
def story_history(story_id: int) -> Response:
    story = _story_or_404(story_id)
    back_url, back_text = _back(story)
    return render(
        "revisions.html",
        title=f"Saved versions: {story.title}",
        back_url=back_url,
        back_text=back_text,
        page=paginate(revisions.history(Story.__tablename__, story.id)),
        compare_url=url_for("stories.story_compare", story_id=story.id),
        labels=moderation.LABELS,
        endpoint="stories.story_history",
        endpoint_args={"story_id": story.id},
    )


def _revision_or_404(story: Story, name: str) -> revisions.Revision:
    text = request.args.get(name, "")
    found = revisions.revision(Story.__tablename__, story.id, int(text)) if is_id(text) else None
    if found is None:
        abort(404)
    return found


@bp.route("/<int:story_id>/history/compare")
@permission_required("stories.tell")
def story_compare(story_id: int) -> Response:
    story = _story_or_404(story_id)
    old, new = sorted((_revision_or_404(story, "from"), _revision_or_404(story, "to")), key=lambda r: r.version)
    return render(
        "revision_compare.html",
        title=f"What changed: {story.title}",
        history_url=url_for("stories.story_history", story_id=story.id),
        old=old,
        new=new,
        changes=revisions.compare(moderation.LABELS, revisions.fields_of(story, old), revisions.fields_of(story, new)),
    )

"""The storyteller's side of "Ask me before publishing": the setting on their story, and the
page where they see exactly what our team changed and approve it (published) or decline it."""

from __future__ import annotations

from flask import abort, request, url_for
from flask_login import current_user
from werkzeug.wrappers import Response

from portal.core.changes import apply, done, refused
from portal.core.permissions import permission_required, require
from portal.core.web import redirect_to
from portal.stories import approval, bp, library, telling
from portal.stories.forms import ApprovalForm, AskSettingForm, seen_version
from portal.stories.models import Story, StoryState


def _story_or_404(story_id: int) -> Story:
    story = library.story_for_page(story_id)
    if story is None or story.state == StoryState.WITHDRAWN:
        abort(404)
    return story


@bp.route("/<int:story_id>/approval", methods=["GET", "POST"])
@permission_required("stories.tell")
def approval_page(story_id: int) -> Response:
    story = _story_or_404(story_id)
    require("story.approve", story)
    form = ApprovalForm() if request.method == "POST" else ApprovalForm(obj=story)
    action = request.form.get("action", "")
    if request.method == "POST" and action not in ("approve", "decline"):
        abort(400)
    note = form.note.data or ""
    outcome = apply(
        form,
        lambda: (
            approval.approve(story, by=current_user, seen=seen_version(form.version))
            if action == "approve"
            else approval.decline(story, by=current_user, seen=seen_version(form.version), note=note)
        ),
    )
    if outcome and action == "approve":
        return done(
            url_for("stories.story", story_id=story.id), "Thank you. Your story is published as you approved it."
        )
    if outcome:
        return done(url_for("stories.mine"), "Thank you. Our team will read your note and look at the story again.")
    story = _story_or_404(story_id)
    if story.state != StoryState.AWAITING_APPROVAL:
        return redirect_to(url_for("stories.mine"))  # answered meanwhile (the message is flashed)
    # The page shows the changes as they are now, so an approval from it is of this version.
    form.version.data = str(story.version)
    form.version.raw_data = [str(story.version)]
    return refused(
        "stories/approval.html",
        form=form,
        story=story,
        changes=approval.what_changed(story),
        title=f"Check our changes: {story.title}",
    )


@bp.route("/<int:story_id>/ask-before-publishing", methods=["POST"])
@permission_required("stories.tell")
def ask_setting(story_id: int) -> Response:
    story = _story_or_404(story_id)
    require("story.ask_setting", story)
    form = AskSettingForm()
    asked = bool(form.ask_before_publishing.data)
    back = url_for("stories.story", story_id=story.id)
    if not apply(form, lambda: telling.set_ask_before_publishing(story, asked, by=current_user)):
        return redirect_to(back)
    if asked:
        return done(back, "Thank you. Our team will ask you to approve any changes before your story is published.")
    return done(back, "Your story will be published when our team has read it, without asking you first.")

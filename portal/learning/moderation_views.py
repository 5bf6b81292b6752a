"""The staff moderation queue: flagged, auto-hidden and pre-moderated posts and comments."""

from __future__ import annotations

from flask import abort, current_app, request, url_for
from flask_login import current_user
from werkzeug.wrappers import Response

from portal.core.changes import apply, done
from portal.core.extensions import db
from portal.core.permissions import permission_required
from portal.core.web import page_number, paginate, render
from portal.learning import bp, moderation, posts
from portal.learning.forms import DecisionForm
from portal.learning.models import Comment, LearningPost


def _queue_page(status: int = 200, error: tuple[str, int, str] | None = None) -> Response:
    post_page = paginate(moderation.post_queue())
    comment_page = db.paginate(  # its own ?cpage=, beside the posts' ?page=
        moderation.comment_queue(),
        page=page_number("cpage"),
        per_page=current_app.config["PAGE_SIZE"],
        error_out=False,
    )
    # db.paginate gives the first column of each row (the item); flag counts come with the flags.
    flags = moderation.flags_for([p.id for p in post_page.items], [c.id for c in comment_page.items])
    return render(
        "learning/moderation.html",
        status=status,
        post_page=post_page,
        comment_page=comment_page,
        flags=flags,
        settings=posts.settings(),
        error=error,
        form=DecisionForm(formdata=None),
        threshold=current_app.config["FLAG_THRESHOLD"],
        title="Moderation",
    )


@bp.route("/moderation", endpoint="moderation")
@permission_required("moderation.review")
def queue() -> Response:
    return _queue_page()


def _decide(target: LearningPost | Comment, kind: str) -> Response:
    form = DecisionForm()
    if not form.validate_on_submit():
        abort(400)
    decision = request.form.get("decision", "")
    outcome = apply(
        form,
        lambda: moderation.decide(target, by=current_user, decision=decision, reason=form.reason.data or ""),
        validate=False,
    )
    if outcome:
        return done(url_for("learning.moderation"), "Done. The author has been told.")
    # The queue shows the message beside the item it is about.
    return _queue_page(status=422, error=(kind, target.id, outcome.error.message if outcome.error else ""))


@bp.route("/moderation/posts/<int:post_id>", methods=["POST"], endpoint="moderate_post")
@permission_required("moderation.review")
def moderate_post(post_id: int) -> Response:
    return _decide(db.get_or_404(LearningPost, post_id), "post")


@bp.route("/moderation/comments/<int:comment_id>", methods=["POST"], endpoint="moderate_comment")
@permission_required("moderation.review")
def moderate_comment(comment_id: int) -> Response:
    return _decide(db.get_or_404(Comment, comment_id), "comment")


@bp.route("/moderation/settings", methods=["POST"], endpoint="moderation_settings")
@permission_required("moderation.review")
def moderation_settings() -> Response:
    if not DecisionForm().validate_on_submit():
        abort(400)
    on = request.form.get("premoderate") == "on"
    outcome = apply(None, lambda: posts.set_premoderation(on=on, by=current_user))
    message = (
        "New members' first posts now wait for a moderator."
        if on
        else "New members' first posts now go up straight away."
    )
    return done(url_for("learning.moderation"), message if outcome else None)

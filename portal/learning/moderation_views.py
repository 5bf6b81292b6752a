"""The staff moderation queue: flagged, auto-hidden and pre-moderated posts and comments."""

from __future__ import annotations

from flask import abort, current_app, flash, request, url_for
from flask_login import current_user
from werkzeug.wrappers import Response

from portal.core.errors import RuleBroken
from portal.core.extensions import db
from portal.core.permissions import permission_required
from portal.core.web import redirect_to, render
from portal.learning import bp, moderation, posts
from portal.learning.forms import DecisionForm
from portal.learning.models import Comment, LearningPost


def _queue_page(status: int = 200, error: tuple[str, int, str] | None = None) -> Response:
    size = current_app.config["PAGE_SIZE"]
    post_page = db.paginate(
        moderation.post_queue(), page=request.args.get("page", 1, type=int), per_page=size, error_out=False
    )
    comment_page = db.paginate(
        moderation.comment_queue(), page=request.args.get("cpage", 1, type=int), per_page=size, error_out=False
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
    try:
        moderation.decide(
            target, by=current_user, decision=request.form.get("decision", ""), reason=form.reason.data or ""
        )
    except RuleBroken as error:
        db.session.rollback()
        return _queue_page(status=422, error=(kind, target.id, error.message))
    db.session.commit()
    flash("Done. The author has been told.", "success")
    return redirect_to(url_for("learning.moderation"))


@bp.route("/moderation/posts/<int:post_id>", methods=["POST"], endpoint="moderate_post")
@permission_required("moderation.review")
def moderate_post(post_id: int) -> Response:
    post = db.session.get(LearningPost, post_id)
    if post is None:
        abort(404)
    return _decide(post, "post")


@bp.route("/moderation/comments/<int:comment_id>", methods=["POST"], endpoint="moderate_comment")
@permission_required("moderation.review")
def moderate_comment(comment_id: int) -> Response:
    comment = db.session.get(Comment, comment_id)
    if comment is None:
        abort(404)
    return _decide(comment, "comment")


@bp.route("/moderation/settings", methods=["POST"], endpoint="moderation_settings")
@permission_required("moderation.review")
def moderation_settings() -> Response:
    form = DecisionForm()
    if not form.validate_on_submit():
        abort(400)
    on = request.form.get("premoderate") == "on"
    posts.set_premoderation(on=on, by=current_user)
    db.session.commit()
    flash(
        "New members' first posts now wait for a moderator."
        if on
        else "New members' first posts now go up straight away.",
        "success",
    )
    return redirect_to(url_for("learning.moderation"))

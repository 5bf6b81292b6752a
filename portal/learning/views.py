"""Routes for learning posts: the feed, a post with its comments, writing, validating, flagging."""

from __future__ import annotations

from typing import Any

from flask import abort, current_app, request, url_for
from flask_login import current_user
from werkzeug.wrappers import Response

from portal.accounts.models import User
from portal.core import keyset, vocabulary
from portal.core.changes import apply, done, refused
from portal.core.confirm import Confirmation, ask, confirmed, counted
from portal.core.extensions import db
from portal.core.forms import choices
from portal.core.permissions import can, permission_required, public, require
from portal.core.web import page_number, redirect_to, render, wants_fragment, whole_number
from portal.learning import bp, comments, moderation, posts, validations
from portal.learning.forms import CommentForm, FeedFilterForm, FlagForm, PostForm
from portal.learning.models import Comment, LearningPost


def _post_or_404(post_id: int) -> LearningPost:
    post = posts.load_post(post_id)
    if post is None:
        abort(404)
    return post


def _readable_post(post_id: int) -> LearningPost:
    post = _post_or_404(post_id)
    if not can(current_user, "post.view", post):
        if not current_user.is_authenticated and post.state == "visible":
            require("post.view", post)  # members-only: sign in first
        abort(404)  # hidden or pending: as if it did not exist
    return post


def _comment_or_404(comment_id: int) -> Comment:
    return db.get_or_404(Comment, comment_id)


# --- the feed ---------------------------------------------------------------------------------


BROKEN_LINK = "This link to more posts is broken (part of it may be missing). Start again from the newest posts."


@bp.route("/", endpoint="feed")
@public
def feed() -> Response:
    filters = FeedFilterForm(request.args)
    filters.validate()
    suggesting = request.args.get("suggest") == "projects" and wants_fragment()
    choice = keyset.choose_by_name(
        (filters.project_name.data or "") if not filters.project_name.errors else "",
        whole_number(request.args.get("project")),
        matching=lambda typed: posts.matching_projects(typed, current_user),
        title_of=posts.project_title,
        limit=posts.PROJECT_CHOICES,
        choose_one=not suggesting,
    )
    args = keyset.link_args(request.args, choice)
    if suggesting:  # as someone types a project's name: only the matches, for the list under the field
        return render("learning/feed.html", block="project_choices", choice=choice, args=args)
    filters.tag.choices = choices([("", "Any value or theme"), *posts.tag_choices()])
    filters.phase.choices = choices([("", "Any funding round"), *[(str(i), n) for i, n in posts.phase_choices()]])
    author_id = whole_number(request.args.get("author"))
    author = db.session.get(User, author_id) if author_id else None
    try:
        page = posts.feed_page(
            current_user,
            after=request.args.get("after") or None,
            before=request.args.get("before") or None,
            per_page=current_app.config["PAGE_SIZE"],
            tag=request.args.get("tag", ""),
            project_id=choice.chosen_id,
            phase_id=whole_number(request.args.get("phase")),
            author_id=author_id,
        )
    except keyset.BadCursor:
        abort(400, description=BROKEN_LINK)
    return render(
        "learning/feed.html",
        block="more",
        page=page,
        filters=filters,
        choice=choice,
        args=args,
        author=author,
        counts=posts.post_counts([p.id for p in page.items]),
        title="Shared learning",
    )


# --- writing ------------------------------------------------------------------------------------


def _post_form(form: PostForm) -> None:
    form.project_id.choices = choices(
        [("", "No project"), *[(str(p.id), p.title) for p in posts.team_projects(current_user)]]
    )


def _post_fields(form: PostForm) -> dict[str, Any]:
    return {
        "title": form.title.data or "",
        "body": form.body.data or "",
        "visibility": form.visibility.data or "",
        "project_id": form.project_id.data,
        "values": list(form.values.data or []),
        "themes": list(form.themes.data or []),
    }


@bp.route("/new", methods=["GET", "POST"], endpoint="new_post")
@permission_required("posts.write")
def new_post() -> Response:
    form = PostForm()
    _post_form(form)
    outcome = apply(form, lambda: posts.create_post(author=current_user, **_post_fields(form)))
    if outcome:
        post = outcome.result
        return done(
            url_for("learning.post", post_id=post.id),
            "Your post is waiting for a moderator. We will let you know when it is up."
            if post.state == "pending"
            else "Your post is up.",
        )
    return refused("learning/post_form.html", form=form, post=None, title="Share what you learned")


def _cannot_edit(message: str, *, status: int, post: LearningPost | None = None) -> Response:
    """A post that cannot be changed any more: say why, change nothing, and show back what the
    person typed (after a POST) so none of it is lost."""
    typed = PostForm() if request.method == "POST" else None
    return render(
        "learning/post_gone.html", status=status, message=message, post=post, typed=typed, title="Change your post"
    )


@bp.route("/<int:post_id>/edit", methods=["GET", "POST"], endpoint="edit_post")
@permission_required("posts.write")
def edit_post(post_id: int) -> Response:
    post = posts.load_post(post_id)
    if post is None:
        return _cannot_edit(posts.GONE, status=404)
    require("post.edit", post)
    if posts.taken_down(post):
        return _cannot_edit(posts.TAKEN_DOWN, status=422 if request.method == "POST" else 200, post=post)
    form = PostForm(obj=post) if request.method == "GET" else PostForm()
    if request.method == "GET":
        form.values.data, form.themes.data = post.value_keys, post.theme_keys
        form.visibility.data = post.visibility.value
    _post_form(form)
    outcome = apply(form, lambda: posts.edit_post(post, by=current_user, seen=form.version.seen, **_post_fields(form)))
    if outcome:
        return done(
            url_for("learning.post", post_id=post.id),
            "Your changes are saved." if outcome.result else "Nothing had changed, so there was nothing to save.",
        )
    return refused("learning/post_form.html", form=form, post=post, title="Change your post")


@bp.route("/<int:post_id>/delete", methods=["GET", "POST"], endpoint="delete_post")
@permission_required("posts.write")
def delete_post(post_id: int) -> Response:
    post = _post_or_404(post_id)
    require("post.delete", post)
    if not confirmed():  # its comments go with it: the page says how many, and only its Confirm deletes
        return ask(_deletion_question(post))
    outcome = apply(None, lambda: posts.delete_post(post, by=current_user))
    return done(url_for("learning.feed"), "Your post is deleted." if outcome else None)


def _deletion_question(post: LearningPost) -> Confirmation:
    comment_count, validation_count = posts.post_counts([post.id]).get(post.id, (0, 0))
    return Confirmation(
        title=f"Delete “{post.title}”?",
        will=[
            f"This will delete your post “{post.title}” for good, with its {counted(comment_count, 'comment')} "
            f"and {counted(validation_count, 'validation')} from other people. Nobody will be able to read it again.",
        ],
        button="Yes, delete the post",
        action=url_for("learning.delete_post", post_id=post.id),
        cancel=url_for("learning.edit_post", post_id=post.id),
        cancel_label="No, keep the post",
    )


# --- reading a post and its comments -----------------------------------------------------------


def _post_page(post: LearningPost, form: CommentForm | None = None, status: int = 200) -> Response:
    threads, replies = comments.thread_page(post, page=page_number())
    ids = [c.id for c in threads.items] + [r.id for rs in replies.values() for r in rs]
    counts = posts.post_counts([post.id]).get(post.id, (0, 0))
    return render(
        "learning/post.html",
        status=status,
        post=post,
        threads=threads,
        replies=replies,
        comment_counts=validations.counts_for_comments(ids),
        mine=validations.mine_among_comments(current_user, ids),
        comment_count=counts[0],
        validation_count=counts[1],
        validated=validations.has_validated(current_user, post),
        form=form or CommentForm(formdata=None),
        shown=lambda c: comments.shown(c, current_user),
        value_labels=vocabulary.labels(vocabulary.VALUES, post.value_keys),
        theme_labels=vocabulary.labels(vocabulary.THEMES, post.theme_keys),
        title=post.title,
    )


@bp.route("/<int:post_id>", endpoint="post")
@public
def show_post(post_id: int) -> Response:
    return _post_page(_readable_post(post_id))


@bp.route("/<int:post_id>/comments", methods=["POST"], endpoint="add_comment")
@permission_required("posts.write")
def add_comment(post_id: int) -> Response:
    post = _readable_post(post_id)
    require("post.comment", post)
    form = CommentForm()
    parent_text = form.parent_id.data or ""
    parent = int(parent_text) if parent_text.isascii() and parent_text.isdigit() and len(parent_text) <= 9 else None
    outcome = apply(
        form, lambda: comments.add_comment(post, by=current_user, body=form.body.data or "", parent_id=parent)
    )
    if outcome:
        return done(
            url_for("learning.post", post_id=post.id, page=request.args.get("page")) + f"#comment-{outcome.result.id}",
            "Your comment is added.",
        )
    return _post_page(post, form, status=422)


@bp.route("/comments/<int:comment_id>/edit", methods=["GET", "POST"], endpoint="edit_comment")
@permission_required("posts.write")
def edit_comment(comment_id: int) -> Response:
    comment = _comment_or_404(comment_id)
    require("comment.edit", comment)
    form = CommentForm(obj=comment) if request.method == "GET" else CommentForm()
    if apply(form, lambda: comments.edit_comment(comment, by=current_user, body=form.body.data or "")):
        return done(_comment_url(comment), "Your comment is changed.")
    return refused("learning/comment_form.html", form=form, comment=comment, title="Change your comment")


@bp.route("/comments/<int:comment_id>/delete", methods=["POST"], endpoint="delete_comment")
@permission_required("posts.write")
def delete_comment(comment_id: int) -> Response:
    comment = _comment_or_404(comment_id)
    require("comment.delete", comment)
    outcome = apply(None, lambda: comments.delete_comment(comment, by=current_user))
    return done(_comment_url(comment), "Your comment is deleted. Replies to it stay." if outcome else None)


def _comment_url(comment: Comment) -> str:
    return url_for("learning.post", post_id=comment.post_id) + f"#comment-{comment.id}"


# --- this resonates -------------------------------------------------------------------------------


def _toggle(target: LearningPost | Comment, back: str) -> Response:
    require("content.validate", target)
    wanted = request.form.get("on") == "1"
    outcome = apply(None, lambda: validations.set_validation(target, by=current_user, on=wanted))
    if not outcome:
        return redirect_to(back)
    if wants_fragment():  # the toggle alone, swapped in place
        return render(
            "learning/_validate.html",
            target=target,
            validated=outcome.result,
            count=validations.count(target),
            is_post=isinstance(target, LearningPost),
        )
    return done(back, "You said this resonates." if outcome.result else "You took back your 'this resonates'.")


@bp.route("/<int:post_id>/validate", methods=["POST"], endpoint="validate_post")
@permission_required("posts.write")
def validate_post(post_id: int) -> Response:
    post = _readable_post(post_id)
    return _toggle(post, url_for("learning.post", post_id=post.id))


@bp.route("/comments/<int:comment_id>/validate", methods=["POST"], endpoint="validate_comment")
@permission_required("posts.write")
def validate_comment(comment_id: int) -> Response:
    comment = _comment_or_404(comment_id)
    _readable_post(comment.post_id)
    return _toggle(comment, _comment_url(comment))


@bp.route("/<int:post_id>/validations", endpoint="post_validators")
@permission_required("validators.view")
def post_validators(post_id: int) -> Response:
    post = _readable_post(post_id)
    return render(
        "learning/validators.html",
        people=validations.validators(post),
        post=post,
        comment=None,
        title=f'Who says "{post.title}" resonates',
    )


@bp.route("/comments/<int:comment_id>/validations", endpoint="comment_validators")
@permission_required("validators.view")
def comment_validators(comment_id: int) -> Response:
    comment = _comment_or_404(comment_id)
    post = _readable_post(comment.post_id)
    return render(
        "learning/validators.html",
        people=validations.validators(comment),
        post=post,
        comment=comment,
        title="Who says this comment resonates",
    )


# --- flags ------------------------------------------------------------------------------------------


def _flag(target: LearningPost | Comment, post: LearningPost) -> Response:
    require("content.flag", target)
    form = FlagForm()
    outcome = apply(
        form,
        lambda: moderation.flag(target, by=current_user, reason=form.reason.data or "", note=form.note.data or ""),
    )
    if outcome:
        return done(
            url_for("learning.post", post_id=post.id),
            "Thank you. A moderator will look at it." if outcome.result else "You have already flagged this.",
        )
    return refused(
        "learning/flag_form.html",
        form=form,
        post=post,
        comment=target if isinstance(target, Comment) else None,
        title="Flag this for a moderator",
    )


@bp.route("/<int:post_id>/flag", methods=["GET", "POST"], endpoint="flag_post")
@permission_required("posts.write")
def flag_post(post_id: int) -> Response:
    post = _readable_post(post_id)
    return _flag(post, post)


@bp.route("/comments/<int:comment_id>/flag", methods=["GET", "POST"], endpoint="flag_comment")
@permission_required("posts.write")
def flag_comment(comment_id: int) -> Response:
    comment = _comment_or_404(comment_id)
    return _flag(comment, _readable_post(comment.post_id))


@bp.app_template_global("tag_label")
def tag_label(tag: str) -> str:
    kind, _, key = tag.partition(":")
    return (vocabulary.VALUES if kind == "value" else vocabulary.THEMES).get(key, key)

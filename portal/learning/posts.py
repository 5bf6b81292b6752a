"""Learning posts: write, edit, delete, publish a report's learning, and the feed.

Every change keeps the search index in step in the same transaction: a post is in the index
exactly while it is visible, with its visibility as the index's audience, under its author's
current name (a renamed author's posts are indexed again, ``author_renamed``).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import joinedload, selectinload

from portal.accounts import signals as account_signals
from portal.accounts.models import Role, User
from portal.core import audit, edits, keyset, vocabulary
from portal.core.db import utcnow
from portal.core.errors import RuleBroken
from portal.core.extensions import db
from portal.core.search import documents
from portal.grants import signals as grants_signals
from portal.grants.models import Phase, ProgressReport, ReportState
from portal.learning.models import (
    FEED_PUBLIC_SQL,
    Comment,
    CommentState,
    LearningPost,
    ModerationSettings,
    PostState,
    PostTag,
    Validation,
    Visibility,
    members_feed_condition,
)
from portal.learning.text import to_html, to_plain
from portal.teams.models import Project, TeamMembership

TITLE_MAX = 200
PROJECT_CHOICES = 10  # projects offered for a typed name; more means "type more of the name"
BODY_MAX = 20_000

# What the comparison calls each part of a post, when a save from a stale form is refused.
LABELS = {
    "title": "Title",
    "body": "What you learned",
    "project_id": "Project",
    "visibility": "Who can read it",
    "tag_set": "Values and themes",
}
TAKEN_DOWN = (
    "A moderator took this post down, so it cannot be changed. Nothing you typed has been saved: "
    "copy anything you want to keep from below. You can still delete the post."
)
GONE = (
    "This post is not on the portal any more (its author may have deleted it), so it cannot be changed. "
    "Nothing you typed has been saved: copy anything you want to keep from below."
)


def team_projects(user: Any) -> list[Project]:
    """The projects a person may attach a post to: those whose team they are on."""
    return list(
        db.session.scalars(
            sa.select(Project)
            .join(TeamMembership, TeamMembership.project_id == Project.id)
            .where(TeamMembership.user_id == user.id)
            .order_by(Project.title, Project.id)
        )
    )


def settings() -> ModerationSettings:
    found = db.session.get(ModerationSettings, 1)
    if found is None:
        found = ModerationSettings(id=1, premoderate_first_posts=False)
        db.session.add(found)
        db.session.flush()
    return found


def set_premoderation(*, on: bool, by: User) -> None:
    current = settings()
    if current.premoderate_first_posts == on:
        return
    current.premoderate_first_posts = on
    current.updated_at = utcnow()
    current.updated_by_id = by.id
    audit.record(
        "moderation.premoderation_" + ("on" if on else "off"),
        current,
        actor=by,
        before={"premoderate_first_posts": not on},
        after={"premoderate_first_posts": on},
    )


def _needs_premoderation(author: User) -> bool:
    if author.role != Role.MEMBER or not settings().premoderate_first_posts:
        return False
    already = db.session.scalar(
        sa.select(sa.func.count(LearningPost.id)).where(
            LearningPost.author_id == author.id, LearningPost.state == PostState.VISIBLE
        )
    )
    return not already


def _clean(title: str, body: str, visibility: str, values: list[str], themes: list[str]) -> tuple[str, str, Visibility]:
    title, body = (title or "").strip(), (body or "").strip()
    if not title:
        raise RuleBroken("title", "Enter a title.")
    if len(title) > TITLE_MAX:
        raise RuleBroken("title", f"Keep the title to {TITLE_MAX} characters or fewer.")
    if not body:
        raise RuleBroken("body", "Write what you learned.")
    if len(body) > BODY_MAX:
        raise RuleBroken("body", f"Keep the post to {BODY_MAX:,} characters or fewer.")
    try:
        chosen = Visibility(visibility)
    except ValueError:
        raise RuleBroken("visibility", "Choose who can read this post.") from None
    if any(v not in vocabulary.VALUES for v in values):
        raise RuleBroken("values", "Choose values from the list.")
    if any(t not in vocabulary.THEMES for t in themes):
        raise RuleBroken("themes", "Choose themes from the list.")
    return title, body, chosen


def _project_for(author: User, project_id: int | None) -> int | None:
    if not project_id:
        return None
    if project_id not in {p.id for p in team_projects(author)}:
        raise RuleBroken("project_id", "Choose one of your own projects, or none.")
    return project_id


def _wanted_tags(values: list[str], themes: list[str]) -> list[str]:
    return [f"value:{v}" for v in dict.fromkeys(values)] + [f"theme:{t}" for t in dict.fromkeys(themes)]


def _set_tags(post: LearningPost, wanted: list[str]) -> bool:
    """Make the post's tags exactly ``wanted``, touching only the ones that differ; true when any did."""
    current = {tag.tag for tag in post.tags}
    gone, new = current - set(wanted), [tag for tag in wanted if tag not in current]
    if not gone and not new:
        return False
    if gone:
        db.session.execute(sa.delete(PostTag).where(PostTag.post_id == post.id, PostTag.tag.in_(gone)))
    for tag in new:
        db.session.add(PostTag(post_id=post.id, tag=tag))
    db.session.flush()
    db.session.expire(post, ["tags"])
    return True


def tags_text(tags: frozenset[str]) -> str:
    """A post's values and themes in words, in the vocabulary's order (for comparing versions)."""
    order = {tag: place for place, (tag, _label) in enumerate(tag_choices())}
    labels = dict(tag_choices())
    return ", ".join(labels.get(tag, tag) for tag in sorted(tags, key=lambda tag: (order.get(tag, len(order)), tag)))


def _display(name: str, value: Any) -> str:
    if name == "tag_set":
        return tags_text(frozenset(value))
    if name == "project_id":
        project = db.session.get(Project, value) if value else None
        return project.title if project is not None else "No project"
    return edits.shown(value)


def url_path(post: LearningPost) -> str:
    return f"/learning/{post.id}"  # services run outside requests too (CLI, digest)


def index(post: LearningPost) -> None:
    """Put a visible post in the search index (with its audience), or take it out."""
    if post.state == PostState.VISIBLE:
        author = db.session.get(User, post.author_id)  # usually already in the session
        byline = author.name if author is not None else ""
        documents.upsert(
            kind="post",
            object_id=post.id,
            title=post.title,
            body="\n\n".join(part for part in (byline, to_plain(post.body)) if part),
            audience=post.visibility.value,
            url_path=url_path(post),
        )
    else:
        documents.remove(kind="post", object_id=post.id)


def create_post(
    *,
    author: User,
    title: str,
    body: str,
    visibility: str,
    project_id: int | None = None,
    values: list[str] | None = None,
    themes: list[str] | None = None,
    source_report: ProgressReport | None = None,
) -> LearningPost:
    values, themes = list(values or []), list(themes or [])
    title, body, chosen = _clean(title, body, visibility, values, themes)
    post = LearningPost(
        author_id=author.id,
        title=title,
        body=body,
        body_html=to_html(body),
        visibility=chosen,
        project_id=source_report.project_id if source_report else _project_for(author, project_id),
        state=PostState.PENDING if _needs_premoderation(author) else PostState.VISIBLE,
        source_report_id=source_report.id if source_report else None,
        created_at=utcnow(),
    )
    db.session.add(post)
    db.session.flush()
    _set_tags(post, _wanted_tags(values, themes))
    index(post)
    return post


def taken_down(post: LearningPost) -> bool:
    """A moderator (or enough flags) took the post down: its author cannot change it."""
    return post.state == PostState.HIDDEN


def edit_post(
    post: LearningPost,
    *,
    by: User,
    title: str,
    body: str,
    visibility: str,
    project_id: int | None,
    values: list[str],
    themes: list[str],
    seen: int | None = None,
) -> bool:
    """The author's changes, from a form opened at version ``seen``: nothing is saved when the
    post changed since (``EditConflict``, with both versions) or was taken down. True when
    anything changed; saving an unchanged form changes nothing, not even the version."""
    if post.author_id != by.id:
        raise RuleBroken("title", "Only the author can change this post.")
    if taken_down(post):
        raise RuleBroken("post", TAKEN_DOWN)
    title, body, chosen = _clean(title, body, visibility, values, themes)
    wanted = _wanted_tags(values, themes)
    project = post.project_id if post.source_report_id is not None else project_id
    yours = {"title": title, "body": body, "project_id": project, "visibility": chosen, "tag_set": frozenset(wanted)}
    edits.check_fresh(post, seen, yours, by=by, labels=LABELS, display=_display)
    if post.source_report_id is None:
        project = _project_for(by, project_id)
    changes = {"title": title, "body": body, "body_html": to_html(body), "visibility": chosen, "project_id": project}
    tags_change = post.tag_set != frozenset(wanted)
    changed = edits.edit(post, changes, by=by, seen=None)
    if tags_change and not changed:
        edits.stamp(post, by=by)  # only the tags changed: the post's version still moves on
    if not (changed or tags_change):
        return False
    post.edited_at = post.changed_at
    _set_tags(post, wanted)  # flushes the post too: one UPDATE, one new version
    index(post)
    return True


def delete_post(post: LearningPost, *, by: User) -> None:
    if post.author_id != by.id:
        raise RuleBroken("post", "Only the author can delete this post.")
    audit.record("post.deleted", post, actor=by, before={"title": post.title})
    documents.remove(kind="post", object_id=post.id)
    db.session.delete(post)


def publish_report(report: ProgressReport, *, by: User) -> LearningPost:
    """A pilot's accepted final report becomes a public learning post, once."""
    if report.state != ReportState.ACCEPTED or not report.is_final:
        raise RuleBroken("publish", "Only an accepted final report can be shared as a learning post.")
    existing = db.session.scalar(sa.select(LearningPost).where(LearningPost.source_report_id == report.id))
    if existing is not None:
        return existing
    project = db.session.get_one(Project, report.project_id)
    post = create_post(
        author=by,
        title=f"What we learned: {project.title}",
        body=report.what_we_learned,
        visibility=Visibility.PUBLIC.value,
        values=list(report.values or []),
        source_report=report,
    )
    audit.record("post.published_from_report", post, actor=by, after={"report_id": report.id})
    return post


# --- reading ----------------------------------------------------------------------------------


def _signed_in(viewer: Any) -> bool:
    return bool(viewer is not None and viewer.is_authenticated)


def viewable(query: sa.Select[Any], viewer: Any) -> sa.Select[Any]:
    """Only visible posts; visitors see only public ones. Written as literal SQL identical to the
    indexes' conditions (``models.FEED_*``), so both planners read the feed from the index that
    holds exactly this viewer's posts, newest first (members: revision 0029's partial index)."""
    if _signed_in(viewer):
        return query.where(sa.text(members_feed_condition(dialect=db.engine.dialect.name, table="learning_posts")))
    return query.where(sa.text(FEED_PUBLIC_SQL))


def feed_filtered(
    viewer: Any,
    *,
    tag: str = "",
    project_id: int | None = None,
    phase_id: int | None = None,
    author_id: int | None = None,
) -> sa.Select[LearningPost]:
    """The posts this viewer's feed shows for these filters, unordered."""
    query = viewable(sa.select(LearningPost), viewer)
    if tag:
        query = query.where(LearningPost.id.in_(sa.select(PostTag.post_id).where(PostTag.tag == tag)))
    if project_id:
        query = query.where(LearningPost.project_id == project_id)
    if phase_id:
        query = query.where(LearningPost.project_id.in_(sa.select(Project.id).where(Project.phase_id == phase_id)))
    if author_id:
        query = query.where(LearningPost.author_id == author_id)
    return query


def _shown(query: sa.Select[LearningPost]) -> sa.Select[LearningPost]:
    return query.options(
        joinedload(LearningPost.author), joinedload(LearningPost.project), selectinload(LearningPost.tags)
    )


def feed_query(
    viewer: Any,
    *,
    tag: str = "",
    project_id: int | None = None,
    phase_id: int | None = None,
    author_id: int | None = None,
) -> sa.Select[LearningPost]:
    query = feed_filtered(viewer, tag=tag, project_id=project_id, phase_id=phase_id, author_id=author_id)
    return _shown(query).order_by(LearningPost.created_at.desc(), LearningPost.id.desc())


# The feed's order as keyset keys: newest first, then id.
FEED_KEYS = (keyset.Key(LearningPost.created_at, datetime), keyset.Key(LearningPost.id, int))


def feed_page(
    viewer: Any,
    *,
    after: str | None = None,
    before: str | None = None,
    per_page: int = 25,
    tag: str = "",
    project_id: int | None = None,
    phase_id: int | None = None,
    author_id: int | None = None,
) -> keyset.Page[LearningPost]:
    """One page of the feed after (older) or before (newer) a cursor, with a count capped at
    ``keyset.COUNT_CAP``; ``keyset.BadCursor`` for a cursor the feed did not make."""
    query = feed_filtered(viewer, tag=tag, project_id=project_id, phase_id=phase_id, author_id=author_id)
    page = keyset.paginate(
        _shown(query),
        FEED_KEYS,
        values_of=lambda post: (post.created_at, post.id),
        after=after,
        before=before,
        per_page=per_page,
    )
    page.total = keyset.capped_count(query, LearningPost.id)
    return page


def matching_projects(text: str, viewer: Any, *, limit: int = PROJECT_CHOICES) -> list[tuple[int, str]]:
    """Projects whose title contains ``text`` and that have a post in this viewer's feed, by
    title, at most ``limit`` + 1 (so the page can say there are more)."""
    words = text.strip()[:100]
    if not words:
        return []
    pattern = "%" + words.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
    has_post = viewable(sa.select(LearningPost.id), viewer).where(LearningPost.project_id == Project.id).exists()
    rows = db.session.execute(
        sa.select(Project.id, Project.title)
        .where(Project.title.ilike(pattern, escape="\\"), has_post)
        .order_by(Project.title, Project.id)
        .limit(limit + 1)
    ).all()
    return [(row.id, row.title) for row in rows]


def project_title(project_id: int | None) -> str | None:
    if not project_id:
        return None
    return db.session.scalar(sa.select(Project.title).where(Project.id == project_id))


def tag_choices() -> list[tuple[str, str]]:
    return [(f"value:{k}", f"Value: {v}") for k, v in vocabulary.VALUES.items()] + [
        (f"theme:{k}", f"Theme: {v}") for k, v in vocabulary.THEMES.items()
    ]


def phase_choices() -> list[tuple[int, str]]:
    """Funding phases, for the feed's filter (a handful; projects are typed, not listed)."""
    rows = db.session.execute(sa.select(Phase.id, Phase.name).order_by(Phase.opens_on, Phase.id)).all()
    return [(row.id, row.name) for row in rows]


def post_counts(post_ids: list[int]) -> dict[int, tuple[int, int]]:
    """(visible comments, validations) for each post, in one query."""
    if not post_ids:
        return {}
    comments = (
        sa.select(sa.func.count(Comment.id))
        .where(Comment.post_id == LearningPost.id, Comment.deleted_at.is_(None), Comment.state == CommentState.VISIBLE)
        .correlate(LearningPost)
        .scalar_subquery()
    )
    validations = (
        sa.select(sa.func.count(Validation.id))
        .where(Validation.post_id == LearningPost.id)
        .correlate(LearningPost)
        .scalar_subquery()
    )
    rows = db.session.execute(sa.select(LearningPost.id, comments, validations).where(LearningPost.id.in_(post_ids)))
    return {row[0]: (row[1], row[2]) for row in rows}


def load_post(post_id: int) -> LearningPost | None:
    return db.session.scalar(
        sa.select(LearningPost)
        .where(LearningPost.id == post_id)
        .options(joinedload(LearningPost.author), joinedload(LearningPost.project), selectinload(LearningPost.tags))
    )


def public_posts_since(since: datetime, limit: int = 20) -> list[LearningPost]:
    """For the digest: public, visible posts written since ``since`` (email leaves the portal)."""
    return list(
        db.session.scalars(
            sa.select(LearningPost)
            .where(
                LearningPost.state == PostState.VISIBLE,
                LearningPost.visibility == Visibility.PUBLIC,
                LearningPost.created_at >= since,
            )
            .order_by(LearningPost.created_at.desc(), LearningPost.id.desc())
            .limit(limit)
        )
    )


@grants_signals.final_learning_published.connect
def share_final_learning(report: ProgressReport, *, by: User, **extra: Any) -> LearningPost:
    """A final report's published learning becomes a public learning post (once)."""
    return publish_report(report, by=by)


@account_signals.renamed.connect
def author_renamed(user: User, **extra: Any) -> None:
    """Index the person's visible posts again under their new name; the old one finds nothing."""
    for post in db.session.scalars(
        sa.select(LearningPost).where(LearningPost.author_id == user.id, LearningPost.state == PostState.VISIBLE)
    ):
        index(post)

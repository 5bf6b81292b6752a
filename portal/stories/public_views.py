"""Pages for everyone: the story library, a story with its player and transcript, the media
route, a storyteller's named stories, the Atom feed, and the storyteller summary."""

from __future__ import annotations

from datetime import datetime
from xml.sax.saxutils import escape

from flask import abort, current_app, make_response, request, url_for
from flask_login import current_user
from werkzeug.wrappers import Response

from portal.core import keyset, vocabulary
from portal.core.extensions import db
from portal.core.permissions import can, public
from portal.core.web import paginate, render, wants_fragment
from portal.stories import bp, library, media, moderation, summary
from portal.stories.forms import AskSettingForm, LibraryFilterForm, SummaryFilterForm, optional_int
from portal.stories.markdown import plain_text
from portal.stories.markdown import render as render_markdown
from portal.stories.models import Story, StoryState, Storyteller

FEED_SIZE = 30
BROKEN_LINK = (
    "This link to a page of stories is broken (part of it may be missing). Start again from the first page of stories."
)


@bp.app_template_filter("story_markdown")
def story_markdown(text: str) -> object:
    return render_markdown(text)


@bp.app_context_processor
def story_vocabularies() -> dict[str, object]:
    return {
        "theme_labels": lambda keys: vocabulary.labels(vocabulary.THEMES, keys),
        "value_labels": lambda keys: vocabulary.labels(vocabulary.VALUES, keys),
        # called (one grouped query) only by the staff dashboard card that shows it
        "story_queue_counts": moderation.queue_counts,
    }


def _atom_time(moment: datetime | None) -> str:
    """A feed timestamp (a published story always has one; the feed's own start otherwise)."""
    return moment.isoformat() if moment else "2026-01-01T00:00:00+00:00"


def _project_choice(form: LibraryFilterForm, *, choose_one: bool) -> keyset.NameChoice:
    return keyset.choose_by_name(
        (form.project_name.data or "") if not form.project_name.errors else "",
        optional_int(form.project.data),
        matching=lambda typed: library.matching_projects(typed, current_user),
        title_of=library.project_title,
        limit=library.PROJECT_CHOICES,
        choose_one=choose_one,
    )


@bp.route("")
@public
def library_page() -> Response:
    form = LibraryFilterForm(request.args)
    form.validate()
    suggesting = request.args.get("suggest") == "projects" and wants_fragment()
    choice = _project_choice(form, choose_one=not suggesting)
    args = keyset.link_args(request.args, choice)
    if suggesting:  # as someone types a project's name: only the matches, for the list under the field
        return render("stories/library.html", block="project_choices", choice=choice, args=args)
    filters = library.Filters(
        theme=form.theme.data if form.theme.data in vocabulary.THEMES else "",
        value=form.value.data if form.value.data in vocabulary.VALUES else "",
        phase_id=optional_int(form.phase.data),
        project_id=choice.chosen_id,
        words=(form.q.data or "").strip() if not form.q.errors else "",
    )
    try:
        page = library.library_page(
            current_user,
            filters,
            after=request.args.get("after") or None,
            before=request.args.get("before") or None,
            per_page=current_app.config["PAGE_SIZE"],
        )
    except keyset.BadCursor:
        abort(400, description=BROKEN_LINK)
    return render(
        "stories/library.html",
        block="results",
        form=form,
        page=page,
        choice=choice,
        args=args,
        fragment=wants_fragment(),
        title="Stories",
    )


def _visible_story_or_404(story_id: int) -> Story:
    viewer = current_user._get_current_object()  # read first, so a missing story's answer matches
    story = library.story_for_page(story_id)
    if story is None or story.state == StoryState.WITHDRAWN:
        abort(404)
    if not can(viewer, "story.view", story):
        # Never say that a story exists to someone who may not read it: a members' story answers
        # a visitor exactly as a missing one does (the 404 page offers signing in to everyone).
        abort(404)
    return story


@bp.route("/<int:story_id>")
@public
def story(story_id: int) -> Response:
    found = _visible_story_or_404(story_id)
    # The storyteller (and staff) see what moderation took out; nobody else does.
    changes = (
        moderation.changed_fields(found)
        if (can(current_user, "stories.moderate") or library.owns(current_user, found))
        else {}
    )
    ask_form = AskSettingForm(obj=found) if can(current_user, "story.ask_setting", found) else None
    return render("stories/story.html", story=found, changes=changes, ask_form=ask_form, title=found.title)


@bp.route("/<int:story_id>/media")
@public
def story_media(story_id: int) -> Response:
    found = _visible_story_or_404(story_id)
    if not found.media_stored_name:
        abort(404)
    try:
        data = media.read(found.media_stored_name, found.key_id)
    except FileNotFoundError:
        abort(404)
    # The file is sealed on disk: its opened bytes are served, with ranges for seeking players.
    response = Response(data, mimetype=media.served_type(data))
    response.make_conditional(request, accept_ranges=True, complete_length=len(data))
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Cache-Control"] = "private, no-store"
    return response


@bp.route("/storytellers/<int:storyteller_id>")
@public
def storyteller_page(storyteller_id: int) -> Response:
    """A storyteller's named stories. Anonymous stories are never listed here."""
    person = db.get_or_404(Storyteller, storyteller_id)
    page = paginate(library.library_query(current_user, library.Filters(storyteller_id=person.id)))
    if page.total == 0:
        abort(404)  # only someone with a published, named story has a page
    return render(
        "stories/storyteller_page.html",
        block="results",
        person=person,
        page=page,
        title=f"Stories by {person.display_name}",
    )


@bp.route("/feed.xml")
@public
def feed() -> Response:
    """Public stories only: feed readers are never signed in."""
    stories = (
        db.session.scalars(
            library.library_query(None, library.Filters())
            .order_by(None)
            .order_by(Story.published_at.desc(), Story.id.desc())
            .limit(FEED_SIZE)
        )
        .unique()
        .all()
    )
    base = request.url_root.rstrip("/")
    entries = []
    for item in stories:
        link = base + url_for("stories.story", story_id=item.id)
        entries.append(
            f'<entry><title>{escape(item.title)}</title><id>{link}</id><link href="{link}"/>'
            f"<updated>{_atom_time(item.published_at)}</updated><author><name>{escape(item.author_label)}</name>"
            f"</author><summary>{escape(item.summary)}</summary>"
            f'<content type="text">{escape(plain_text(item.body))}</content></entry>'
        )
    updated = _atom_time(stories[0].published_at if stories else None)
    body = (
        '<?xml version="1.0" encoding="utf-8"?>\n<feed xmlns="http://www.w3.org/2005/Atom">'
        f"<title>Co-Production Portal: stories</title><id>{base}{url_for('stories.feed')}</id>"
        f'<link rel="self" href="{base}{url_for("stories.feed")}"/><updated>{updated}</updated>'
        + "".join(entries)
        + "</feed>"
    )
    response = make_response(body)
    response.mimetype = "application/atom+xml"
    return response


@bp.route("/summary")
@public
def summary_page() -> Response:
    staff = can(current_user, "stories.exact_summary")
    exact = staff and request.args.get("view") != "public"
    threshold = current_app.config["STATS_MIN_CELL"]
    minimum = summary.minimum_for(threshold)
    offered = None if exact else summary.projects_with_enough(minimum)
    form = SummaryFilterForm(request.args, offered=offered, minimum=minimum)
    form.validate()
    project_id = None if form.project.errors else optional_int(form.project.data)
    if exact:
        shown = summary.compute(project_id)
    else:
        shown = summary.public(project_id, threshold, current_app.config["STATS_KEY_SECRET"])
    return render(
        "stories/summary.html",
        block="results",
        form=form,
        figures=shown,
        staff=staff,
        threshold=threshold,
        another_ethnicity=summary.ANOTHER_ETHNICITY,
        another_gender=summary.ANOTHER_GENDER,
        title="Our storytellers",
    )

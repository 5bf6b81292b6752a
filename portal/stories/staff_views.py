"""Staff pages: the moderation queue and a story's review (edit out identifying details,
publish, ask for changes, decline, feature), storytellers (list, add, enter a story on their
behalf), the CSV import, and the CSV exports."""

from __future__ import annotations

import base64
import binascii
from datetime import UTC, datetime, time

import sqlalchemy as sa
from flask import abort, current_app, request, url_for
from flask_login import current_user
from werkzeug.wrappers import Response

from portal.core.changes import apply, done, refused
from portal.core.csv_export import csv_response
from portal.core.errors import RuleBroken
from portal.core.extensions import db
from portal.core.forms import attach_error, given
from portal.core.permissions import permission_required
from portal.core.web import paginate, redirect_to, render
from portal.stories import bp, exports, importer, library, moderation, summary, telling
from portal.stories.forms import (
    ConfirmForm,
    ConfirmImportForm,
    DecisionForm,
    ImportForm,
    ModerationEditForm,
    OnBehalfStoryForm,
    QueueFilterForm,
    StorytellerForm,
    optional_int,
    seen_version,
)
from portal.stories.member_views import save_record, save_story
from portal.stories.models import ConsentMethod, Story, StoryState, Storyteller

# The buttons of the decision form. Publishing is not one: it is a button of the edit form, so
# what is published is always the text in that form ("Save edits and publish").
DECISIONS = {
    "start_review": "The review has started. You can now edit the story.",
    "take_back": "The story is back in review. The storyteller can no longer approve the earlier changes.",
    "request_changes": "The storyteller has been asked for changes.",
    "decline": "The story will not be published. The storyteller has been told.",
    "unpublish": "The story is no longer published. It is back in review.",
}


@bp.route("/moderation")
@permission_required("stories.moderate")
def queue() -> Response:
    form = QueueFilterForm(request.args)
    form.validate()
    state = StoryState(form.state.data) if form.state.data in StoryState._value2member_map_ else None
    return render(
        "stories/queue.html",
        block="results",
        form=form,
        counts=moderation.queue_counts(),
        page=paginate(moderation.queue_query(state)),
        title="Stories to moderate",
    )


def _story_or_404(story_id: int) -> Story:
    story = library.story_for_page(story_id)
    if story is None or story.state == StoryState.WITHDRAWN:
        abort(404)
    return story


def _moderate_page(story: Story, status: int = 200, **forms: object) -> Response:
    edit_form = forms.get("edit_form") or ModerationEditForm(obj=story)
    return render(
        "stories/moderate.html",
        status=status,
        story=story,
        edit_form=edit_form,
        decision_form=forms.get("decision_form") or DecisionForm(),
        confirm_form=ConfirmForm(),
        changes=moderation.changed_fields(story),
        title=f"Moderate: {story.title}",
    )


@bp.route("/<int:story_id>/moderate")
@permission_required("stories.moderate")
def moderate(story_id: int) -> Response:
    return _moderate_page(_story_or_404(story_id))


@bp.route("/<int:story_id>/moderate/edit", methods=["POST"])
@permission_required("stories.moderate")
def moderate_edit(story_id: int) -> Response:
    """The one moderation form: "Save edits", or "Save edits and publish" (exactly this text)."""
    story = _story_or_404(story_id)
    form = ModerationEditForm()
    publishing = request.form.get("action") == "publish"
    outcome = apply(form, lambda: _save(story, form, publishing=publishing))
    if not outcome:
        return _moderate_page(_story_or_404(story_id), status=422, edit_form=form)
    back = url_for("stories.moderate", story_id=story.id, _anchor="" if publishing else "changes")
    if publishing and story.state == StoryState.AWAITING_APPROVAL:
        return done(
            back, "Your edits are saved. The storyteller has been asked to approve them before it is published."
        )
    if publishing:
        return done(back, "Your edits are saved and the story is published.")
    return done(
        back, "Your edits are saved. The storyteller's original is kept." if outcome.result else "Nothing was changed."
    )


def _save(story: Story, form: ModerationEditForm, *, publishing: bool) -> object:
    text = {
        "title": form.title.data or "",
        "summary": form.summary.data or "",
        "body": form.body.data or "",
        "transcript": form.transcript.data or "",
    }
    seen = seen_version(form.version) or 0  # sent without its version: never fresh
    if publishing:
        return moderation.save_and_publish(story, by=current_user, seen=seen, **text)
    return moderation.edit(story, by=current_user, seen=seen, **text)


@bp.route("/<int:story_id>/moderate/decide", methods=["POST"])
@permission_required("stories.moderate")
def moderate_decide(story_id: int) -> Response:
    story = _story_or_404(story_id)
    form = DecisionForm()
    action = form.action.data or request.form.get("action", "")
    if action not in DECISIONS:
        abort(400)
    if apply(form, lambda: _decide(story, action, form)):
        return done(url_for("stories.moderate", story_id=story.id), DECISIONS[action])
    return _moderate_page(_story_or_404(story_id), status=422, decision_form=form)


def _decide(story: Story, action: str, form: DecisionForm) -> None:
    """The decision; a broken rule about something this form has no box for is shown by the note."""
    try:
        moderation.decide(story, action, by=current_user, note=form.note.data or "")
    except RuleBroken as error:
        if error.field in form._fields and error.field != "action":
            raise
        raise RuleBroken("note", error.message) from error


@bp.route("/<int:story_id>/feature", methods=["POST"])
@permission_required("stories.moderate")
def feature(story_id: int) -> Response:
    story = _story_or_404(story_id)
    if not ConfirmForm().validate_on_submit():
        abort(400)
    back = url_for("stories.moderate", story_id=story.id)
    if not apply(None, lambda: moderation.set_featured(story, request.form.get("featured") == "1", by=current_user)):
        return redirect_to(back)
    return done(
        back,
        "The story is featured at the top of the library." if story.featured else "The story is no longer featured.",
    )


# --- storytellers ---------------------------------------------------------------------------


@bp.route("/storytellers")
@permission_required("storytellers.manage")
def storytellers() -> Response:
    words = (request.args.get("q") or "").strip()[:100]
    query = sa.select(Storyteller).order_by(Storyteller.display_name, Storyteller.id)
    if words:
        pattern = "%" + words.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        query = query.where(
            sa.or_(
                Storyteller.display_name.ilike(pattern, escape="\\"),
                Storyteller.pseudonym.ilike(pattern, escape="\\"),
                Storyteller.email.ilike(pattern, escape="\\"),
            )
        )
    return render("stories/storytellers.html", block="results", page=paginate(query), words=words, title="Storytellers")


@bp.route("/storytellers/new", methods=["GET", "POST"])
@permission_required("storytellers.manage")
def new_storyteller() -> Response:
    form = StorytellerForm()
    outcome = apply(form, lambda: _add_storyteller(form))
    if outcome:
        person = outcome.result
        return done(url_for("stories.storyteller", storyteller_id=person.id), f"{person.display_name} has been added.")
    return refused("stories/new_storyteller.html", form=form, title="Add a storyteller")


def _add_storyteller(form: StorytellerForm) -> Storyteller:
    person = telling.create_storyteller(
        display_name=form.display_name.data or "",
        by=current_user,
        pseudonym=form.pseudonym.data or "",
        email=form.email.data or "",
        project_id=optional_int(form.project_id.data),
    )
    save_record(person, form)
    return person


@bp.route("/storytellers/<int:storyteller_id>/tell", methods=["GET", "POST"])
@permission_required("storytellers.manage")
def tell_for(storyteller_id: int) -> Response:
    person = db.get_or_404(Storyteller, storyteller_id)
    form = OnBehalfStoryForm()
    outcome = save_story(
        form,
        lambda details, upload: telling.tell_story(
            person, details, by=current_user, upload=upload, consent=_consent_given(form)
        ),
    )
    if outcome:
        return done(
            url_for("stories.moderate", story_id=outcome.result.id),
            "The story has been entered and is waiting for review.",
        )
    return refused("stories/tell_for.html", form=form, person=person, title=f"Enter a story for {person.display_name}")


def _consent_given(form: OnBehalfStoryForm) -> telling.ConsentRecord:
    given_on = datetime.combine(given(form.consent_given_on.data), time(12), tzinfo=UTC)
    return telling.ConsentRecord(ConsentMethod(form.consent_method.data), given_on, form.consent_note.data or "")


# --- import ---------------------------------------------------------------------------------


@bp.route("/storytellers/import", methods=["GET", "POST"])
@permission_required("storytellers.manage")
def import_storytellers() -> Response:
    form, confirm = ImportForm(), ConfirmImportForm()
    if request.method == "POST" and "data" in request.form:
        return _commit_import(confirm)
    preview = None
    if form.validate_on_submit():
        upload = form.file.data
        if upload is None or not getattr(upload, "filename", ""):
            attach_error(form, "file", "Choose a CSV file to upload.")
        else:
            data = upload.stream.read(importer.MAX_BYTES + 1)
            preview = importer.read(data)
            confirm.data.data = base64.b64encode(data).decode("ascii")
            confirm.filename.data = (upload.filename or "")[:120]
    return _import_page(form, confirm, preview, status=422 if form.errors else 200)


def _import_page(
    form: ImportForm, confirm: ConfirmImportForm, preview: importer.Preview | None, status: int
) -> Response:
    return render(
        "stories/import.html",
        status=status,
        form=form,
        confirm=confirm,
        preview=preview,
        columns=importer.COLUMNS,
        title="Import storytellers",
    )


def _commit_import(confirm: ConfirmImportForm) -> Response:
    if not confirm.validate_on_submit():
        abort(400)
    try:
        data = base64.b64decode(confirm.data.data or "", validate=True)
    except (binascii.Error, ValueError):
        abort(400)
    preview = importer.read(data)
    if preview.ok:
        outcome = apply(None, lambda: importer.commit(data, by=current_user, filename=confirm.filename.data or ""))
        if outcome:
            count = outcome.result
            return done(url_for("stories.storytellers"), f"{count} storyteller{'s' if count != 1 else ''} imported.")
    # Something changed since the preview (another import took an email): show it again.
    return _import_page(ImportForm(), confirm, preview, status=422)


@bp.route("/storytellers/import/template.csv")
@permission_required("storytellers.manage")
def import_template() -> Response:
    return csv_response("storytellers-template.csv", importer.COLUMNS, importer.TEMPLATE_ROWS)


# --- exports --------------------------------------------------------------------------------


@bp.route("/export/stories.csv")
@permission_required("stories.export")
def export_stories() -> Response:
    return csv_response("stories.csv", exports.STORY_HEADER, exports.story_rows())


@bp.route("/export/summary.csv")
@permission_required("stories.export")
def export_summary() -> Response:
    project_id = optional_int(request.args.get("project"))
    threshold = current_app.config["STATS_MIN_CELL"]
    grouped = summary.compute(project_id, grouping=summary.common_answers(threshold))
    public = summary.for_public(grouped, threshold, current_app.config["STATS_KEY_SECRET"])
    rows = exports.summary_rows(summary.compute(project_id), grouped, public)
    return csv_response("storyteller-summary.csv", exports.SUMMARY_HEADER, list(rows))

"""Pages for storytellers: your stories, tell a story, change it while it waits, withdraw it,
and your storyteller record (with demographics stored only if you say so)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import TypeVar

import sqlalchemy as sa
from flask import abort, current_app, request, url_for
from flask_login import current_user
from sqlalchemy.orm import joinedload, selectinload
from werkzeug.wrappers import Response

from portal.core import keystore
from portal.core.changes import Outcome, apply, done, refused
from portal.core.confirm import Confirmation, ask, confirmed
from portal.core.errors import RuleBroken
from portal.core.extensions import db
from portal.core.permissions import is_staff, permission_required, require
from portal.core.web import paginate, redirect_to, render
from portal.stories import bp, consent, library, media, telling, withdrawal
from portal.stories.forms import (
    ConfirmForm,
    EditStoryForm,
    StoryForm,
    StorytellerForm,
    optional_int,
    seen_version,
)
from portal.stories.models import (
    GENDERS,
    PREFER_NOT_TO_SAY,
    ConsentMethod,
    Demographics,
    Scope,
    Story,
    Storyteller,
)

T = TypeVar("T")


def story_details(form: StoryForm) -> telling.StoryDetails:
    return telling.StoryDetails(
        title=form.title.data or "",
        summary=form.summary.data or "",
        body=form.body.data or "",
        transcript=form.transcript.data or "",
        project_id=optional_int(form.project_id.data),
        themes=list(form.themes.data or []),
        values=list(form.values.data or []),
        scope=Scope(form.scope.data) if form.scope.data in Scope._value2member_map_ else Scope.PUBLIC,
        anonymous=bool(form.anonymous.data),
        pseudonym=form.pseudonym.data or "",
        media_link=form.media_link.data or "",
        ask_before_publishing=bool(form.ask_before_publishing.data),
    )


def stored_upload(form: StoryForm, story: Story | None = None) -> telling.Upload | None:
    """The chosen file, sealed with ``story``'s key, or with a new key for a story not yet made."""
    upload = form.media_file.data
    if upload is None or not getattr(upload, "filename", ""):
        return None
    existing = story.key_id if story is not None else None
    new_key = existing is None
    key_id = existing or keystore.create()
    try:
        name, kind, content_type = media.store(
            upload.stream, max_bytes=current_app.config["STORY_MEDIA_MAX_BYTES"], key_id=key_id
        )
    except Exception:  # refused, or the disk would not take it (core/uploads.py): no key without its file
        if new_key:
            keystore.destroy(key_id)
        raise
    return telling.Upload(name, kind, content_type, key_id=key_id, new_key=new_key)


def save_story(
    form: StoryForm,
    action: Callable[[telling.StoryDetails, telling.Upload | None], T],
    story: Story | None = None,
) -> Outcome[T]:
    """``apply`` for a story form with a file: the upload is stored inside the change and removed
    again when nothing was kept. A service may return a file name the change made unused: it is
    deleted after the commit."""
    stored: list[telling.Upload] = []

    def change() -> T:
        upload = stored_upload(form, story)
        stored.extend([upload] if upload is not None else [])
        return action(story_details(form), upload)

    try:
        outcome = apply(form, change)
    except Exception:
        db.session.rollback()
        _remove(stored)
        raise
    if not outcome:
        _remove(stored)
    elif isinstance(outcome.result, str):
        media.remove(outcome.result)
    return outcome


def _remove(uploads: list[telling.Upload]) -> None:
    for upload in uploads:
        media.remove(upload.stored_name)
        if upload.new_key:
            keystore.destroy(upload.key_id)


@bp.route("/mine")
@permission_required("stories.tell")
def mine() -> Response:
    teller = db.session.scalar(sa.select(Storyteller).where(Storyteller.user_id == current_user.id))
    query = (
        sa.select(Story)
        .options(joinedload(Story.project), selectinload(Story.tags))
        .where(Story.storyteller_id == (teller.id if teller else -1))
        .order_by(Story.created_at.desc(), Story.id.desc())
    )
    return render(
        "stories/mine.html",
        block="results",
        page=paginate(query),
        storyteller=teller,
        withdraw_form=ConfirmForm(),
        title="Your stories",
    )


@bp.route("/tell", methods=["GET", "POST"])
@permission_required("stories.tell")
def tell() -> Response:
    form = StoryForm()
    consent_given = telling.ConsentRecord(ConsentMethod.SELF, datetime.now(UTC))
    outcome = save_story(
        form,
        lambda details, upload: telling.tell_story(
            telling.storyteller_for(current_user), details, by=current_user, upload=upload, consent=consent_given
        ),
    )
    if outcome:
        return done(
            url_for("stories.mine"),
            "Thank you. Your story has been sent. Our team will read it before it is published.",
        )
    return refused("stories/tell.html", form=form, title="Tell your story")


def _story_or_404(story_id: int, *, unreadable_too: bool = False) -> Story:
    story = library.story_for_page(story_id, unreadable_too=unreadable_too)
    if story is None:
        abort(404)
    return story


@bp.route("/<int:story_id>/edit", methods=["GET", "POST"])
@permission_required("stories.tell")
def edit(story_id: int) -> Response:
    story = _story_or_404(story_id)
    require("story.edit", story)
    posted = request.method == "POST"
    form = EditStoryForm(obj=None if posted else story)
    if not posted:
        form.project_id.data = str(story.project_id or "")
        form.themes.data, form.values.data = story.themes, story.values
        form.scope.data = story.scope.value
        form.pseudonym.data = story.storyteller.pseudonym
    outcome = save_story(
        form,
        lambda details, upload: telling.edit_own(
            story,
            details,
            by=current_user,
            seen=seen_version(form.version),
            upload=upload,
            remove_media=bool(form.remove_media.data),
        ),
        story,
    )
    if outcome:
        return done(url_for("stories.mine"), "Your changes have been sent. Our team will read the story again.")
    return refused("stories/edit.html", form=form, story=story, title=f"Change your story: {story.title}")


@bp.route("/<int:story_id>/withdraw", methods=["GET", "POST"])
@permission_required("stories.tell")
def withdraw(story_id: int) -> Response:
    """Withdrawing erases the story's words at once: its page asks first, and only its Confirm acts.
    A story whose key is already gone can be withdrawn too, to finish erasing it."""
    story = _story_or_404(story_id, unreadable_too=True)
    require("story.withdraw", story)
    own = library.owns(current_user, story)
    back = url_for("stories.mine") if own else url_for("stories.storyteller", storyteller_id=story.storyteller_id)
    if not confirmed():
        return ask(withdrawal_question(story, own=own, back=back))
    if not ConfirmForm().validate_on_submit():
        abort(400)
    outcome = apply(None, lambda: withdrawal.withdraw(story, by=current_user))
    if outcome:
        withdrawal.erase_media_file(outcome.result)  # only once the commit has made it unused
    return done(
        back, "The story has been withdrawn. Its words and any recording have been deleted." if outcome else None
    )


def withdrawal_question(story: Story, *, own: bool, back: str) -> Confirmation:
    whose = "your story" if own else "this story"
    recording = " and its recording" if story.media_stored_name or story.media_link else ""
    will = [
        f"This will withdraw {whose} “{story.title}” and erase it: it leaves every page, the library, search "
        f"and exports at once, and its words{recording} and every saved version are deleted.",
    ]
    if not own:
        will.append("Do this only when the storyteller has asked. Their storyteller record stays.")
    return Confirmation(
        title=f"Withdraw “{story.title}”?",
        will=will,
        button="Yes, withdraw and delete it",
        action=url_for("stories.withdraw", story_id=story.id),
        cancel=back,
        cancel_label="No, keep it",
    )


# --- the storyteller record -----------------------------------------------------------------


@bp.route("/me", methods=["GET", "POST"])
@permission_required("stories.tell")
def my_record() -> Response:
    """The person's own record; a GET only looks, and the record is made by the page's button."""
    teller = telling.own_storyteller(current_user)
    if teller is not None:
        return redirect_to(url_for("stories.storyteller", storyteller_id=teller.id))
    form = ConfirmForm()
    outcome = apply(form, lambda: telling.storyteller_for(current_user))
    if outcome:
        return done(
            url_for("stories.storyteller", storyteller_id=outcome.result.id), "Your storyteller record is ready."
        )
    return refused("stories/my_record_start.html", form=form, title="Your storyteller record")


def _fill(form: StorytellerForm, person: Storyteller, answers: Demographics | None) -> None:
    form.display_name.data, form.pseudonym.data, form.email.data = person.display_name, person.pseudonym, person.email
    form.project_id.data = str(person.project_id or "")
    if answers is None:
        return
    form.demographics_consent.data = True
    form.roles.data, form.sectors.data = answers.roles, answers.sectors
    form.lived_experience_areas.data = answers.lived_experience_areas
    if answers.gender and answers.gender not in GENDERS and answers.gender != PREFER_NOT_TO_SAY:
        form.gender.data, form.gender_description.data = "self_described", answers.gender
    else:
        form.gender.data = answers.gender or None
    form.lgbtqia.data, form.disability.data = answers.lgbtqia or None, answers.disability or None
    if answers.ethnicity == PREFER_NOT_TO_SAY:
        form.ethnicity_prefer_not.data = True
    else:
        form.ethnicity.data = answers.ethnicity
    form.age.data = str(answers.age) if answers.age is not None else ""
    form.age_prefer_not.data = answers.age_prefer_not_to_say


def answers_from(form: StorytellerForm) -> consent.DemographicAnswers:
    age_text = (form.age.data or "").strip()
    if age_text and not (age_text.isascii() and age_text.isdigit()):
        raise RuleBroken("age", "Enter an age in whole years, like 42, or leave it blank.")
    gender = form.gender.data or ""
    if gender == "self_described" and form.gender_description.data:
        gender = form.gender_description.data
    return consent.DemographicAnswers(
        roles=list(form.roles.data or []),
        sectors=list(form.sectors.data or []),
        lived_experience_areas=list(form.lived_experience_areas.data or []),
        gender=gender,
        lgbtqia=form.lgbtqia.data or "",
        disability=form.disability.data or "",
        ethnicity=PREFER_NOT_TO_SAY if form.ethnicity_prefer_not.data else (form.ethnicity.data or ""),
        age=int(age_text) if age_text else None,
        age_prefer_not_to_say=bool(form.age_prefer_not.data),
    )


def _any_answer(form: StorytellerForm) -> bool:
    return any(
        [
            form.roles.data,
            form.sectors.data,
            form.lived_experience_areas.data,
            form.gender.data,
            form.lgbtqia.data,
            form.disability.data,
            form.ethnicity.data,
            form.ethnicity_prefer_not.data,
            form.age.data,
            form.age_prefer_not.data,
        ]
    )


def _demographics_of(person: Storyteller) -> Demographics | None:
    return db.session.scalar(sa.select(Demographics).where(Demographics.storyteller_id == person.id))


def _record_page(person: Storyteller, form: StorytellerForm, status: int = 200) -> Response:
    answers = _demographics_of(person)
    stories = db.session.scalars(
        sa.select(Story).where(Story.storyteller_id == person.id).order_by(Story.created_at.desc()).limit(50)
    ).all()
    return render(
        "stories/record.html",
        status=status,
        person=person,
        form=form,
        answers=answers,
        stories=stories,
        staff_view=is_staff(current_user),
        own=person.user_id == current_user.id,
        withdraw_form=ConfirmForm(),
        title=f"Storyteller record: {person.display_name}",
    )


@bp.route("/storytellers/<int:storyteller_id>/record", methods=["GET", "POST"])
@permission_required("stories.tell")
def storyteller(storyteller_id: int) -> Response:
    person = db.session.scalar(
        sa.select(Storyteller).options(joinedload(Storyteller.project)).where(Storyteller.id == storyteller_id)
    )
    if person is None:
        abort(404)
    require("storyteller.manage", person)
    form = StorytellerForm()
    if not form.is_submitted():
        _fill(form, person, _demographics_of(person))
        return _record_page(person, form)
    if apply(form, lambda: save_record(person, form)):
        return done(url_for("stories.storyteller", storyteller_id=person.id), "The storyteller record has been saved.")
    return _record_page(person, form, status=422)


def save_record(person: Storyteller, form: StorytellerForm) -> None:
    """Name, pseudonym (and for staff: email, project), and demographics only with consent."""
    person.display_name = form.display_name.data or person.display_name
    person.pseudonym = form.pseudonym.data or ""
    if is_staff(current_user):
        person.email = (form.email.data or "").lower()
        person.project_id = optional_int(form.project_id.data)
    if form.demographics_consent.data:
        # A person's own tick is their consent given online; staff say how the storyteller gave it.
        chosen = form.demographics_consent_method.data
        method = (
            ConsentMethod.SELF if person.user_id == current_user.id else (ConsentMethod(chosen) if chosen else None)
        )
        consent.record_demographics(person, answers_from(form), by=current_user, method=method)
    elif _any_answer(form) and _demographics_of(person) is None:
        raise RuleBroken(
            "demographics_consent",
            "Tick the box to agree to these answers being stored, "
            "or clear them. Without agreement they are not stored.",
        )
    elif _demographics_of(person) is not None:
        raise RuleBroken(
            "demographics_consent",
            "To remove the stored answers, use “Remove my answers” below. To keep them, leave the box ticked.",
        )


@bp.route("/storytellers/<int:storyteller_id>/demographics/withdraw", methods=["POST"])
@permission_required("stories.tell")
def withdraw_demographics(storyteller_id: int) -> Response:
    person = db.get_or_404(Storyteller, storyteller_id)
    require("storyteller.manage", person)
    if not ConfirmForm().validate_on_submit():
        abort(400)
    outcome = apply(None, lambda: consent.withdraw_demographics(person, by=current_user))
    return done(
        url_for("stories.storyteller", storyteller_id=person.id),
        "The answers about the storyteller have been deleted and will not be counted." if outcome else None,
    )

"""Routes for the member directory and messages between members."""

from __future__ import annotations

from flask import abort, request, url_for
from flask_login import current_user
from werkzeug.wrappers import Response

from portal.accounts.models import User
from portal.core.changes import apply, done, refused
from portal.core.errors import RuleBroken
from portal.core.extensions import db
from portal.core.permissions import can, permission_required, require
from portal.core.vocabulary import VALUES
from portal.core.web import paginate, render
from portal.directory import blocks, bp, services
from portal.directory.forms import ButtonForm, EntryForm, FilterForm, MessageForm, ReadForm
from portal.directory.models import DirectoryEntry, PeerMessage


@bp.route("/people", endpoint="directory")
@permission_required("directory.view")
def directory() -> Response:
    form = FilterForm(request.args)
    interest = form.interest.data if form.interest.data in VALUES else ""
    skill = (form.skill.data or "")[:40]
    page = paginate(services.directory_query(interest=interest, skill=skill, viewer_id=current_user.id))
    return render(
        "people/directory.html",
        block="results",
        form=form,
        page=page,
        values=VALUES,
        projects=services.shown_projects(page.items),
        mine=services.entry_for(current_user.id),
        title="Directory",
    )


def _entry_form(entry: DirectoryEntry | None) -> EntryForm:
    if request.method == "POST":
        return EntryForm()
    if entry is None:
        return EntryForm(formdata=None, display_name=current_user.name, show_pronouns=bool(current_user.pronouns))
    return EntryForm.for_entry(entry)


def _save_entry(form: EntryForm) -> bool:
    """Save the signed-in person's entry from the form; true when it is listed."""
    saved = services.save_entry(
        current_user,
        listed=form.listed.data,
        display_name=form.display_name.data or "",
        show_pronouns=form.show_pronouns.data,
        show_bio=form.show_bio.data,
        show_projects=form.show_projects.data,
        accepts_messages=form.accepts_messages.data,
        interests=form.interests.data or [],
        skills_text=form.skills.data or "",
        seen=form.version.seen,
    )
    return bool(saved.listed)


@bp.route("/people/me", methods=["GET", "POST"], endpoint="my_entry")
@permission_required("directory.view")
def my_entry() -> Response:
    entry = services.entry_for(current_user.id)
    form = _entry_form(entry)
    outcome = apply(form, lambda: _save_entry(form))
    if outcome:
        return done(
            url_for("people.my_entry"),
            "Your directory entry is saved and listed."
            if outcome.result
            else "Your directory entry is saved. It is not listed, so nobody else can see it.",
        )
    return refused("people/my_entry.html", form=form, entry=entry, title="Your directory entry")


def _entry_page(user_id: int, *, form: MessageForm | None = None, status: int = 200) -> Response:
    entry = services.entry_for(user_id)
    person = db.session.get(User, user_id)
    if entry is None or person is None or not person.is_active:
        abort(404)
    require("directory.entry", entry)
    return render(
        "people/entry.html",
        status=status,
        entry=entry,
        person=person,
        projects=services.shown_projects([entry]).get(user_id, []),
        may_message=can(current_user, "directory.message", entry),
        may_report=can(current_user, "member.report", person),
        form=form or MessageForm(formdata=None),
        button=ButtonForm(formdata=None),
        values=VALUES,
        title=entry.display_name,
    )


@bp.route("/people/<int:user_id>", endpoint="entry")
@permission_required("directory.view")
def entry(user_id: int) -> Response:
    return _entry_page(user_id)


@bp.route("/people/<int:user_id>/message", methods=["POST"], endpoint="send_message")
@permission_required("directory.view")
def send_message(user_id: int) -> Response:
    entry = services.entry_for(user_id)
    recipient = db.session.get(User, user_id)
    if entry is None or recipient is None or not recipient.is_active:
        abort(404)
    require("directory.message", entry)
    form = MessageForm()
    outcome = apply(form, lambda: services.send_message(current_user, recipient, form.body.data or ""))
    if outcome:
        message = f"Your message is sent to {entry.display_name}. Replies appear in your messages."
        return done(url_for("people.messages"), message)
    return _entry_page(user_id, form=form, status=422)


@bp.route("/people/messages", endpoint="messages")
@permission_required("directory.view")
def messages() -> Response:
    page = paginate(services.messages_query(current_user.id))
    people = services.names({m.sender_id for m in page.items} | {m.recipient_id for m in page.items})
    return render("people/messages.html", block="results", page=page, names=people, title="Your messages")


def _message_page(message_id: int, *, form: MessageForm | None = None, status: int = 200) -> Response:
    message = db.session.get(PeerMessage, message_id)
    if message is None:
        abort(404)
    require("message.view", message)
    earlier = db.session.get(PeerMessage, message.reply_to_id) if message.reply_to_id else None
    return render(
        "people/message.html",
        status=status,
        message=message,
        earlier=earlier,
        names=services.names({message.sender_id, message.recipient_id}),
        may_reply=can(current_user, "message.reply", message),
        may_report=can(current_user, "message.report", message),
        blocked=blocks.between(message.sender_id, message.recipient_id),
        other_id=message.sender_id if message.recipient_id == current_user.id else message.recipient_id,
        message_unread=message.recipient_id == current_user.id and message.read_at is None,
        form=form or MessageForm(formdata=None),
        button=ButtonForm(formdata=None),
        title="Message",
    )


@bp.route("/people/messages/<int:message_id>", endpoint="message")
@permission_required("directory.view")
def message(message_id: int) -> Response:
    return _message_page(message_id)


@bp.route("/people/messages/<int:message_id>/read", methods=["POST"], endpoint="read_message")
@permission_required("directory.view")
def read_message(message_id: int) -> Response:
    """Mark a message read (a POST: looking at a message changes nothing), then show it."""
    message = db.session.get(PeerMessage, message_id)
    if message is None:
        abort(404)
    require("message.view", message)
    apply(ReadForm(), lambda: services.mark_read(message, current_user))
    return done(url_for("people.message", message_id=message.id))


def _send_reply(original: PeerMessage, body: str) -> None:
    sender = db.session.get(User, original.sender_id)
    if sender is None or not sender.is_active:
        raise RuleBroken("body", "This person's account is closed, so they cannot get replies.")
    services.send_message(current_user, sender, body, reply_to=original)
    services.mark_read(original, current_user)  # replying is reading


@bp.route("/people/messages/<int:message_id>/reply", methods=["POST"], endpoint="reply")
@permission_required("directory.view")
def reply(message_id: int) -> Response:
    original = db.session.get(PeerMessage, message_id)
    if original is None:
        abort(404)
    require("message.reply", original)
    form = MessageForm()
    if apply(form, lambda: _send_reply(original, form.body.data or "")):
        return done(url_for("people.messages"), "Your reply is sent.")
    return _message_page(message_id, form=form, status=422)

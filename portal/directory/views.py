"""Routes for the member directory and messages between members."""

from __future__ import annotations

from flask import abort, current_app, flash, request, url_for
from flask_login import current_user
from werkzeug.wrappers import Response

from portal.accounts.models import User
from portal.core.errors import NotAllowed, RuleBroken
from portal.core.extensions import db
from portal.core.forms import attach_error
from portal.core.permissions import can, permission_required, require
from portal.core.vocabulary import VALUES
from portal.core.web import redirect_to, render
from portal.directory import bp, services
from portal.directory.forms import EntryForm, FilterForm, MessageForm
from portal.directory.models import PeerMessage


def _page_number() -> int:
    return request.args.get("page", 1, type=int) or 1


@bp.route("/people", endpoint="directory")
@permission_required("directory.view")
def directory() -> Response:
    form = FilterForm(request.args)
    interest = form.interest.data if form.interest.data in VALUES else ""
    skill = (form.skill.data or "")[:40]
    page = db.paginate(
        services.directory_query(interest=interest, skill=skill),
        page=_page_number(),
        per_page=current_app.config["PAGE_SIZE"],
        error_out=False,
    )
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


@bp.route("/people/me", methods=["GET", "POST"], endpoint="my_entry")
@permission_required("directory.view")
def my_entry() -> Response:
    entry = services.entry_for(current_user.id)
    if request.method == "POST":
        form = EntryForm()
    elif entry is None:
        form = EntryForm(formdata=None, display_name=current_user.name, show_pronouns=bool(current_user.pronouns))
    else:
        form = EntryForm(
            formdata=None,
            obj=entry,
            interests=[i.value for i in entry.interests],
            skills=", ".join(s.name for s in entry.skills),
        )
    if form.validate_on_submit():
        try:
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
            )
        except RuleBroken as error:
            db.session.rollback()
            attach_error(form, error.field, error.message)
        else:
            listed = saved.listed
            db.session.commit()
            flash(
                "Your directory entry is saved and listed."
                if listed
                else "Your directory entry is saved. It is not listed, so nobody else can see it.",
                "success",
            )
            return redirect_to(url_for("people.my_entry"))
    return render(
        "people/my_entry.html",
        status=422 if request.method == "POST" else 200,
        form=form,
        entry=entry,
        title="Your directory entry",
    )


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
        form=form or MessageForm(formdata=None),
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
    if form.validate_on_submit():
        try:
            services.send_message(current_user, recipient, form.body.data or "")
        except RuleBroken as error:
            db.session.rollback()
            attach_error(form, error.field, error.message)
        except NotAllowed:
            abort(403)
        else:
            db.session.commit()
            flash(f"Your message is sent to {entry.display_name}. Replies appear in your messages.", "success")
            return redirect_to(url_for("people.messages"))
    return _entry_page(user_id, form=form, status=422)


@bp.route("/people/messages", endpoint="messages")
@permission_required("directory.view")
def messages() -> Response:
    page = db.paginate(
        services.messages_query(current_user.id),
        page=_page_number(),
        per_page=current_app.config["PAGE_SIZE"],
        error_out=False,
    )
    people = services.names({m.sender_id for m in page.items} | {m.recipient_id for m in page.items})
    return render("people/messages.html", block="results", page=page, names=people, title="Your messages")


def _message_page(message_id: int, *, form: MessageForm | None = None, status: int = 200) -> Response:
    message = db.session.get(PeerMessage, message_id)
    if message is None:
        abort(404)
    require("message.view", message)
    if status == 200:
        services.mark_read(message, current_user)
        db.session.commit()
    earlier = db.session.get(PeerMessage, message.reply_to_id) if message.reply_to_id else None
    return render(
        "people/message.html",
        status=status,
        message=message,
        earlier=earlier,
        names=services.names({message.sender_id, message.recipient_id}),
        may_reply=can(current_user, "message.reply", message),
        form=form or MessageForm(formdata=None),
        title="Message",
    )


@bp.route("/people/messages/<int:message_id>", endpoint="message")
@permission_required("directory.view")
def message(message_id: int) -> Response:
    return _message_page(message_id)


@bp.route("/people/messages/<int:message_id>/reply", methods=["POST"], endpoint="reply")
@permission_required("directory.view")
def reply(message_id: int) -> Response:
    original = db.session.get(PeerMessage, message_id)
    if original is None:
        abort(404)
    require("message.reply", original)
    form = MessageForm()
    if form.validate_on_submit():
        sender = db.session.get(User, original.sender_id)
        if sender is None or not sender.is_active:
            attach_error(form, "body", "This person's account is closed, so they cannot get replies.")
        else:
            try:
                services.send_message(current_user, sender, form.body.data or "", reply_to=original)
            except RuleBroken as error:
                db.session.rollback()
                attach_error(form, error.field, error.message)
            else:
                db.session.commit()
                flash("Your reply is sent.", "success")
                return redirect_to(url_for("people.messages"))
    return _message_page(message_id, form=form, status=422)

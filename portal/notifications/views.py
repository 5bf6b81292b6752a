"""In-app notifications: the list, opening one, marking read, and where each kind comes."""

from __future__ import annotations

from flask import abort, url_for
from flask_login import current_user
from werkzeug.wrappers import Response

from portal.core.changes import apply, done, refused
from portal.core.extensions import db
from portal.core.forms import safe_next
from portal.core.permissions import permission_required, signed_in
from portal.core.web import paginate, render
from portal.notifications import bp, inbox
from portal.notifications.forms import PlainForm, chosen_levels, field_name, settings_form
from portal.notifications.models import Notification


@bp.app_context_processor
def unread_notifications() -> dict[str, object]:
    """``unread_notifications()`` in any template: the signed-in person's unread count."""

    def count() -> int:
        return inbox.unread_count(current_user) if signed_in(current_user) else 0

    return {"unread_notifications": count}


@bp.route("/notifications", endpoint="inbox")
@permission_required("notifications.own")
def list_notifications() -> Response:
    return render(
        "notifications/inbox.html",
        block="results",
        page=paginate(inbox.inbox_query(current_user)),
        form=PlainForm(formdata=None),
        unread=inbox.unread_count(current_user),
        title="Notifications",
    )


def _own_notification_or_404(notification_id: int) -> Notification:
    notification = db.session.get(Notification, notification_id)
    if notification is None or notification.recipient_id != current_user.id:
        abort(404)
    return notification


@bp.route("/notifications/<int:notification_id>", methods=["GET", "POST"], endpoint="open")
@permission_required("notifications.own")
def open_notification(notification_id: int) -> Response:
    """A GET shows the notification; its button (a POST) marks it read and goes where it points.
    Opening a page never changes anything, so a link preview cannot mark it read."""
    notification = _own_notification_or_404(notification_id)
    form = PlainForm()
    if apply(form, lambda: inbox.mark_read(notification)):
        return done(safe_next(notification.url_path, url_for("notifications.inbox")))
    return refused("notifications/notification.html", form=form, note=notification, title=notification.subject)


@bp.route("/notifications/read", methods=["POST"], endpoint="mark_all_read")
@permission_required("notifications.own")
def mark_all_read() -> Response:
    if not PlainForm().validate_on_submit():
        abort(400)
    outcome = apply(None, lambda: inbox.mark_all_read(current_user))
    return done(url_for("notifications.inbox"), "Every notification is marked as read." if outcome else None)


@bp.route("/notifications/settings", methods=["GET", "POST"], endpoint="settings")
@permission_required("notifications.own")
def settings() -> Response:
    kinds = inbox.kinds_for(current_user)
    form = settings_form(kinds, inbox.choices(current_user))
    if apply(form, lambda: inbox.save_choices(current_user, chosen_levels(form, kinds))):
        return done(url_for("notifications.settings"), "Your notification choices are saved.")
    return refused(
        "notifications/settings.html",
        form=form,
        kinds=kinds,
        field_name=field_name,
        title="Notification settings",
    )

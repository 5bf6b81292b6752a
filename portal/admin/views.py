"""Admin pages: find people, change their role, close and reopen accounts, read the audit log."""

from __future__ import annotations

from flask import abort, current_app, request, url_for
from flask_login import current_user
from werkzeug.wrappers import Response

from portal.accounts import erasure, services, sessions, two_factor
from portal.accounts.models import Role, User
from portal.accounts.my_data_views import ERASES, KEPT, remove_files
from portal.admin import bp
from portal.admin.forms import (
    AuditFilterForm,
    DeactivateForm,
    EraseForm,
    ReactivateForm,
    ResetTwoFactorForm,
    RoleForm,
    UserSearchForm,
)
from portal.core import audit
from portal.core.changes import apply, done
from portal.core.confirm import Confirmation, ask, confirmed, counted
from portal.core.extensions import db
from portal.core.forms import choices
from portal.core.keyset_lists import capped_count, keyset_page
from portal.core.permissions import permission_required, require
from portal.core.web import paginate, render, whole_number


@bp.route("/users")
@permission_required("users.manage")
def users() -> Response:
    form = UserSearchForm(request.args)
    form.validate()
    role = Role(form.role.data) if form.role.data in Role._value2member_map_ else None
    page = paginate(services.search_users(text=form.q.data or "", role=role))
    return render("admin/users.html", block="results", form=form, page=page, title="People")


def _user_or_404(user_id: int) -> User:
    return db.get_or_404(User, user_id)


def _user_url(person: User) -> str:
    return url_for("admin.user", user_id=person.id)


def _user_page(user: User, status: int = 200, **forms: object) -> Response:
    entries = db.session.scalars(
        audit.entries_query(object_type="User").where(audit.AuditEntry.object_id == str(user.id)).limit(10)
    ).all()
    return render(
        "admin/user.html",
        status=status,
        person=user,
        role_form=forms.get("role_form") or RoleForm(role=user.role.value),
        deactivate_form=forms.get("deactivate_form") or DeactivateForm(),
        reactivate_form=ReactivateForm(),
        reset_two_factor_form=ResetTwoFactorForm(),
        erase_form=EraseForm(),
        entries=entries,
        title=user.name,
    )


@bp.route("/users/<int:user_id>")
@permission_required("users.manage")
def user(user_id: int) -> Response:
    return _user_page(_user_or_404(user_id))


@bp.route("/users/<int:user_id>/role", methods=["POST"])
@permission_required("users.manage")
def change_role(user_id: int) -> Response:
    person = _user_or_404(user_id)
    require("users.change_role", person)
    form = RoleForm()
    if apply(form, lambda: services.change_role(person, Role(form.role.data), by=current_user)):
        return done(_user_url(person), f"{person.name} is now {person.role.label.lower()}.")
    return _user_page(person, status=422, role_form=form)


@bp.route("/users/<int:user_id>/deactivate", methods=["POST"])
@permission_required("users.manage")
def deactivate(user_id: int) -> Response:
    person = _user_or_404(user_id)
    require("users.deactivate", person)
    form = DeactivateForm()
    if not confirmed():  # they are signed out everywhere at once: check, then say so and ask
        if not apply(form, lambda: services.check_deactivate(person)):
            return _user_page(person, status=422, deactivate_form=form)
        return ask(_deactivation_question(person))
    if apply(form, lambda: services.deactivate(person, by=current_user, reason=form.reason.data or "")):
        return done(_user_url(person), f"{person.name}'s account is closed. Nothing they made has been removed.")
    return _user_page(person, status=422, deactivate_form=form)


def _deactivation_question(person: User) -> Confirmation:
    devices = len(sessions.signed_in_devices(person, idle_days=int(current_app.config["SESSION_IDLE_DAYS"])))
    return Confirmation(
        title=f"Close {person.name}'s account?",
        will=[
            f"This will close {person.name}'s account ({person.email}) and sign them out on "
            f"{counted(devices, 'device')} at once. They will not be able to sign in until it is reopened.",
        ],
        stays=["Nothing they have made is removed: their stories, posts, claims and team places stay as they are."],
        undoable=True,  # "Reopen account" on their page
        button="Yes, close the account",
        action=url_for("admin.deactivate", user_id=person.id),
        cancel=_user_url(person),
        cancel_label="No, keep it open",
    )


@bp.route("/users/<int:user_id>/erase", methods=["POST"])
@permission_required("users.manage")
def erase(user_id: int) -> Response:
    """Erase a person's data on their behalf (they asked by letter or phone): checked, confirmed, audited."""
    person = _user_or_404(user_id)
    require("users.erase", person)
    form = EraseForm()
    if not confirmed():
        if not apply(form, lambda: erasure.check_erase(person, by=current_user)):
            return _user_page(person, status=422)
        return ask(_erase_question(person))
    outcome = apply(form, lambda: erasure.erase(person, by=current_user))
    if not outcome:
        return _user_page(person, status=422)
    remove_files(outcome.result[1])
    return done(_user_url(person), f"Their data is erased. They are now {outcome.result[0]}.")


def _erase_question(person: User) -> Confirmation:
    return Confirmation(
        title=f"Erase {person.name}'s data?",
        will=[
            f"This will erase everything the portal holds about {person.name} ({person.email}), as they asked.",
            *ERASES,
            "Their account ends at once. They are not emailed, because their address is erased too.",
        ],
        stays=KEPT,
        button="Yes, erase their data",
        action=url_for("admin.erase", user_id=person.id),
        cancel=_user_url(person),
        cancel_label="No, keep their data",
    )


@bp.route("/users/<int:user_id>/reactivate", methods=["POST"])
@permission_required("users.manage")
def reactivate(user_id: int) -> Response:
    person = _user_or_404(user_id)
    require("users.deactivate", person)
    if not ReactivateForm().validate_on_submit():
        abort(400)
    outcome = apply(None, lambda: services.reactivate(person, by=current_user))
    return done(_user_url(person), f"{person.name}'s account is open again." if outcome else None)


@bp.route("/users/<int:user_id>/two-factor/reset", methods=["POST"])
@permission_required("users.manage")
def reset_two_factor(user_id: int) -> Response:
    """A lost device: remove the person's second factor, sign them out everywhere, email them."""
    person = _user_or_404(user_id)
    require("users.reset_two_factor", person)
    if not ResetTwoFactorForm().validate_on_submit():
        abort(400)
    outcome = apply(None, lambda: two_factor.admin_reset(person, by=current_user))
    message = f"{person.name}'s two-factor sign-in has been removed, and they have been emailed." if outcome else None
    return done(_user_url(person), message)


@bp.route("/audit")
@permission_required("audit.read")
def audit_log() -> Response:
    form = AuditFilterForm(request.args)
    form.action.choices = choices([("", "Any action"), *[(a, a) for a in audit.known_actions()]])
    form.validate()
    actor_id = whole_number(request.args.get("actor"))
    query = audit.entries_query(
        action=form.action.data or "", object_type=form.object_type.data or "", actor_id=actor_id
    )
    # Newest first, a page at a time by (when, id): no OFFSET, and a count that stops at a thousand.
    page = keyset_page(query, audit.AuditEntry.created_at, audit.AuditEntry.id, descending=True)
    total, more = capped_count(query)
    return render("admin/audit.html", block="results", form=form, page=page, total=total, more=more, title="Audit log")

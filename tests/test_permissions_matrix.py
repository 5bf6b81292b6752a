"""Every route as every role: allowed or refused exactly as the permissions module says."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask

from portal.accounts import services
from portal.core import permissions, schedule
from portal.core.db import utcnow
from portal.core.extensions import db

ROLES = ("anonymous", "member", "staff", "finance", "admin")
EVERYONE = set(ROLES)
SIGNED_IN = {"member", "staff", "finance", "admin"}
STAFF = {"staff", "finance", "admin"}
FINANCE = {"finance", "admin"}
ADMIN = {"admin"}

# endpoint -> (method, roles allowed). A new route fails ``test_every_route_is_in_the_matrix``
# until it is added here.
EXPECTED: dict[str, tuple[str, set[str]]] = {
    "main.home": ("GET", EVERYONE),
    "main.healthz": ("GET", EVERYONE),
    "main.dashboard": ("GET", SIGNED_IN),
    "accounts.sign_up": ("GET", EVERYONE),
    "accounts.sign_in": ("GET", EVERYONE),
    "accounts.sign_out": ("POST", EVERYONE),
    "accounts.forgot_password": ("GET", EVERYONE),
    "accounts.reset_password": ("GET", EVERYONE),
    "accounts.profile": ("GET", SIGNED_IN),
    "accounts.change_password": ("GET", SIGNED_IN),
    "accounts.verify_email": ("GET", EVERYONE),
    "accounts.resend_verification": ("POST", SIGNED_IN),
    "accounts.change_email": ("GET", SIGNED_IN),
    "accounts.two_factor_code": ("GET", EVERYONE),
    "accounts.two_factor_set_up": ("GET", SIGNED_IN),
    "accounts.two_factor_settings": ("GET", SIGNED_IN),
    "accounts.new_recovery_codes": ("POST", SIGNED_IN),
    "accounts.turn_off_two_factor": ("POST", SIGNED_IN),
    "accounts.sessions_page": ("GET", SIGNED_IN),
    "accounts.end_session": ("POST", SIGNED_IN),
    "accounts.end_other_sessions": ("POST", SIGNED_IN),
    "accounts.close_account": ("GET", SIGNED_IN),
    "accounts.my_data_page": ("GET", SIGNED_IN),
    "accounts.erase_me": ("GET", SIGNED_IN),
    "accounts.erased": ("GET", EVERYONE),
    "admin.users": ("GET", ADMIN),
    "admin.user": ("GET", ADMIN),
    "admin.change_role": ("POST", ADMIN),
    "admin.deactivate": ("POST", ADMIN),
    "admin.erase": ("POST", ADMIN),
    "admin.reactivate": ("POST", ADMIN),
    "admin.reset_two_factor": ("POST", ADMIN),
    "admin.audit_log": ("GET", ADMIN),
    "admin.jobs": ("GET", STAFF),
    "admin.job": ("GET", STAFF),
    "admin.run_job": ("POST", STAFF),
    "admin.failed_emails": ("GET", STAFF),
    "admin.send_email_again": ("POST", STAFF),
    "admin.send_all_emails_again": ("POST", STAFF),
    # remuneration: claimant pages (object rules on a real claim are tested in the remuneration tests)
    "remuneration.payments": ("GET", SIGNED_IN),
    "remuneration.preferences": ("GET", SIGNED_IN),
    "remuneration.statement": ("GET", SIGNED_IN),
    "remuneration.new_claim": ("GET", SIGNED_IN),
    "remuneration.claim": ("GET", SIGNED_IN),
    "remuneration.edit_claim": ("GET", SIGNED_IN),
    "remuneration.add_expense": ("POST", SIGNED_IN),
    "remuneration.remove_expense": ("POST", SIGNED_IN),
    "remuneration.receipt": ("GET", SIGNED_IN),
    "remuneration.submit_claim": ("POST", SIGNED_IN),
    "remuneration.confirmations": ("GET", SIGNED_IN),
    "remuneration.confirm_claim": ("POST", SIGNED_IN),
    "remuneration.query_claim": ("POST", SIGNED_IN),
    "remuneration.void_claim": ("POST", SIGNED_IN),
    "remuneration.queue": ("GET", STAFF),
    "remuneration.approve_claim": ("POST", STAFF),
    "remuneration.reject_claim": ("POST", STAFF),
    "remuneration.staff_dashboard": ("GET", STAFF),
    "remuneration.finance_dashboard": ("GET", FINANCE),
    "remuneration.batches": ("GET", FINANCE),
    "remuneration.create_batch": ("POST", FINANCE),
    "remuneration.batch": ("GET", FINANCE),
    "remuneration.batch_csv": ("GET", FINANCE),
    "remuneration.claims_export": ("GET", FINANCE),
    "remuneration.mark_batch_paid": ("POST", FINANCE),
    "remuneration.carry_on_run": ("POST", FINANCE),
    "remuneration.payee": ("GET", FINANCE),
    "remuneration.rates": ("GET", ADMIN),
    "remuneration.add_activity": ("POST", ADMIN),
    "remuneration.set_rate": ("POST", ADMIN),
    # grants: phases, applications, panel review, decisions
    "grants.phase_list": ("GET", EVERYONE),
    "grants.phase": ("GET", EVERYONE),
    "grants.start_application": ("POST", SIGNED_IN),
    "grants.my_applications": ("GET", SIGNED_IN),
    "grants.application": ("GET", SIGNED_IN),
    "grants.edit_application": ("GET", SIGNED_IN),
    "grants.add_budget_line": ("POST", SIGNED_IN),
    "grants.remove_budget_line": ("POST", SIGNED_IN),
    "grants.autosave_application": ("POST", SIGNED_IN),  # and then the applying team only, while a draft
    "grants.application_history": ("GET", SIGNED_IN),  # and then the applying team and staff only
    "grants.application_compare": ("GET", SIGNED_IN),
    "grants.invite": ("POST", SIGNED_IN),
    # teams: invitations and members (object rules on real teams: tests/test_invitations.py and
    # tests/test_team_management.py)
    "grants.invitation": ("GET", SIGNED_IN),
    "grants.accept_invitation": ("POST", SIGNED_IN),
    "grants.decline_invitation": ("POST", SIGNED_IN),
    "grants.withdraw_invitation": ("POST", SIGNED_IN),
    "grants.project_invite": ("POST", SIGNED_IN),
    "grants.application_member": ("GET", SIGNED_IN),
    "grants.application_member_remove": ("GET", SIGNED_IN),
    "grants.project_member": ("GET", SIGNED_IN),
    "grants.project_member_remove": ("GET", SIGNED_IN),
    "grants.submit_application": ("POST", SIGNED_IN),
    "grants.withdraw_application": ("POST", SIGNED_IN),
    "grants.my_reviews": ("GET", SIGNED_IN),
    "grants.review": ("GET", SIGNED_IN),
    "grants.save_criterion": ("POST", SIGNED_IN),
    "grants.declare_conflict": ("POST", SIGNED_IN),
    "grants.staff_phases": ("GET", STAFF),
    "grants.new_phase": ("GET", STAFF),
    "grants.edit_phase": ("GET", STAFF),
    "grants.move_phase": ("POST", STAFF),
    "grants.panel_applications": ("GET", STAFF),
    "grants.panel": ("GET", STAFF),
    "grants.remove_reviewer": ("POST", STAFF),
    "grants.decision": ("GET", STAFF),
    # grants: projects, reports, dashboards, public pilot pages, exports
    "grants.projects_mine": ("GET", SIGNED_IN),
    "grants.project": ("GET", SIGNED_IN),
    "grants.project_dates": ("POST", STAFF),
    "grants.project_schedule": ("POST", STAFF),
    "grants.project_milestone_add": ("POST", SIGNED_IN),
    "grants.project_milestone_mark": ("POST", SIGNED_IN),
    "grants.project_milestone_edit": ("GET", SIGNED_IN),  # and then the project's team only
    "grants.project_expense_add": ("POST", SIGNED_IN),
    "grants.project_expense_remove": ("POST", SIGNED_IN),
    "grants.project_report": ("GET", SIGNED_IN),
    "grants.project_report_edit": ("GET", SIGNED_IN),
    "grants.autosave_report": ("POST", SIGNED_IN),  # and then the project's team only
    "grants.project_report_decide": ("POST", STAFF),
    "grants.project_report_publish": ("POST", SIGNED_IN),
    "grants.report_history": ("GET", SIGNED_IN),  # and then the project's team and staff only
    "grants.report_compare": ("GET", SIGNED_IN),
    "grants.staff_reports": ("GET", STAFF),
    "grants.staff_grants_dashboard": ("GET", STAFF),
    "grants.export_applications_csv": ("GET", STAFF),
    "grants.export_projects_csv": ("GET", STAFF),
    "grants.pilots": ("GET", EVERYONE),
    "grants.pilot": ("GET", EVERYONE),
    # shared learning (object rules on real posts and comments: tests/test_learning_*.py)
    "learning.feed": ("GET", EVERYONE),
    "learning.post": ("GET", EVERYONE),
    "learning.new_post": ("GET", SIGNED_IN),
    "learning.edit_post": ("GET", SIGNED_IN),
    "learning.delete_post": ("POST", SIGNED_IN),
    "learning.add_comment": ("POST", SIGNED_IN),
    "learning.edit_comment": ("GET", SIGNED_IN),
    "learning.delete_comment": ("POST", SIGNED_IN),
    "learning.validate_post": ("POST", SIGNED_IN),
    "learning.validate_comment": ("POST", SIGNED_IN),
    "learning.post_validators": ("GET", SIGNED_IN),
    "learning.comment_validators": ("GET", SIGNED_IN),
    "learning.flag_post": ("GET", SIGNED_IN),
    "learning.flag_comment": ("GET", SIGNED_IN),
    "learning.moderation": ("GET", STAFF),
    "learning.moderate_post": ("POST", STAFF),
    "learning.moderate_comment": ("POST", STAFF),
    "learning.moderation_settings": ("POST", STAFF),
    # notifications and search
    "notifications.inbox": ("GET", SIGNED_IN),
    "notifications.open": ("GET", SIGNED_IN),
    "notifications.mark_all_read": ("POST", SIGNED_IN),
    "notifications.settings": ("GET", SIGNED_IN),
    "search.search": ("GET", EVERYONE),
    # calendar feeds: the page for one's own link; the feeds need no sign-in (a private feed's
    # secret address is its authority: an unknown one is 404 for everyone, see tests/test_calendar.py)
    "calendar.page": ("GET", SIGNED_IN),
    "calendar.make_link": ("POST", SIGNED_IN),
    "calendar.turn_off": ("POST", SIGNED_IN),
    "calendar.private_feed": ("GET", EVERYONE),
    "calendar.public_feed": ("GET", EVERYONE),
    # gatherings (organiser-only pages check the gathering itself: see tests/test_gatherings_pages.py)
    "gatherings.upcoming": ("GET", SIGNED_IN),
    "gatherings.past": ("GET", SIGNED_IN),
    "gatherings.new": ("GET", STAFF),  # and pilot leads, who are members: see the gatherings tests
    "gatherings.gathering": ("GET", SIGNED_IN),
    "gatherings.edit": ("GET", SIGNED_IN),
    "gatherings.rsvp": ("POST", SIGNED_IN),
    "gatherings.cancel_rsvp": ("POST", SIGNED_IN),
    "gatherings.calendar": ("GET", SIGNED_IN),
    "gatherings.people": ("GET", SIGNED_IN),
    "gatherings.attendance": ("POST", SIGNED_IN),
    # the directory and messages between members
    "people.directory": ("GET", SIGNED_IN),
    "people.my_entry": ("GET", SIGNED_IN),
    "people.entry": ("GET", SIGNED_IN),
    "people.send_message": ("POST", SIGNED_IN),
    "people.messages": ("GET", SIGNED_IN),
    "people.message": ("GET", SIGNED_IN),
    "people.read_message": ("POST", SIGNED_IN),
    "people.reply": ("POST", SIGNED_IN),
    # safeguarding: blocks and reports (members), the reports queue and suspensions (staff);
    # object rules on real people and messages: tests/test_safeguarding.py
    "people.block": ("POST", SIGNED_IN),
    "people.blocked": ("GET", SIGNED_IN),
    "people.unblock": ("POST", SIGNED_IN),
    "people.report_member": ("GET", SIGNED_IN),  # yourself: 404, like anyone you cannot come across
    "people.report_message": ("GET", SIGNED_IN),
    "people.reports": ("GET", STAFF),
    "people.report": ("GET", STAFF),
    "people.dismiss_report": ("POST", STAFF),
    "people.suspend_from_report": ("POST", STAFF),
    "people.suspended": ("GET", STAFF),
    "people.lift_suspension": ("POST", STAFF),
    # community storytellers (object rules on real stories: tests/test_stories_visibility.py)
    "stories.library_page": ("GET", EVERYONE),
    "stories.story": ("GET", EVERYONE),
    "stories.story_media": ("GET", EVERYONE),
    "stories.storyteller_page": ("GET", EVERYONE),
    "stories.feed": ("GET", EVERYONE),
    "stories.summary_page": ("GET", EVERYONE),
    "stories.mine": ("GET", SIGNED_IN),
    "stories.tell": ("GET", SIGNED_IN),
    "stories.edit": ("GET", SIGNED_IN),
    "stories.withdraw": ("POST", SIGNED_IN),
    "stories.my_record": ("GET", SIGNED_IN),
    "stories.storyteller": ("GET", SIGNED_IN),
    "stories.withdraw_demographics": ("POST", SIGNED_IN),
    "stories.story_history": ("GET", SIGNED_IN),  # and then the storyteller and staff only
    "stories.story_compare": ("GET", SIGNED_IN),
    "stories.approval_page": ("GET", SIGNED_IN),  # and then the storyteller only, while it waits
    "stories.ask_setting": ("POST", SIGNED_IN),
    "stories.queue": ("GET", STAFF),
    "stories.moderate": ("GET", STAFF),
    "stories.moderate_edit": ("POST", STAFF),
    "stories.moderate_decide": ("POST", STAFF),
    "stories.feature": ("POST", STAFF),
    "stories.storytellers": ("GET", STAFF),
    "stories.new_storyteller": ("GET", STAFF),
    "stories.tell_for": ("GET", STAFF),
    "stories.import_storytellers": ("GET", STAFF),
    "stories.import_template": ("GET", STAFF),
    "stories.export_stories": ("GET", STAFF),
    "stories.export_summary": ("GET", STAFF),
}


def _url_for_rule(app: Flask, endpoint: str, users: dict[str, Any]) -> str:
    rule = next(r for r in app.url_map.iter_rules() if r.endpoint == endpoint)
    values: dict[str, Any] = {}
    if "user_id" in rule.arguments:
        values["user_id"] = users["member"].id
    for name in rule.arguments - {"user_id", "token"}:
        values[name] = 999_999  # no such object: signed-in roles get 404, visitors the sign-in page
    if "token" in rule.arguments:
        values["token"] = services.start_password_reset(
            users["member"].email, base_url="http://portal.test", valid_minutes=60
        )
        db.session.commit()
    with app.test_request_context():
        from flask import url_for

        return url_for(endpoint, **values)


def test_every_route_is_in_the_matrix(app: Flask) -> None:
    endpoints = {r.endpoint for r in app.url_map.iter_rules() if r.endpoint != "static"}
    assert endpoints == set(EXPECTED)


def test_every_view_declares_its_permission(app: Flask) -> None:
    for endpoint, view in app.view_functions.items():
        if endpoint == "static":
            continue
        declared = getattr(view, "permission", None)
        assert declared is not None, f"{endpoint} has no @public or @permission_required"
        assert declared == permissions.PUBLIC or declared in permissions.RULES


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("endpoint", sorted(EXPECTED))
def test_route_allows_or_refuses_role(
    app: Flask, users: dict[str, Any], as_role: Any, endpoint: str, role: str
) -> None:
    method, allowed = EXPECTED[endpoint]
    client = as_role(role)
    url = _url_for_rule(app, endpoint, users)
    if endpoint == "main.healthz":
        schedule.beat(utcnow())  # healthy means a worker ticked lately; without one it is an honest 503
    response = client.open(url, method=method, data={})
    location = response.headers.get("Location", "")
    refused_as_visitor = response.status_code in (302, 303) and "/account/sign-in" in location
    if role in allowed:
        assert response.status_code != 403 and not refused_as_visitor, (endpoint, role, response.status_code)
        assert response.status_code < 500
    elif role == "anonymous":
        assert refused_as_visitor, (endpoint, response.status_code, location)
    else:
        assert response.status_code == 403, (endpoint, role, response.status_code)

    # The table above and the permissions module agree.
    declared = app.view_functions[endpoint].permission
    if declared != permissions.PUBLIC:
        user = users.get(role)
        assert permissions.can(user, declared) == (role in allowed)


def test_admin_cannot_change_own_role_or_close_own_account(as_role: Any, users: dict[str, Any]) -> None:
    admin = as_role("admin")
    own = users["admin"].id
    assert admin.post(f"/admin/users/{own}/role", data={"role": "member"}).status_code == 403
    assert admin.post(f"/admin/users/{own}/deactivate", data={}).status_code == 403


def test_project_team_rules(app: Flask, users: dict[str, Any]) -> None:
    from tests import factories

    lead, member, outsider = factories.user(), factories.user(), users["member"]
    project = factories.project(lead=lead, members=(member,))
    other = factories.project(title="Another team's project", lead=outsider)
    assert permissions.can(lead, "project.lead", project)
    assert permissions.can(member, "project.work_on", project)
    assert not permissions.can(member, "project.lead", project)
    assert not permissions.can(outsider, "project.work_on", project)
    assert not permissions.can(lead, "project.work_on", other)  # no reaching into another team
    assert not permissions.can(users["staff"], "project.work_on", project)

"""Nothing the team or staff write on a pilot project is lost or silently overwritten (issue 11):
progress reports, projects, milestones and phases carry a version, so a save from a stale page
is refused with both versions shown and the person's own text kept; a refused report send keeps
what was typed as the draft; a report is decided once, however many staff press at once; and the
report's saved versions, for its team and staff only."""

from __future__ import annotations

import re
import threading
from datetime import UTC, date, datetime
from html import unescape
from typing import Any

import pytest
import sqlalchemy as sa

from portal.accounts.models import User
from portal.core.audit import AuditEntry
from portal.core.changes import apply
from portal.core.extensions import db
from portal.core.outbox import OutboxMessage
from portal.core.revisions import Revision
from portal.grants import reports
from portal.grants.models import Milestone, Phase, PhaseState, ProgressReport, ProjectStatus, ReportState
from portal.teams.models import Project
from tests import factories
from tests.helpers import client_for
from tests.test_grants_projects_reports import FULL, due_reports, funded_project

NOW = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)
TIMEOUT = 60


@pytest.fixture
def team(users: dict[str, Any]) -> dict[str, Any]:
    lead, member = factories.user(name="Lead Person"), factories.user(name="Team Member")
    project = funded_project(users["staff"], lead, (member,))
    return {"lead": lead, "member": member, "project": project, "report": due_reports(project)[0]}


def _text(response: Any) -> str:
    return unescape(response.get_data(as_text=True))


def _conflict(text: str) -> str:
    """The conflict panel of a page: who saved first, and both versions."""
    assert 'id="edit-conflict"' in text, "no conflict panel on the page"
    return text.split('id="edit-conflict"')[1].split("</section>")[0]


def _fresh(model: Any, record_id: int) -> Any:
    db.session.expire_all()
    return db.session.get_one(model, record_id)


def _report_form(report: ProgressReport, **changes: Any) -> dict[str, Any]:
    """The report form as the page shows it now (the version it was opened at included)."""
    return {
        "period_start": report.period_start.isoformat() if report.period_start else "",
        "period_end": report.period_end.isoformat() if report.period_end else "",
        "what_happened": report.what_happened,
        "what_changed": report.what_changed,
        "what_we_learned": report.what_we_learned,
        "challenges": report.challenges,
        "stages": list(report.stages),
        "values": list(report.values),
        "status": report.status.value if report.status else "",
        "version": str(report.version),
        "action": "save",
        **changes,
    }


def _audit(action: str) -> list[AuditEntry]:
    return list(db.session.scalars(sa.select(AuditEntry).where(AuditEntry.action == action)))


# --- progress reports: two people, one draft -------------------------------------------------


def test_two_team_members_save_one_report_and_the_second_is_refused_with_both_versions(
    app: Any, team: dict[str, Any]
) -> None:
    project, report = team["project"], team["report"]
    url = f"/projects/{project.id}/reports/{report.id}/edit"
    lead, member = client_for(app, team["lead"]), client_for(app, team["member"])
    assert 'name="version" type="hidden" value="1"' in lead.get(url).get_data(as_text=True)
    opened = _report_form(report)  # both open the draft at the same version
    first = "We ran two walks with twelve people."
    theirs = "We ran one long walk and a picnic."
    assert lead.post(url, data={**opened, "what_happened": first}).status_code == 303

    refused = member.post(url, data={**opened, "what_happened": theirs, "challenges": "Rain"})
    text = _text(refused)
    assert refused.status_code == 422
    conflict = _conflict(text)
    assert "This was changed by Lead Person on" in conflict and "since you opened it" in conflict
    assert first in conflict and theirs in conflict  # the saved version beside theirs
    now = _fresh(ProgressReport, report.id)
    assert now.what_happened == first and now.challenges == ""  # nothing of the second save was kept
    box = text.split('name="what_happened"')[1].split("</textarea>")[0]
    assert theirs in box  # their own text stays in the form to merge
    assert f'name="version" type="hidden" value="{now.version}"' in text  # the form moved on: saving works

    merged = member.post(url, data={**_report_form(now), "what_happened": first + " " + theirs, "challenges": "Rain"})
    assert merged.status_code == 303
    now = _fresh(ProgressReport, report.id)
    assert now.what_happened == first + " " + theirs and now.challenges == "Rain"
    assert now.changed_by_id == team["member"].id


def test_a_stale_report_save_with_htmx_shows_the_conflict_in_the_page_it_swaps_in(
    app: Any, team: dict[str, Any]
) -> None:
    project, report = team["project"], team["report"]
    url = f"/projects/{project.id}/reports/{report.id}/edit"
    opened = _report_form(report)
    lead, member = client_for(app, team["lead"]), client_for(app, team["member"])
    assert 'hx-select="#main"' in lead.get(url).get_data(as_text=True)  # the form is enhanced
    assert lead.post(url, data={**opened, "what_changed": "Members chose the venue."}).status_code == 303
    refused = member.post(url, data={**opened, "what_changed": "We chose it."}, headers={"HX-Request": "true"})
    text = _text(refused)
    # The page with its <main>, which the form's hx-select swaps in place of the old one (a 200:
    # htmx takes a 4xx for an error), and nothing saved.
    assert refused.status_code == 200 and '<main id="main"' in text
    assert "Members chose the venue." in _conflict(text) and "We chose it." in _conflict(text)
    assert _fresh(ProgressReport, report.id).what_changed == "Members chose the venue."
    saved = lead.post(url, data={**_report_form(_fresh(ProgressReport, report.id))}, headers={"HX-Request": "true"})
    assert saved.status_code == 204 and saved.headers["HX-Redirect"].endswith(url)  # a save answers htmx too


def test_a_report_sent_by_someone_else_keeps_the_late_writer_s_text_on_the_page(app: Any, team: dict[str, Any]) -> None:
    project, report = team["project"], team["report"]
    url = f"/projects/{project.id}/reports/{report.id}/edit"
    opened = _report_form(report)
    reports.submit_report(report, FULL, by=team["lead"], now=NOW)
    db.session.commit()
    late = client_for(app, team["member"]).post(url, data={**opened, "what_we_learned": "My late thoughts"})
    text = _text(late)
    assert late.status_code == 422 and "My late thoughts" in text and "Pay people on the day." in _conflict(text)
    assert _fresh(ProgressReport, report.id).what_we_learned == FULL.what_we_learned


# --- a refused send keeps what was typed -------------------------------------------------------


def test_a_refused_send_keeps_every_field_as_the_draft_and_shows_what_is_missing(
    app: Any, team: dict[str, Any]
) -> None:
    project, report = team["project"], team["report"]
    url = f"/projects/{project.id}/reports/{report.id}/edit"
    client = client_for(app, team["member"])
    typed = {
        **_report_form(report),
        "action": "submit",
        "period_start": "2026-02-01",
        "period_end": "2026-02-28",
        "what_happened": "Two co-design workshops.",
        "what_changed": "",  # missing: the send is refused
        "what_we_learned": "Pay people on the day.",
        "challenges": "Travel costs.",
        "stages": ["co_design", "co_delivery"],
        "values": ["respect", "accessibility"],
        "status": "some_concerns",
    }
    refused = client.post(url, data=typed)
    text = _text(refused)
    assert refused.status_code == 422
    assert "Say what changed, for people or for the way you work." in text
    assert "What you wrote is saved as a draft" in text
    saved = _fresh(ProgressReport, report.id)
    assert saved.state == ReportState.DRAFT and saved.submitted_at is None
    assert (saved.period_start, saved.period_end) == (date(2026, 2, 1), date(2026, 2, 28))
    assert saved.what_happened == "Two co-design workshops." and saved.what_we_learned == "Pay people on the day."
    assert saved.challenges == "Travel costs." and saved.status == ProjectStatus.SOME_CONCERNS
    assert saved.stages == ["co_design", "co_delivery"] and saved.values == ["accessibility", "respect"]
    assert _audit("report.submitted") == [] and db.session.scalar(sa.select(sa.func.count(OutboxMessage.id))) == 0
    # The form is at the saved version, so sending it again once complete is not taken for a conflict.
    assert f'name="version" type="hidden" value="{saved.version}"' in text
    sent = client.post(url, data={**typed, "version": str(saved.version), "what_changed": "Members chose."})
    assert sent.status_code == 303
    assert _fresh(ProgressReport, report.id).state == ReportState.SUBMITTED


def test_a_refused_send_keeps_what_a_draft_can_hold_and_the_rest_stays_in_the_form(
    app: Any, team: dict[str, Any]
) -> None:
    project, report = team["project"], team["report"]
    url = f"/projects/{project.id}/reports/{report.id}/edit"
    before = (report.period_start, report.period_end)
    typed = {
        **_report_form(report),
        "action": "submit",
        "period_start": "2026-02-28",
        "period_end": "2026-02-01",  # before its start: not even a draft can hold this period
        "what_happened": "Walks.",
    }
    refused = client_for(app, team["lead"]).post(url, data=typed)
    text = _text(refused)
    assert refused.status_code == 422 and "The end of the period must be on or after its start." in text
    assert 'value="2026-02-01"' in text and 'value="2026-02-28"' in text  # as typed, to correct
    saved = _fresh(ProgressReport, report.id)
    assert saved.what_happened == "Walks." and saved.state == ReportState.DRAFT
    assert (saved.period_start, saved.period_end) == before


# --- deciding a report once ----------------------------------------------------------------------


def _sent(team: dict[str, Any]) -> ProgressReport:
    report = team["report"]
    reports.submit_report(report, FULL, by=team["lead"], now=NOW)
    db.session.commit()
    return report


def test_a_decision_from_a_stale_page_is_refused_and_the_report_is_decided_once(
    app: Any, as_role: Any, users: dict[str, Any], team: dict[str, Any]
) -> None:
    report, project = _sent(team), team["project"]
    page = f"/projects/{project.id}/reports/{report.id}"
    first, second = as_role("staff"), as_role("admin")
    opened = re.search(r'name="version" type="hidden" value="(\d+)"', first.get(page).get_data(as_text=True))
    assert opened is not None and opened.group(1) == str(report.version)
    decide = f"{page}/decision"
    assert first.post(decide, data={"decision": "accept", "version": opened.group(1)}).status_code == 303
    twice = second.post(decide, data={"decision": "changes", "feedback": "More, please", "version": opened.group(1)})
    text = _text(twice)
    assert twice.status_code == 422
    assert f"This was changed by {users['staff'].name} on" in text and "Nothing was decided" in text
    now = _fresh(ProgressReport, report.id)
    assert now.state == ReportState.ACCEPTED and now.decided_by_id == users["staff"].id and now.feedback == ""
    assert len(_audit("report.accepted")) == 1 and _audit("report.changes_requested") == []


def test_a_decision_on_a_report_sent_again_since_the_page_was_opened_is_refused(
    app: Any, as_role: Any, users: dict[str, Any], team: dict[str, Any]
) -> None:
    """Without the version, this accept would go through: the report is "sent" again, but not
    with the words the staff member read."""
    report, project = _sent(team), team["project"]
    read_at = report.version
    reports.request_changes(report, by=users["admin"], now=NOW, feedback="Say more.")
    reports.submit_report(
        report, reports.ReportContent(**{**FULL.__dict__, "what_changed": "New words"}), by=team["lead"], now=NOW
    )
    db.session.commit()
    stale = as_role("staff").post(
        f"/projects/{project.id}/reports/{report.id}/decision", data={"decision": "accept", "version": str(read_at)}
    )
    assert stale.status_code == 422 and "Nothing was decided" in _text(stale)
    assert _fresh(ProgressReport, report.id).state == ReportState.SUBMITTED and _audit("report.accepted") == []


def test_two_staff_deciding_one_report_at_the_same_moment_decide_it_once(
    app: Any, users: dict[str, Any], team: dict[str, Any]
) -> None:
    """Both read the report, then both decide at once, each in its own thread and connection.
    One decision is kept; the other is refused (at commit, by the version), never a 500."""
    report_id = _sent(team).id
    # Read in this thread: after the rollback, users[...].id would load on this thread's session
    # from both threads at once.
    people = {role: users[role].id for role in ("staff", "admin")}
    db.session.rollback()
    start = threading.Barrier(2)
    outcomes: dict[str, str] = {}
    errors: list[BaseException] = []

    def decide(role: str) -> None:
        with app.test_request_context():
            try:
                report = db.session.get_one(ProgressReport, report_id)
                person = db.session.get_one(User, people[role])
                seen = report.version
                db.session.commit()  # nothing held at the barrier
                start.wait(TIMEOUT)
                if role == "staff":
                    outcome = apply(
                        None, lambda: reports.accept_report(report, by=person, now=NOW, seen=seen), show_errors=False
                    )
                else:
                    outcome = apply(
                        None,
                        lambda: reports.request_changes(report, by=person, now=NOW, feedback="More", seen=seen),
                        show_errors=False,
                    )
                outcomes[role] = "decided" if outcome else "refused"
            except BaseException as error:
                errors.append(error)
            finally:
                db.session.remove()

    threads = [threading.Thread(target=decide, args=(role,)) for role in ("staff", "admin")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(TIMEOUT * 2)
    assert not errors, errors
    assert sorted(outcomes.values()) == ["decided", "refused"]
    report = _fresh(ProgressReport, report_id)
    decisions = _audit("report.accepted") + _audit("report.changes_requested")
    assert len(decisions) == 1 and decisions[0].actor_id == report.decided_by_id
    winner = next(role for role, outcome in outcomes.items() if outcome == "decided")
    assert report.decided_by_id == users[winner].id
    assert report.state == (ReportState.ACCEPTED if winner == "staff" else ReportState.CHANGES_REQUESTED)
    told = set(db.session.scalars(sa.select(OutboxMessage.kind).where(OutboxMessage.kind.like("report_%"))))
    assert told == {"report_submitted", "report_accepted" if winner == "staff" else "report_changes"}


# --- projects, milestones, phases ----------------------------------------------------------------


def test_two_staff_change_a_project_s_dates_and_the_second_is_refused_with_both(
    app: Any, as_role: Any, users: dict[str, Any], team: dict[str, Any]
) -> None:
    project = team["project"]
    url = f"/projects/{project.id}/dates"
    page = as_role("staff").get(f"/projects/{project.id}").get_data(as_text=True)
    assert f'name="version" type="hidden" value="{project.version}"' in page
    opened = str(project.version)
    first, second = as_role("staff"), as_role("admin")
    moved = {"start_date": "2026-02-01", "end_date": "2026-09-30", "version": opened}
    assert first.post(url, data=moved).status_code == 303
    refused = second.post(url, data={"start_date": "2026-01-31", "end_date": "2026-10-31", "version": opened})
    text = _text(refused)
    assert refused.status_code == 422
    conflict = _conflict(text)
    assert f"This was changed by {users['staff'].name}" in conflict
    assert "2026-09-30" in conflict and "2026-10-31" in conflict
    assert 'value="2026-10-31"' in text.split('id="change-dates-title"')[1]  # their dates stay in the form
    now = _fresh(Project, project.id)
    assert (now.start_date, now.end_date) == (date(2026, 2, 1), date(2026, 9, 30))
    assert len(_audit("project.dates_changed")) == 1


def test_a_stale_schedule_form_is_refused(app: Any, as_role: Any, team: dict[str, Any]) -> None:
    project = team["project"]
    opened = str(project.version)
    url = f"/projects/{project.id}/schedule"
    assert as_role("staff").post(url, data={"kind": "monthly", "version": opened}).status_code == 303
    refused = as_role("admin").post(url, data={"kind": "custom", "custom_dates-0": "2026-04-01", "version": opened})
    assert refused.status_code == 422 and "Every month" in _conflict(_text(refused))
    assert len(due_reports(project)) == 7  # still monthly: February to August


def test_two_team_members_change_one_milestone_and_the_second_is_refused_with_both(
    app: Any, team: dict[str, Any]
) -> None:
    project = team["project"]
    lead, member = client_for(app, team["lead"]), client_for(app, team["member"])
    assert (
        lead.post(f"/projects/{project.id}/milestones", data={"title": "Walk one", "due_on": "2026-03-01"}).status_code
        == 303
    )
    milestone = db.session.scalar(sa.select(Milestone))
    url = f"/projects/{project.id}/milestones/{milestone.id}/edit"
    form = lead.get(url).get_data(as_text=True)
    assert 'value="Walk one"' in form and f'name="version" type="hidden" value="{milestone.version}"' in form
    opened = str(milestone.version)
    assert (
        lead.post(url, data={"title": "First birdsong walk", "due_on": "2026-03-01", "version": opened}).status_code
        == 303
    )
    refused = member.post(url, data={"title": "Walk one, by the river", "due_on": "2026-03-08", "version": opened})
    text = _text(refused)
    assert refused.status_code == 422
    conflict = _conflict(text)
    assert "Lead Person" in conflict and "First birdsong walk" in conflict and "Walk one, by the river" in conflict
    assert 'value="Walk one, by the river"' in text  # their text stays in the form
    now = _fresh(Milestone, milestone.id)
    assert now.title == "First birdsong walk" and now.due_on == date(2026, 3, 1)
    again = member.post(
        url, data={"title": "Walk one, by the river", "due_on": "2026-03-08", "version": str(now.version)}
    )
    assert again.status_code == 303 and _fresh(Milestone, milestone.id).title == "Walk one, by the river"
    outside = member.post(
        url, data={"title": "Late", "due_on": "2027-01-01", "version": str(_fresh(Milestone, milestone.id).version)}
    )
    assert outside.status_code == 422 and "while the project runs" in _text(outside)


def test_marking_a_milestone_from_a_stale_page_shows_who_changed_it(app: Any, team: dict[str, Any]) -> None:
    project = team["project"]
    lead, member = client_for(app, team["lead"]), client_for(app, team["member"])
    lead.post(f"/projects/{project.id}/milestones", data={"title": "Walk one", "due_on": "2026-03-01"})
    milestone = db.session.scalar(sa.select(Milestone))
    url = f"/projects/{project.id}/milestones/{milestone.id}/done"
    opened = str(milestone.version)
    assert lead.post(url, data={"done": "1", "version": opened}).status_code == 303
    # The same button pressed on the old page asks for what is already so: nothing to refuse.
    assert member.post(url, data={"done": "1", "version": opened}).status_code == 303
    # Undoing from the old page (which showed it not done) is refused: the lead marked it done since.
    stale = member.post(url, data={"done": "0", "version": opened}, headers={"HX-Request": "true"})
    text = _text(stale)
    assert stale.status_code == 200 and "<html" not in text and "Lead Person" in _conflict(text)
    assert _fresh(Milestone, milestone.id).done_on is not None
    assert len(_audit("milestone.done")) == 1 and _audit("milestone.reopened") == []


def _phase_form(phase: Phase, **changes: Any) -> dict[str, Any]:
    return {
        "name": phase.name,
        "summary": phase.summary,
        "eligibility": phase.eligibility,
        "max_award": "5000",
        "pot": "20000",
        "delivery_months": str(phase.delivery_months),
        "target_awards": str(phase.target_awards),
        "opens_on": phase.opens_on.isoformat(),
        "opens_time": "00:00",
        "closes_on": phase.closes_on.isoformat(),
        "closes_time": "23:59",
        "criterion_1_name": "Lived experience leads",
        "criterion_1_weight": "60",
        "version": str(phase.version),
        **changes,
    }


def test_two_staff_change_one_phase_and_the_second_is_refused_with_both(
    app: Any, as_role: Any, users: dict[str, Any]
) -> None:
    phase = factories.make_phase(state=PhaseState.DRAFT)
    url = f"/staff/phases/{phase.id}/edit"
    first, second = as_role("staff"), as_role("admin")
    assert f'name="version" type="hidden" value="{phase.version}"' in first.get(url).get_data(as_text=True)
    opened = _phase_form(phase)
    assert first.post(url, data={**opened, "summary": "Pilots led by carers."}).status_code == 303
    refused = second.post(url, data={**opened, "summary": "Pilots led by young people.", "target_awards": "6"})
    text = _text(refused)
    assert refused.status_code == 422
    conflict = _conflict(text)
    assert users["staff"].name in conflict and "Pilots led by carers." in conflict
    assert "Pilots led by young people." in conflict
    assert "Pilots led by young people." in text.split('name="summary"')[1].split("</textarea>")[0]
    now = _fresh(Phase, phase.id)
    assert now.summary == "Pilots led by carers." and now.target_awards == phase.target_awards
    # Changing only the criteria moves the phase's version on, so a stale form cannot undo them.
    version = now.version
    criteria = _phase_form(now, criterion_1_name="Led by lived experience")
    assert first.post(url, data=criteria).status_code == 303
    assert _fresh(Phase, phase.id).version > version
    assert second.post(url, data={**criteria, "criterion_1_name": "Old name"}).status_code == 422


# --- a report's saved versions ---------------------------------------------------------------


def _revisions(report_id: int) -> list[Revision]:
    return list(
        db.session.scalars(
            sa.select(Revision)
            .where(Revision.kind == "progress_reports", Revision.record_id == report_id)
            .order_by(Revision.version)
        )
    )


def test_each_save_is_kept_and_the_team_and_staff_compare_any_two(
    app: Any, as_role: Any, users: dict[str, Any], team: dict[str, Any]
) -> None:
    project, report = team["project"], team["report"]
    url = f"/projects/{project.id}/reports/{report.id}/edit"
    lead = client_for(app, team["lead"])
    lead.post(url, data=_report_form(report, what_happened="We walked by the river."))
    lead.post(url, data=_report_form(_fresh(ProgressReport, report.id), what_happened="We walked by the canal."))
    unchanged = lead.post(url, data=_report_form(_fresh(ProgressReport, report.id)))
    assert unchanged.status_code == 303
    first, second = _revisions(report.id)  # an unchanged save keeps no new version
    assert first.fields["what_happened"] == "We walked by the river." and first.by_id == team["lead"].id
    history = f"/projects/{project.id}/reports/{report.id}/history"
    compare = f"{history}/compare?from={first.id}&to={second.id}"
    assert history in lead.get(f"/projects/{project.id}/reports/{report.id}").get_data(as_text=True)
    for client in (lead, client_for(app, team["member"]), as_role("staff")):
        page = client.get(history)
        assert page.status_code == 200 and f'value="{first.id}"' in page.get_data(as_text=True)
        assert "Lead Person" in _text(page)
        compared = _text(client.get(compare))
        assert "[removed: </span>river." in compared and "[added: </span>canal." in compared
    outsider = as_role("member")  # signed in, on no team of this project
    assert outsider.get(history).status_code == 403 and outsider.get(compare).status_code == 403
    assert as_role("anonymous").get(history).status_code in (302, 303)
    assert as_role("staff").get(f"{history}/compare?from={first.id}&to=999999").status_code == 404
    assert as_role("staff").get(f"{history}/compare?from=x&to={second.id}").status_code == 404
    other = funded_project(users["staff"], factories.user(), title="Another pilot")
    other_report = due_reports(other)[0]
    assert lead.get(f"/projects/{other.id}/reports/{other_report.id}/history").status_code == 403
    # Another report's revision is not this report's: not found.
    assert (
        lead.get(
            f"/projects/{project.id}/reports/{due_reports(project)[1].id}/history/compare?from={first.id}&to={second.id}"
        ).status_code
        == 404
    )


def test_sending_is_a_saved_version_and_the_history_pages(app: Any, as_role: Any, team: dict[str, Any]) -> None:
    report = team["report"]
    for number in range(27):
        reports.save_draft(report, reports.ReportContent(what_happened=f"Draft {number}"), by=team["lead"])
        db.session.commit()
    reports.submit_report(report, FULL, by=team["member"], now=NOW)
    db.session.commit()
    kept = _revisions(report.id)
    assert len(kept) == 28 and kept[-1].fields["what_happened"] == FULL.what_happened
    assert kept[-1].fields["stage_labels"].startswith("Co-design")  # stages by their names, as people read them
    history = f"/projects/{team['project'].id}/reports/{report.id}/history"
    staff = as_role("staff")
    first_page, second_page = _text(staff.get(history)), _text(staff.get(f"{history}?page=2"))
    assert f'value="{kept[-1].id}"' in first_page and f'value="{kept[0].id}"' not in first_page
    assert f'value="{kept[0].id}"' in second_page and "Page 2 of 2" in second_page


# --- autosave of a report ----------------------------------------------------------------------


def test_report_autosave_saves_says_when_and_refuses_a_stale_version(app: Any, team: dict[str, Any]) -> None:
    project, report = team["project"], team["report"]
    page = client_for(app, team["lead"]).get(f"/projects/{project.id}/reports/{report.id}/edit")
    assert f'hx-post="/projects/{project.id}/reports/{report.id}/autosave"' in page.get_data(as_text=True)
    url = f"/projects/{project.id}/reports/{report.id}/autosave"
    opened = _report_form(report)
    theirs, mine = "We met in the library every Tuesday.", "We met at the café on Fridays."
    saved = client_for(app, team["lead"]).post(
        url, headers={"HX-Request": "true"}, data={**opened, "what_happened": theirs}
    )
    text = _text(saved)
    assert saved.status_code == 200 and re.search(r"Saved \d\d:\d\d", text)
    now = _fresh(ProgressReport, report.id)
    assert now.what_happened == theirs and now.state == report.state  # saved, not sent
    assert f'id="version" value="{now.version}" hx-swap-oob="true"' in text  # the next save carries it

    stale = client_for(app, team["member"]).post(
        url, headers={"HX-Request": "true"}, data={**opened, "what_happened": mine}
    )
    text = _text(stale)
    assert stale.status_code == 200 and not re.search(r"Saved \d", text)
    assert "This was changed by Lead Person" in text and theirs in text and mine in text
    assert 'id="autosave-mode" value="paused"' in text and "Save as draft" in text  # it stops by itself
    assert 'id="version"' not in text  # the form keeps its version: saving by hand shows the conflict page
    assert _fresh(ProgressReport, report.id).what_happened == theirs

    paused = client_for(app, team["member"]).post(
        url,
        headers={"HX-Request": "true"},
        data={**_report_form(_fresh(ProgressReport, report.id)), "what_happened": mine, "autosave": "paused"},
    )
    assert paused.status_code == 204 and _fresh(ProgressReport, report.id).what_happened == theirs


def test_report_autosave_is_for_the_team_only(app: Any, team: dict[str, Any], users: dict[str, Any]) -> None:
    project, report = team["project"], team["report"]
    url = f"/projects/{project.id}/reports/{report.id}/autosave"
    data = {**_report_form(report), "what_happened": "Not mine to write"}
    assert client_for(app, users["member"]).post(url, headers={"HX-Request": "true"}, data=data).status_code == 403
    assert _fresh(ProgressReport, report.id).what_happened == ""

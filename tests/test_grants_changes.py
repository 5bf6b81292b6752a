"""The grants views apply every change through ``core.changes``: a refused change keeps nothing,
its messages stand where the page shows them, and a change someone else made first is said so."""

from __future__ import annotations

import re
from datetime import date, timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.orm.exc import StaleDataError

from portal.core.errors import RuleBroken
from portal.core.extensions import db
from portal.core.formatting import london_today
from portal.grants import applications, projects, reviews
from portal.grants.models import (
    Application,
    ApplicationState,
    BudgetCategory,
    BudgetLine,
    Milestone,
    Phase,
    PhaseState,
    ProjectExpense,
    Recommendation,
)
from portal.grants.phases import criteria_of
from tests import factories
from tests.helpers import client_for as signed_in
from tests.test_grants_phases_applications import COMPLETE, count, make_application, make_phase, phase_form
from tests.test_grants_projects_reports import due_reports, funded_project
from tests.test_grants_reviews_decisions import assign, score_all


def field_error(page: str, field_id: str) -> str:
    """The message shown by one field of the page ('' when it has none)."""
    found = re.search(rf'id="{re.escape(field_id)}-error">(.*?)</p>', page, re.S)
    return found.group(1) if found else ""


@pytest.fixture
def draft(users: dict[str, Any]) -> Application:
    return make_application(make_phase(today=london_today()), users["member"], lines=(1_000_00,))


@pytest.fixture
def project_team(users: dict[str, Any]) -> dict[str, Any]:
    lead = factories.user(name="Lead Person")
    return {"lead": lead, "project": funded_project(users["staff"], lead)}


# --- a rule broken by the service ---------------------------------------------------------------


def test_a_rule_broken_by_the_service_keeps_nothing_and_stands_by_its_field(
    app: Any, as_role: Any, draft: Application, monkeypatch: pytest.MonkeyPatch
) -> None:
    def half_done(application: Application, details: Any, *, by: Any) -> None:
        application.title = "Changed, then refused"
        db.session.flush()  # written, then the rule breaks: none of it may be kept
        raise RuleBroken("summary", "That summary breaks a rule.")

    monkeypatch.setattr(applications, "update_application", half_done)
    response = as_role("member").post(f"/applications/{draft.id}/edit", data=COMPLETE.__dict__)
    page = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "That summary breaks a rule." in field_error(page, "summary")
    assert field_error(page, "title") == ""
    db.session.expire_all()
    assert db.session.get(Application, draft.id).title == "Peer-led recovery cafés"


def test_rules_about_no_field_are_in_the_summary_not_by_the_first_field(
    app: Any, as_role: Any, users: dict[str, Any]
) -> None:
    today = london_today()
    phase = make_phase(opens=today - timedelta(days=20), closes=today - timedelta(days=1), max_award=1_000_00)
    application = make_application(phase, users["member"], lines=(2_000_00,))
    response = as_role("member").post(f"/applications/{application.id}/submit", data={})
    page = response.get_data(as_text=True)
    assert response.status_code == 422
    # Each links to where it is on the page: the window's dates and the budget section.
    assert 'href="#window"' in page and 'href="#budget"' in page
    assert field_error(page, "title") == ""
    db.session.expire_all()
    assert db.session.get(Application, application.id).state == ApplicationState.DRAFT


def test_a_phase_without_criteria_is_told_so_by_the_first_criterion(app: Any, as_role: Any) -> None:
    blank = {f"criterion_{row}_{part}": "" for row in (1, 2) for part in ("name", "weight")}
    response = as_role("staff").post("/staff/phases/new", data=phase_form(**blank))
    page = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "Add at least one scoring criterion" in field_error(page, "criterion_1_name")
    assert field_error(page, "name") == ""
    assert count(Phase) == 0


def test_a_refused_custom_schedule_is_told_so_by_the_first_date(
    app: Any, as_role: Any, project_team: dict[str, Any]
) -> None:
    project = project_team["project"]
    before = [report.due_on for report in due_reports(project)]
    response = as_role("staff").post(f"/projects/{project.id}/schedule", data={"kind": "custom"})
    page = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "Enter at least one date" in field_error(page, "custom_dates-0")
    assert [report.due_on for report in due_reports(project)] == before


def test_an_incomplete_report_names_each_missing_field_by_itself(app: Any, project_team: dict[str, Any]) -> None:
    project = project_team["project"]
    report = due_reports(project)[0]
    client = signed_in(app, project_team["lead"])
    response = client.post(
        f"/projects/{project.id}/reports/{report.id}/edit", data={"action": "submit", "what_happened": "A walk"}
    )
    page = response.get_data(as_text=True)
    assert response.status_code == 422
    assert field_error(page, "what_happened") == ""
    assert "Say what you learned." in field_error(page, "what_we_learned")
    assert field_error(page, "what_changed") and field_error(page, "challenges")


def test_a_review_sent_already_says_why_in_the_summary(app: Any, users: dict[str, Any]) -> None:
    phase = make_phase(state=PhaseState.ASSESSING, criteria=(("Lived experience leads", 3), ("Realistic plan", 1)))
    application = make_application(phase, factories.user(), state=ApplicationState.UNDER_REVIEW)
    reviewer = factories.user(name="Reviewer One")
    assign(phase, reviewer)
    score_all(application, reviewer, (5, 4), Recommendation.FUND)
    first = criteria_of(phase.id)[0]
    client = signed_in(app, reviewer)
    response = client.post(f"/applications/{application.id}/review", data={f"score_{first.id}": "1", "action": "save"})
    page = response.get_data(as_text=True)
    assert response.status_code == 422
    assert 'href="#state"' in page and "already sent this review" in page
    assert field_error(page, f"score_{first.id}") == ""
    db.session.expire_all()
    assert reviews.scores_of(reviews.review_of(application.id, reviewer.id))[first.id].score == 5


# --- action buttons ----------------------------------------------------------------------------------


def test_an_action_refused_by_a_rule_is_the_422_page_and_keeps_nothing(
    app: Any, project_team: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    project, lead = project_team["project"], project_team["lead"]
    expense = projects.add_expense(
        project,
        spent_on=date(2026, 2, 3),
        category=BudgetCategory.VENUE,
        description="Room hire",
        amount_pence=4550,
        by=lead,
        today=date(2026, 3, 10),
    )
    db.session.commit()

    def half_done(project: Any, expense: ProjectExpense, *, by: Any) -> None:
        db.session.delete(expense)
        db.session.flush()
        raise RuleBroken("", "Spending from a closed month stays.")

    monkeypatch.setattr(projects, "remove_expense", half_done)
    response = signed_in(app, lead).post(f"/projects/{project.id}/expenses/{expense.id}/remove")
    assert response.status_code == 422 and "Spending from a closed month stays." in response.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(ProjectExpense, expense.id) is not None


def test_a_milestone_neither_done_nor_undone_is_a_bad_request(app: Any, project_team: dict[str, Any]) -> None:
    project = project_team["project"]
    milestone = projects.add_milestone(project, title="Walk one", due_on=date(2026, 3, 1), by=project_team["lead"])
    db.session.commit()
    client = signed_in(app, project_team["lead"])
    assert client.post(f"/projects/{project.id}/milestones/{milestone.id}/done", data={"done": "2"}).status_code == 400
    db.session.expire_all()
    assert db.session.get(Milestone, milestone.id).done_on is None


def test_starting_in_a_phase_that_is_not_open_says_why_once_and_starts_nothing(app: Any, as_role: Any) -> None:
    phase = make_phase(state=PhaseState.ASSESSING)
    response = as_role("member").post(f"/phases/{phase.id}/apply")
    page = response.get_data(as_text=True)
    assert response.status_code == 422
    assert page.count("This phase is not open for applications.") == 1  # on the page, not flashed as well
    assert count(Application) == 0


# --- someone else changed it first -------------------------------------------------------------------


def _someone_else_first(*args: Any, **kwargs: Any) -> None:
    raise StaleDataError("the row changed under us")


def test_a_draft_someone_else_saved_first_is_not_kept_and_the_page_says_so(
    app: Any, as_role: Any, draft: Application, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(applications, "update_application", _someone_else_first)
    lead = as_role("member")
    response = lead.post(f"/applications/{draft.id}/edit", data={**COMPLETE.__dict__, "title": "Mine"})
    assert response.status_code == 303
    assert response.headers["Location"].endswith(f"/applications/{draft.id}/edit")
    again = lead.get(response.headers["Location"]).get_data(as_text=True)
    assert "Someone else on your team changed this application" in again
    db.session.expire_all()
    assert db.session.get(Application, draft.id).title == "Peer-led recovery cafés"


def test_an_action_someone_else_got_to_first_is_refused_not_an_error(
    app: Any, as_role: Any, draft: Application, monkeypatch: pytest.MonkeyPatch
) -> None:
    line = db.session.scalars(sa.select(BudgetLine).where(BudgetLine.application_id == draft.id)).one()
    monkeypatch.setattr(applications, "remove_budget_line", _someone_else_first)
    response = as_role("member").post(f"/applications/{draft.id}/budget-lines/{line.id}/delete")
    assert response.status_code == 422 and "Someone else changed this" in response.get_data(as_text=True)
    assert count(BudgetLine) == 1


# --- htmx ------------------------------------------------------------------------------------------------


def test_fragments_say_they_vary_with_htmx_and_a_boosted_post_gets_the_page_flow(
    app: Any, project_team: dict[str, Any]
) -> None:
    project = project_team["project"]
    milestone = projects.add_milestone(project, title="Walk one", due_on=date(2026, 3, 1), by=project_team["lead"])
    db.session.commit()
    client = signed_in(app, project_team["lead"])
    url = f"/projects/{project.id}/milestones/{milestone.id}/done"
    fragment = client.post(url, data={"done": "1"}, headers={"HX-Request": "true"})
    assert fragment.status_code == 200 and "<html" not in fragment.get_data(as_text=True)
    assert "HX-Request" in fragment.headers["Vary"]
    boosted = client.post(url, data={"done": "0"}, headers={"HX-Request": "true", "HX-Boosted": "true"})
    assert boosted.status_code == 204
    assert boosted.headers["HX-Redirect"].endswith(f"/projects/{project.id}#milestones")

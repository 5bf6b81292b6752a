"""The grants journey in a real browser, each person in their own browser: staff open a phase,
a member applies and submits, a reviewer scores it (and is paid for it), staff award it, the
lead sends a progress report and staff accept it; the public sees the phase and the pilot.
Also the application form without JavaScript. Every page visited is checked with axe-core."""

from __future__ import annotations

import re
from datetime import date, timedelta
from typing import Any

import sqlalchemy as sa
from playwright.sync_api import expect

from portal.core import vocabulary
from portal.core.extensions import db
from portal.core.formatting import london_today
from portal.grants.models import Application, Criterion, Phase, PhaseState, ProgressReport
from portal.remuneration import rates
from portal.remuneration.models import Unit
from portal.teams.models import Project
from tests import factories
from tests.e2e.conftest import LiveServer, check_axe
from tests.e2e.helpers import assert_focused, press_and_wait, sign_in, tab_to
from tests.factories import make_phase

PHASE = "Phase 3 (2026)"
TITLE = "Peer-led recovery cafés"


def flashed(page: Any, text: str) -> None:
    expect(page.get_by_role("status").filter(has_text=text).first).to_be_visible()


def iso(day: date) -> str:
    return day.isoformat()


def fill_phase_form(page: Any, today: date, *, name: str) -> None:
    page.locator("#name").fill(name)
    page.locator("#summary").fill("Pilots that build co-production into health research.")
    page.locator("#eligibility").fill("Community groups with people with lived experience in the lead.")
    page.locator("#max_award").fill("5,000")
    page.locator("#pot").fill("20000")
    page.locator("#target_awards").fill("4")
    page.locator("#delivery_months").fill("6")
    page.locator("#opens_on").fill(iso(today - timedelta(days=1)))
    page.locator("#closes_on").fill(iso(today + timedelta(days=30)))
    page.locator("#criterion_1_name").fill("Lived experience leads")
    page.locator("#criterion_1_weight").fill("60")
    page.locator("#criterion_2_name").fill("Realistic plan")
    page.locator("#criterion_2_weight").fill("40")


def score(page: Any, criterion: Criterion, value: str, comment: str, *, comment_first: bool = False) -> None:
    """Score one criterion. With JavaScript each change saves in place: the fields come back and
    the status below them changes. Mark the fields first, so fresh ones (without the mark) show
    that the answer arrived."""
    fields, status = (
        page.locator(f"#criterion-{criterion.id} .criterion-fields"),
        page.locator(f"#criterion-{criterion.id}-status"),
    )

    def answered(action: Any) -> None:
        fields.locator("h2").evaluate("el => { el.dataset.before = 'yes'; }")
        action()
        expect(fields.locator("h2:not([data-before])")).to_have_count(1)

    group = page.get_by_role("group", name=f"Your score for {criterion.name}")
    textarea = page.get_by_label(f"Comment on {criterion.name} (optional)")
    if comment_first:  # a comment without a score is not saved: the message says why, in place
        answered(lambda: (textarea.fill(comment), textarea.press("Tab")))
        expect(page.locator(f"#score_{criterion.id}-error")).to_have_text(
            f"Error: Choose a score for \u201c{criterion.name}\u201d to save your comment."
        )
        expect(status).to_have_text("")
        answered(lambda: group.get_by_label(value, exact=True).check())
        expect(status).to_have_text(f"Your score for {criterion.name} is saved.")
    else:
        answered(lambda: group.get_by_label(value, exact=True).check())
        expect(status).to_have_text(f"Your score for {criterion.name} is saved.")
        # The block stays in the page, so focus stays on the score just chosen.
        expect(group.get_by_label(value, exact=True)).to_be_focused()
        answered(lambda: (textarea.fill(comment), textarea.press("Tab")))
        expect(status).to_have_text(f"Your score for {criterion.name} is saved.")
    expect(textarea).to_have_value(comment)
    expect(group.get_by_label(value, exact=True)).to_be_checked()
    expect(page.locator(f"#score_{criterion.id}-error")).to_have_count(0)


def test_phase_to_application_to_review_to_award_to_accepted_report(new_page: Any, live_server: LiveServer) -> None:
    today = london_today()
    with live_server.app.app_context():
        factories.user(role="staff", name="Sam Staff", email="sam@example.test")
        factories.user(name="Lee Lead", email="lee@example.test")
        factories.user(name="Rae Reviewer", email="rae@example.test")
        admin = factories.user(role="admin", name="Ada Admin", email="ada@example.test")
        panel_review = rates.add_activity_type(name="Panel review", unit=Unit.FIXED_FEE, by=admin)
        rates.set_rate(panel_review, amount_pence=120_00, effective_from=today - timedelta(days=365), by=admin)
        db.session.commit()

    # --- 1. Staff make a phase: first with a mistake, then properly; then open it, by keyboard.
    staff = new_page()
    sign_in(staff, "sam@example.test", "/staff/phases")
    expect(staff.get_by_role("status").filter(has_text="0 funding rounds")).to_be_visible()
    staff.get_by_role("link", name="New funding round").click()
    expect(staff).to_have_url(re.compile(r"/staff/phases/new$"))
    check_axe(staff)
    fill_phase_form(staff, today, name="")
    staff.get_by_role("button", name="Save as a draft").click()
    summary = staff.locator("[data-error-summary]")
    expect(summary).to_contain_text("Enter the phase's name.")
    expect(summary).to_be_focused()
    expect(staff.locator("#name")).to_have_attribute("aria-invalid", "true")
    expect(staff.locator("#name-error")).to_contain_text("Enter the phase's name.")
    expect(staff.locator("#criterion_2_weight")).to_have_value("40")  # what was typed is kept
    check_axe(staff)
    summary.get_by_role("link", name="Enter the phase's name.").click()
    assert_focused(staff, "#name")
    staff.locator("#name").fill(PHASE)
    staff.get_by_role("button", name="Save as a draft").click()
    expect(staff).to_have_url(re.compile(r"/staff/phases$"))
    flashed(staff, f"{PHASE} is saved as a draft")
    check_axe(staff)
    with live_server.app.app_context():
        phase = db.session.scalars(sa.select(Phase)).one()
        phase_id = phase.id
        criteria = list(
            db.session.scalars(sa.select(Criterion).where(Criterion.phase_id == phase_id).order_by(Criterion.position))
        )
        assert (phase.max_award_pence, phase.pot_pence, phase.delivery_months, phase.target_awards) == (
            5_000_00,
            20_000_00,
            6,
            4,
        )
        assert [(c.name, c.weight) for c in criteria] == [("Lived experience leads", 60), ("Realistic plan", 40)]
    tab_to(staff, f"#phase-{phase_id} button")
    expect(staff.locator(f"#phase-{phase_id} button")).to_contain_text("Move to: open for applications")
    press_and_wait(staff, "Enter")
    expect(staff.get_by_role("heading", level=1)).to_have_text(f"Move {PHASE} to: open for applications?")
    check_axe(staff)
    tab_to(staff, "Yes, move it to: open for applications")
    press_and_wait(staff, "Enter")
    flashed(staff, f"{PHASE} is now: open for applications.")
    check_axe(staff)

    # A visitor finds the open phase.
    visitor = new_page()
    visitor.goto("/phases")
    check_axe(visitor)
    visitor.get_by_role("link", name=PHASE).click()
    expect(visitor).to_have_url(re.compile(rf"/phases/{phase_id}$"))
    expect(visitor.get_by_role("heading", level=1)).to_have_text(PHASE)
    expect(visitor.locator("main")).to_contain_text("£5,000.00")
    expect(visitor.locator("main")).to_contain_text("Lived experience leads (weight 60)")
    expect(visitor.locator("#apply").get_by_role("link", name="Sign in")).to_be_visible()
    check_axe(visitor)

    # --- 2. A member applies: writes, budgets two lines in place, invites a teammate, submits.
    lead = new_page()
    sign_in(lead, "lee@example.test", f"/phases/{phase_id}")
    lead.get_by_role("button", name="Start an application").click()
    expect(lead).to_have_url(re.compile(r"/applications/\d+/edit$"))
    flashed(lead, "Your application is started.")
    check_axe(lead)
    application_id = int(re.search(r"/applications/(\d+)/edit", lead.url).group(1))  # type: ignore[union-attr]
    lead.get_by_label("Title").fill(TITLE)
    lead.locator("#summary").fill("Weekly cafés run by people in recovery.")
    lead.get_by_label("Who with lived experience is involved").fill("Six people in recovery lead the project.")
    lead.get_by_label("Co-design", exact=True).fill("They design the cafés with us.")
    lead.get_by_label("Co-decision-making", exact=True).fill("They hold the budget.")
    lead.get_by_label("Co-delivery", exact=True).fill("They run the cafés, and are paid.")
    lead.get_by_label("Co-evaluation", exact=True).fill("They run the evaluation.")
    lead.get_by_role("button", name="Save the draft").click()
    flashed(lead, "Your draft is saved.")
    expect(lead.get_by_label("Title")).to_have_value(TITLE)
    check_axe(lead)

    budget = lead.locator("#budget")
    lead.evaluate("() => { window.__samePage = true; }")
    budget.get_by_label("What kind of cost").select_option("lived_experience")
    budget.get_by_label("What it is for").fill("Paying six co-researchers")
    budget.get_by_label("Amount, in pounds").fill("3,000")
    budget.get_by_role("button", name="Add the line").click()
    expect(budget.locator("tfoot")).to_contain_text("£3,000.00")
    expect(budget.get_by_role("status")).to_contain_text("Added: Paying six co-researchers.")
    expect(budget.get_by_label("What kind of cost")).to_be_focused()  # ready for the next line
    budget.get_by_label("What kind of cost").select_option("venue")
    budget.get_by_label("What it is for").fill("Room hire")
    budget.get_by_label("Amount, in pounds").fill("500")
    budget.get_by_role("button", name="Add the line").click()
    expect(budget.locator("tbody tr")).to_have_count(2)
    expect(budget.locator("tfoot")).to_contain_text("£3,500.00")
    expect(budget.get_by_label("What it is for")).to_have_value("")
    assert lead.evaluate("() => window.__samePage === true"), "adding a budget line reloaded the page"
    check_axe(lead)
    # A wrong line comes back in place with its message, and the error summary takes focus.
    budget.get_by_label("What kind of cost").select_option("materials")
    budget.get_by_label("Amount, in pounds").fill("lots")
    budget.get_by_role("button", name="Add the line").click()
    expect(budget.locator("[data-error-summary]")).to_be_focused()
    expect(budget.locator("#description-error")).to_contain_text("Say what this budget line is for.")
    expect(budget.get_by_label("Amount, in pounds")).to_have_attribute("aria-invalid", "true")
    expect(budget.locator("tfoot")).to_contain_text("£3,500.00")
    assert lead.evaluate("() => window.__samePage === true")
    check_axe(lead)

    lead.get_by_role("link", name="Back to the application").click()
    expect(lead).to_have_url(re.compile(rf"/applications/{application_id}$"))
    expect(lead.locator("main")).to_contain_text("£3,500.00")
    check_axe(lead)
    lead.get_by_label("Their email address").fill("tia@example.test")
    lead.get_by_role("button", name="Send the invitation").click()
    flashed(lead, "We have emailed tia@example.test.")
    expect(lead.locator("#team")).to_contain_text("tia@example.test: Waiting for an answer until")
    check_axe(lead)
    lead.get_by_role("button", name="Submit the application").click()
    flashed(lead, "Thank you. Your application has been sent.")
    expect(lead.locator(".summary-list")).to_contain_text("Submitted")
    check_axe(lead)

    # --- 3. Staff move the phase to the panel and add a reviewer; the reviewer scores it.
    staff.goto("/staff/phases")
    check_axe(staff)
    staff.get_by_role("button", name=re.compile(r"^Move to: panel assessing")).click()
    expect(staff.get_by_role("heading", level=1)).to_have_text(f"Move {PHASE} to: panel assessing?")
    expect(staff.locator("main")).to_contain_text("send 1 submitted application to the panel")
    check_axe(staff)
    staff.get_by_role("button", name="Yes, move it to: panel assessing").click()
    flashed(staff, "1 submitted application went to the panel.")
    check_axe(staff)
    staff.get_by_role("link", name=f"Panel for {PHASE}").click()
    expect(staff).to_have_url(re.compile(rf"/staff/phases/{phase_id}/panel$"))
    check_axe(staff)
    staff.get_by_label("Reviewer's email address").fill("rae@example.test")
    staff.get_by_role("button", name="Add to the panel").click()
    flashed(staff, "Rae Reviewer is on the panel")
    expect(staff.locator("tbody")).to_contain_text("Rae Reviewer")
    check_axe(staff)

    reviewer = new_page()
    sign_in(reviewer, "rae@example.test", "/reviews")
    reviewer.get_by_role("link", name=TITLE).click()
    expect(reviewer).to_have_url(re.compile(rf"/applications/{application_id}/review$"))
    check_axe(reviewer)
    score(reviewer, criteria[0], "4: good", "People in recovery lead every part.", comment_first=True)
    score(reviewer, criteria[1], "5: excellent", "A clear, costed plan.")
    reviewer.get_by_role("group", name="Should the programme fund this project?").get_by_label(
        "Fund", exact=True
    ).check()
    reviewer.get_by_label("Overall comment (optional)").fill("Strong co-production throughout.")
    check_axe(reviewer)
    reviewer.get_by_role("button", name="Send the review").click()
    flashed(reviewer, "Thank you. Your review is sent")
    flashed(reviewer, "We have drafted a payment claim for your time")
    expect(reviewer.locator("main")).to_contain_text("Lived experience leads: 4. People in recovery lead every part.")
    expect(reviewer.locator("main")).to_contain_text("Realistic plan: 5. A clear, costed plan.")
    check_axe(reviewer)
    reviewer.get_by_role("link", name="Your payments").first.click()
    expect(reviewer).to_have_url(re.compile(r"/payments$"))
    expect(reviewer.locator("main")).to_contain_text("Panel review")
    check_axe(reviewer)

    # --- 4. Staff see the panel's scores side by side and award the application.
    staff.get_by_role("link", name="Applications side by side").click()
    expect(staff).to_have_url(re.compile(rf"/staff/phases/{phase_id}/applications$"))
    row = staff.locator("#results tbody tr").filter(has_text=TITLE)
    expect(row).to_contain_text("4.40")  # (4 x 60 + 5 x 40) / 100
    expect(row).to_contain_text("1 of 1")
    expect(row).to_contain_text("£3,500.00")
    check_axe(staff)
    row.get_by_role("link", name=re.compile("Record the decision")).click()
    expect(staff).to_have_url(re.compile(rf"/staff/applications/{application_id}/decision$"))
    check_axe(staff)
    staff.get_by_label("Fund this project (award)").check()
    staff.get_by_label("The panel's reasons").fill("The panel loved the lived experience leadership.")
    staff.get_by_label("Amount to award, in pounds").fill("3,000")
    staff.get_by_role("button", name="Record the decision").click()
    expect(staff).to_have_url(re.compile(rf"/applications/{application_id}$"))
    flashed(staff, "The pilot project has been set up.")
    expect(staff.locator("main")).to_contain_text("Funded: £3,000.00")
    check_axe(staff)

    # --- 5. The lead sees the project and its report schedule, and sends the first report.
    lead.goto("/projects")
    check_axe(lead)
    lead.get_by_role("link", name=TITLE).click()
    expect(lead).to_have_url(re.compile(r"/projects/\d+$"))
    project_id = int(lead.url.rsplit("/", 1)[1])
    reports = lead.locator("#reports tbody tr")
    expect(reports).to_have_count(2)  # midpoint and final
    expect(reports.nth(1)).to_contain_text("Final")
    expect(lead.locator("#budget")).to_contain_text("£3,000.00")
    check_axe(lead)

    # A milestone: added with a form post, marked done in place (focus stays on its button).
    milestones = lead.locator("#milestones")
    milestones.get_by_label("Milestone").fill("First café open")
    milestones.get_by_label("Due date").fill(iso(today + timedelta(days=14)))
    milestones.get_by_role("button", name="Add milestone").click()
    flashed(lead, "Milestone added.")
    expect(milestones).to_contain_text("0 of 1 done.")
    check_axe(lead)
    lead.evaluate("() => { window.__samePage = true; }")
    milestones.get_by_role("button", name=re.compile(r"^Mark as done\W+First café open$")).click()
    expect(milestones).to_contain_text("1 of 1 done.")
    expect(milestones.get_by_role("button", name=re.compile(r"^Mark as not done\W+First café open$"))).to_be_focused()
    assert lead.evaluate("() => window.__samePage === true"), "marking a milestone done reloaded the page"
    check_axe(lead)

    reports.first.get_by_role("link", name=re.compile("^Write")).click()
    expect(lead).to_have_url(re.compile(rf"/projects/{project_id}/reports/\d+/edit$"))
    check_axe(lead)
    lead.get_by_label("First day this report covers").fill(iso(today))
    lead.get_by_label("Last day this report covers").fill(iso(today + timedelta(days=30)))
    lead.get_by_label("What happened", exact=True).fill("We ran four cafés.")
    lead.get_by_label("What changed", exact=True).fill("People came back each week.")
    lead.get_by_label("What we learned", exact=True).fill("Evenings suit more people than mornings.")
    lead.get_by_label("Challenges", exact=True).fill("Finding an accessible room.")
    for stage in vocabulary.STAGES.values():  # all four stages
        lead.get_by_label(stage).check()
    lead.get_by_label("Mutual respect and trust").check()
    lead.get_by_label("Accessibility and inclusivity").check()
    lead.get_by_label("On track").check()
    lead.get_by_role("button", name="Send the report").click()
    expect(lead).to_have_url(re.compile(rf"/projects/{project_id}/reports/\d+$"))
    flashed(lead, "Your report is sent.")
    expect(lead.locator("main")).to_contain_text("Mutual respect and trust")
    expect(lead.locator("main")).to_contain_text("Co-evaluation: judging together what difference it made")
    check_axe(lead)
    report_url = lead.url

    with live_server.app.app_context():
        report = db.session.scalar(
            sa.select(ProgressReport).where(ProgressReport.project_id == project_id).order_by(ProgressReport.due_on)
        )
        assert report is not None and report.state == "submitted" and len(report.stages) == 4
        assert sorted(report.values) == ["accessibility", "respect"]

    # Staff accept it.
    staff.goto(report_url)
    check_axe(staff)
    staff.get_by_label("Accept the report").check()
    staff.get_by_label("Feedback for the team").fill("Thank you: a clear report.")
    staff.get_by_role("button", name="Send decision").click()
    flashed(staff, "The report is accepted.")
    expect(staff.locator("main")).to_contain_text("Thank you: a clear report.")
    check_axe(staff)

    # The public sees the pilot.
    visitor.goto("/pilots")
    check_axe(visitor)
    visitor.get_by_role("link", name=TITLE).click()
    expect(visitor).to_have_url(re.compile(rf"/pilots/{project_id}$"))
    expect(visitor.get_by_role("heading", level=1)).to_have_text(TITLE)
    expect(visitor.locator("main")).to_contain_text(PHASE)
    check_axe(visitor)
    with live_server.app.app_context():
        assert db.session.get(Project, project_id).award_pence == 3_000_00  # type: ignore[union-attr]
        assert db.session.get(Application, application_id).state == "awarded"  # type: ignore[union-attr]


def test_the_application_form_works_without_javascript(new_page: Any, live_server: LiveServer) -> None:
    with live_server.app.app_context():
        factories.user(name="Noor Script", email="noor@example.test")
        phase_id = make_phase(today=london_today(), name=PHASE, state=PhaseState.OPEN).id
    page = new_page(java_script_enabled=False)
    sign_in(page, "noor@example.test", f"/phases/{phase_id}")
    page.get_by_role("button", name="Start an application").click()
    expect(page).to_have_url(re.compile(r"/applications/\d+/edit$"))
    check_axe(page)

    page.get_by_label("Title").fill("Hearing Birdsong")
    page.locator("#summary").fill("Walks for people with hearing loss.")
    page.get_by_role("button", name="Save the draft").click()
    flashed(page, "Your draft is saved.")
    expect(page.get_by_label("Title")).to_have_value("Hearing Birdsong")
    check_axe(page)

    # Adding a budget line is an ordinary form post: the page comes back with the line and the total.
    budget = page.locator("#budget")
    budget.get_by_label("What kind of cost").select_option("lived_experience")
    budget.get_by_label("What it is for").fill("Paying walk leaders")
    budget.get_by_label("Amount, in pounds").fill("1,200.50")
    budget.get_by_role("button", name="Add the line").click()
    expect(page).to_have_url(re.compile(r"/applications/\d+/edit#budget$"))
    flashed(page, "The budget line is added.")
    expect(budget.locator("tfoot")).to_contain_text("£1,200.50")
    check_axe(page)

    # A wrong line: the whole page again, one error summary at the top, the message by the field.
    budget.get_by_label("What kind of cost").select_option("venue")
    budget.get_by_label("What it is for").fill("Hall")
    budget.get_by_label("Amount, in pounds").fill("lots")
    budget.get_by_role("button", name="Add the line").click()
    expect(page.locator("[data-error-summary]")).to_have_count(1)
    expect(page.locator("[data-error-summary]")).to_contain_text("Enter an amount in pounds")
    expect(page.locator("#amount-error")).to_contain_text("Enter an amount in pounds")
    expect(page.get_by_label("What it is for")).to_have_value("Hall")
    expect(budget.locator("tfoot")).to_contain_text("£1,200.50")
    check_axe(page)
    with live_server.app.app_context():
        application = db.session.scalars(sa.select(Application)).one()
        assert application.title == "Hearing Birdsong" and application.state == "draft"

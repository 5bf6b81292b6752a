"""Grant phases and applications: rules at the service level, pages through the client."""

from __future__ import annotations

from datetime import date, time, timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from portal.accounts.models import User
from portal.core.audit import AuditEntry
from portal.core.errors import NotAllowed, RuleBroken, RulesBroken
from portal.core.extensions import db
from portal.core.form_fields import parse_pounds
from portal.core.formatting import london_today
from portal.core.outbox import OutboxMessage
from portal.grants import applications, invitations, phases
from portal.grants.applications import ApplicationDetails
from portal.grants.invitations import Team
from portal.grants.models import (
    APPLICATION_TRANSITIONS,
    PHASE_TRANSITIONS,
    Application,
    ApplicationState,
    BudgetCategory,
    BudgetLine,
    Invitation,
    InvitationState,
    Phase,
    PhaseState,
)
from portal.grants.phases import CriterionDetails, PhaseDetails
from portal.teams.models import TeamRole
from tests import factories
from tests.factories import make_application, make_phase
from tests.helpers import count, fields_of

TODAY = factories.PHASE_TODAY
NOW = factories.APPLICATION_SENT_AT
COMPLETE = factories.COMPLETE_APPLICATION


# --- test data ---------------------------------------------------------------------------------


def phase_details(**changes: Any) -> PhaseDetails:
    values: dict[str, Any] = dict(
        name="Phase 3 (2026)",
        max_award_pence=15_000_00,
        pot_pence=60_000_00,
        delivery_months=7,
        target_awards=4,
        opens_on=TODAY,
        closes_on=TODAY + timedelta(days=30),
        criteria=[CriterionDetails("Lived experience leads", 60), CriterionDetails("Realistic plan", 40, row=2)],
    )
    values.update(changes)
    return PhaseDetails(**values)


def outbox_to(email: str) -> list[OutboxMessage]:
    return list(db.session.scalars(sa.select(OutboxMessage).where(OutboxMessage.to_email == email)))


# --- money parsing --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "pence"),
    [("5000", 500000), ("5,000.50", 500050), ("£1,234.5", 123450), ("0.10", 10), ("15000.00", 1500000)],
)
def test_pounds_become_integer_pence(text: str, pence: int) -> None:
    assert parse_pounds(text) == pence and isinstance(parse_pounds(text), int)


@pytest.mark.parametrize("text", ["5.555", "1e3", "-5", "five", "1,00", ""])
def test_anything_else_is_not_an_amount(text: str) -> None:
    with pytest.raises(ValueError):
        parse_pounds(text)


# --- phases -------------------------------------------------------------------------------------


def test_staff_create_a_draft_phase_with_weighted_criteria(app: Any, users: dict[str, Any]) -> None:
    phase = phases.create_phase(phase_details(), by=users["staff"])
    db.session.commit()
    assert phase.state == PhaseState.DRAFT and phase.max_award_pence == 15_000_00
    assert [(c.name, c.weight) for c in phases.criteria_of(phase.id)] == [
        ("Lived experience leads", 60),
        ("Realistic plan", 40),
    ]
    assert db.session.scalar(sa.select(AuditEntry.action).where(AuditEntry.object_type == "Phase")) == "phase.created"


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"criteria": []}, "criteria"),
        ({"pot_pence": 10_000_00}, "pot"),
        ({"max_award_pence": 0}, "max_award"),
        ({"closes_on": TODAY - timedelta(days=1)}, "closes_on"),
        ({"delivery_months": 0}, "delivery_months"),
        ({"target_awards": 0}, "target_awards"),
        ({"criteria": [CriterionDetails("Fairness", 101)]}, "criterion_1_weight"),
    ],
)
def test_a_phase_that_breaks_a_rule_is_refused(
    app: Any, users: dict[str, Any], changes: dict[str, Any], field: str
) -> None:
    with pytest.raises(RuleBroken) as error:
        phases.create_phase(phase_details(**changes), by=users["staff"])
    assert field in fields_of(error)
    db.session.rollback()
    assert count(Phase) == 0


def test_members_cannot_make_or_move_phases(app: Any, users: dict[str, Any]) -> None:
    with pytest.raises(NotAllowed):
        phases.create_phase(phase_details(), by=users["member"])
    phase = make_phase(state=PhaseState.DRAFT)
    with pytest.raises(NotAllowed):
        phases.move_phase(phase, PhaseState.OPEN, by=users["member"], today=TODAY)


def test_criteria_change_only_while_the_phase_is_a_draft(app: Any, users: dict[str, Any]) -> None:
    draft = make_phase(state=PhaseState.DRAFT)
    phases.update_phase(draft, phase_details(criteria=[CriterionDetails("Only one", 100)]), by=users["staff"])
    db.session.commit()
    assert [c.name for c in phases.criteria_of(draft.id)] == ["Only one"]

    opened = make_phase(state=PhaseState.OPEN, name="Open phase")
    phases.update_phase(opened, phase_details(name="Renamed", criteria=[]), by=users["staff"])
    db.session.commit()
    assert opened.name == "Renamed" and len(phases.criteria_of(opened.id)) == 2

    assessing = make_phase(state=PhaseState.ASSESSING, name="Assessing")
    with pytest.raises(RuleBroken, match="can no longer change"):
        phases.update_phase(assessing, phase_details(), by=users["staff"])


ILLEGAL_PHASE_MOVES = [(a, b) for a in PhaseState for b in PhaseState if b not in PHASE_TRANSITIONS[a]]


@pytest.mark.parametrize(("start", "to"), ILLEGAL_PHASE_MOVES)
def test_every_illegal_phase_move_is_refused(
    app: Any, users: dict[str, Any], start: PhaseState, to: PhaseState
) -> None:
    phase = make_phase(state=start)
    with pytest.raises(RuleBroken) as error:
        phases.move_phase(phase, to, by=users["staff"], today=TODAY)
    assert error.value.field == "state"
    db.session.rollback()
    assert db.session.get(Phase, phase.id).state == start


def test_phases_move_one_step_at_a_time_to_closed(app: Any, users: dict[str, Any]) -> None:
    phase = make_phase(state=PhaseState.DRAFT)
    for to in (PhaseState.OPEN, PhaseState.ASSESSING, PhaseState.ACTIVE, PhaseState.CLOSED):
        phases.move_phase(phase, to, by=users["staff"], today=TODAY)
        db.session.commit()
        assert phase.state == to
    moves = db.session.scalars(
        sa.select(AuditEntry.after).where(AuditEntry.action == "phase.state_changed").order_by(AuditEntry.id)
    ).all()
    assert [m["state"] for m in moves] == ["open", "assessing", "active", "closed"]


@pytest.mark.parametrize(
    ("opens", "closes", "allowed"),
    [
        (TODAY, TODAY, True),  # both ends of the window count
        (TODAY - timedelta(days=5), TODAY, True),
        (TODAY + timedelta(days=1), TODAY + timedelta(days=9), False),  # not open yet
        (TODAY - timedelta(days=9), TODAY - timedelta(days=1), False),  # already closed
    ],
)
def test_a_phase_opens_only_inside_its_window(
    app: Any, users: dict[str, Any], opens: date, closes: date, allowed: bool
) -> None:
    phase = make_phase(state=PhaseState.DRAFT, opens=opens, closes=closes)
    if allowed:
        phases.move_phase(phase, PhaseState.OPEN, by=users["staff"], today=TODAY)
        assert phase.state == PhaseState.OPEN
    else:
        with pytest.raises(RuleBroken, match="can open only between"):
            phases.move_phase(phase, PhaseState.OPEN, by=users["staff"], today=TODAY)


def test_assessing_puts_submitted_applications_with_the_panel(app: Any, users: dict[str, Any]) -> None:
    phase = make_phase()
    lead = factories.user()
    sent = make_application(phase, lead, state=ApplicationState.SUBMITTED)
    draft = make_application(phase, factories.user())
    moved = phases.move_phase(phase, PhaseState.ASSESSING, by=users["staff"], today=TODAY)
    db.session.commit()
    assert moved == [sent]
    assert (sent.state, draft.state) == (ApplicationState.UNDER_REVIEW, ApplicationState.DRAFT)
    assert [m.subject for m in outbox_to(lead.email)] == [
        "Your application 'Peer-led recovery cafés' is with the panel"
    ]
    assert (
        db.session.scalar(
            sa.select(AuditEntry.action).where(
                AuditEntry.object_type == "Application", AuditEntry.object_id == str(sent.id)
            )
        )
        == "application.under_review"
    )


# --- applications ------------------------------------------------------------------------------


def test_a_member_starts_an_application_and_leads_it(app: Any, users: dict[str, Any]) -> None:
    phase = make_phase()
    application = applications.start_application(phase, by=users["member"], today=TODAY)
    db.session.commit()
    assert application.state == ApplicationState.DRAFT and application.lead_id == users["member"].id
    assert applications.team_of(application.id) == [(users["member"], TeamRole.LEAD)]


@pytest.mark.parametrize("state", [PhaseState.DRAFT, PhaseState.ASSESSING, PhaseState.ACTIVE, PhaseState.CLOSED])
def test_applications_start_only_in_an_open_phase(app: Any, users: dict[str, Any], state: PhaseState) -> None:
    phase = make_phase(state=state)
    with pytest.raises(RuleBroken, match="not open"):
        applications.start_application(phase, by=users["member"], today=TODAY)


def test_no_new_applications_after_the_window_closes(app: Any, users: dict[str, Any]) -> None:
    phase = make_phase(closes=TODAY - timedelta(days=1))
    with pytest.raises(RuleBroken, match="closed on"):
        applications.start_application(phase, by=users["member"], today=TODAY)


def test_the_requested_total_is_the_sum_of_the_budget_lines(app: Any, users: dict[str, Any]) -> None:
    application = make_application(make_phase(), users["member"], lines=())
    lead = users["member"]
    first = applications.add_budget_line(
        application, by=lead, category=BudgetCategory.VENUE, description="Room hire", amount_pence=300_00
    )
    applications.add_budget_line(
        application,
        by=lead,
        category=BudgetCategory.LIVED_EXPERIENCE,
        description="Paying co-researchers",
        amount_pence=1_234_50,
    )
    db.session.commit()
    assert applications.requested_total_pence(application.id) == 1_534_50
    applications.remove_budget_line(application, first, by=lead)
    db.session.commit()
    assert applications.requested_total_pence(application.id) == 1_234_50


@pytest.mark.parametrize(
    ("description", "amount", "field"),
    [("", 100, "description"), ("Room", 0, "amount"), ("Room", None, "amount"), ("Room", 1_000_000_01, "amount")],
)
def test_bad_budget_lines_are_refused(
    app: Any, users: dict[str, Any], description: str, amount: int | None, field: str
) -> None:
    application = make_application(make_phase(), users["member"], lines=())
    with pytest.raises(RuleBroken) as error:
        applications.add_budget_line(
            application, by=users["member"], category=BudgetCategory.VENUE, description=description, amount_pence=amount
        )
    assert error.value.field == field


def test_a_budget_line_of_another_application_cannot_be_removed(app: Any, users: dict[str, Any]) -> None:
    phase = make_phase()
    mine = make_application(phase, users["member"])
    theirs = make_application(phase, factories.user())
    line = applications.budget_lines(theirs.id)[0]
    with pytest.raises(NotAllowed):
        applications.remove_budget_line(mine, line, by=users["member"])


def test_a_complete_application_inside_the_window_is_submitted(app: Any, users: dict[str, Any]) -> None:
    lead = users["member"]
    application = make_application(make_phase(), lead)
    applications.submit_application(application, by=lead, today=TODAY, now=NOW)
    db.session.commit()
    assert application.state == ApplicationState.SUBMITTED and application.submitted_at == NOW
    assert [m.subject for m in outbox_to(lead.email)] == ["We have your application 'Peer-led recovery cafés'"]
    assert (
        db.session.scalar(sa.select(AuditEntry.action).where(AuditEntry.object_type == "Application"))
        == "application.submitted"
    )


@pytest.mark.parametrize("today", [TODAY - timedelta(days=11), TODAY + timedelta(days=11)])
def test_submitting_outside_the_window_is_refused(app: Any, users: dict[str, Any], today: date) -> None:
    application = make_application(make_phase(), users["member"])
    with pytest.raises(RuleBroken) as error:
        applications.submit_application(application, by=users["member"], today=today, now=NOW)
    assert fields_of(error) == {"window"}


def test_the_window_includes_its_first_and_last_days(app: Any, users: dict[str, Any]) -> None:
    phase = make_phase()
    for day in (phase.opens_on, phase.closes_on):
        application = make_application(phase, factories.user())
        applications.submit_application(application, by=db.session.get(User, application.lead_id), today=day, now=NOW)
        assert application.state == ApplicationState.SUBMITTED


def test_asking_for_more_than_the_maximum_award_is_refused(app: Any, users: dict[str, Any]) -> None:
    application = make_application(make_phase(max_award=5_000_00), users["member"], lines=(4_000_00, 1_000_01))
    with pytest.raises(RuleBroken) as error:
        applications.submit_application(application, by=users["member"], today=TODAY, now=NOW)
    assert fields_of(error) == {"budget"}
    assert "£5,000.01" in error.value.message and "£5,000.00" in error.value.message and "£0.01" in error.value.message


def test_exactly_the_maximum_award_is_fine(app: Any, users: dict[str, Any]) -> None:
    application = make_application(make_phase(max_award=5_000_00), users["member"], lines=(4_000_00, 1_000_00))
    applications.submit_application(application, by=users["member"], today=TODAY, now=NOW)
    assert application.state == ApplicationState.SUBMITTED


def test_every_missing_field_is_named_and_nothing_changes(app: Any, users: dict[str, Any]) -> None:
    application = make_application(make_phase(), users["member"], lines=(), complete=False)
    with pytest.raises(RulesBroken) as error:
        applications.submit_application(application, by=users["member"], today=TODAY, now=NOW)
    assert fields_of(error) == {name for name, _ in applications.REQUIRED_FIELDS} | {"budget"}
    db.session.rollback()
    assert db.session.get(Application, application.id).state == ApplicationState.DRAFT
    assert count(OutboxMessage) == 0 and count(AuditEntry) == 0


def test_only_the_lead_submits_and_withdraws(app: Any, users: dict[str, Any]) -> None:
    member = factories.user()
    application = make_application(make_phase(), users["member"], members=(member,))
    applications.update_application(application, COMPLETE, by=member)  # the team writes it together
    with pytest.raises(NotAllowed):
        applications.submit_application(application, by=member, today=TODAY, now=NOW)
    with pytest.raises(NotAllowed):
        applications.withdraw_application(application, by=member)
    with pytest.raises(NotAllowed):
        applications.update_application(application, COMPLETE, by=factories.user())


ILLEGAL_APPLICATION_MOVES = [
    (a, b) for a in ApplicationState for b in ApplicationState if b not in APPLICATION_TRANSITIONS[a]
]


@pytest.mark.parametrize(("start", "to"), ILLEGAL_APPLICATION_MOVES)
def test_every_illegal_application_move_is_refused(
    app: Any, users: dict[str, Any], start: ApplicationState, to: ApplicationState
) -> None:
    application = make_application(make_phase(), users["member"], state=start)
    with pytest.raises(RuleBroken) as error:
        applications.move_application(application, to, by=users["staff"], action="moved", subject="", body="")
    assert error.value.field == "state"
    db.session.rollback()
    assert db.session.get(Application, application.id).state == start
    assert count(AuditEntry) == 0 and count(OutboxMessage) == 0


@pytest.mark.parametrize(
    "state",
    [
        ApplicationState.SUBMITTED,
        ApplicationState.AWARDED,
        ApplicationState.DECLINED,
        ApplicationState.WITHDRAWN,
        ApplicationState.UNDER_REVIEW,
    ],
)
def test_submitting_again_is_refused(app: Any, users: dict[str, Any], state: ApplicationState) -> None:
    application = make_application(make_phase(), users["member"], state=state)
    with pytest.raises(RuleBroken, match="cannot be submitted"):
        applications.submit_application(application, by=users["member"], today=TODAY, now=NOW)


@pytest.mark.parametrize("state", [ApplicationState.AWARDED, ApplicationState.DECLINED, ApplicationState.WITHDRAWN])
def test_withdrawing_after_a_decision_is_refused(app: Any, users: dict[str, Any], state: ApplicationState) -> None:
    application = make_application(make_phase(), users["member"], state=state)
    with pytest.raises(RuleBroken, match="cannot be withdrawn"):
        applications.withdraw_application(application, by=users["member"])


@pytest.mark.parametrize("state", [ApplicationState.DRAFT, ApplicationState.SUBMITTED, ApplicationState.UNDER_REVIEW])
def test_the_lead_withdraws_before_a_decision(app: Any, users: dict[str, Any], state: ApplicationState) -> None:
    application = make_application(make_phase(), users["member"], state=state)
    applications.withdraw_application(application, by=users["member"])
    db.session.commit()
    assert application.state == ApplicationState.WITHDRAWN
    assert [m.subject for m in outbox_to(users["member"].email)] == [
        "Your application 'Peer-led recovery cafés' is withdrawn"
    ]


# --- the team ------------------------------------------------------------------------------------------


def _invite(application: Application, by: User, email: str) -> Invitation:
    return invitations.invite(
        Team(application, None), by=by, email=email, now=NOW, expiry_days=14, base_url="http://portal.test"
    )


def test_the_lead_invites_by_email_and_the_invitee_accepts(app: Any, users: dict[str, Any]) -> None:
    application = make_application(make_phase(), users["member"])
    invitation = _invite(application, users["member"], "  New.Person@Example.test ")
    db.session.commit()
    [message] = outbox_to("new.person@example.test")
    assert "Peer-led recovery cafés" in message.body
    assert f"http://portal.test/invitations/{invitation.id}" in message.body
    with pytest.raises(RuleBroken, match="already invited"):
        _invite(application, users["member"], "new.person@example.test")
    with pytest.raises(RuleBroken, match="already on"):
        _invite(application, users["member"], users["member"].email)

    newcomer = factories.user(email="new.person@example.test")
    assert (newcomer, TeamRole.MEMBER) not in applications.team_of(application.id)  # an offer, not a join
    invitations.accept(invitation, by=newcomer, now=NOW)
    db.session.commit()
    assert (newcomer, TeamRole.MEMBER) in applications.team_of(application.id)
    assert (invitation.state, invitation.accepted_at) == (InvitationState.ACCEPTED, NOW)
    with pytest.raises(RuleBroken, match="already been accepted"):
        invitations.accept(invitation, by=newcomer, now=NOW)  # nothing twice


def test_team_members_cannot_invite_and_no_one_invites_after_a_decision(app: Any, users: dict[str, Any]) -> None:
    member = factories.user()
    application = make_application(make_phase(), users["member"], members=(member,))
    with pytest.raises(NotAllowed):
        _invite(application, member, "someone@example.test")
    decided = make_application(make_phase(name="Other"), users["member"], state=ApplicationState.DECLINED)
    with pytest.raises(NotAllowed):
        _invite(decided, users["member"], "someone@example.test")


# --- pages: phases ----------------------------------------------------------------------------------------


def test_the_public_sees_phases_once_they_open(app: Any, client: Any, as_role: Any) -> None:
    today = london_today()
    opened = make_phase(name="Open round", today=today)
    draft = make_phase(name="Secret draft", state=PhaseState.DRAFT, today=today)
    listing = client.get("/phases").get_data(as_text=True)
    assert "Open round" in listing and "Secret draft" not in listing
    page = client.get(f"/phases/{opened.id}")
    assert page.status_code == 200 and "Co-decision-making" in page.get_data(as_text=True)
    assert "Lived experience leads" in page.get_data(as_text=True)
    assert client.get(f"/phases/{draft.id}").status_code == 404
    assert as_role("member").get(f"/phases/{draft.id}").status_code == 404
    assert as_role("staff").get(f"/phases/{draft.id}").status_code == 200
    assert client.get("/phases/99999").status_code == 404


STAFF_PAGES = [
    "/staff/phases",
    "/staff/phases/new",
    "/staff/phases/{phase}/edit",
    "/staff/phases/{phase}/applications",
    "/staff/phases/{phase}/panel",
    "/staff/applications/{application}/decision",
]


@pytest.mark.parametrize("url", STAFF_PAGES)
def test_members_cannot_reach_staff_pages(app: Any, as_role: Any, users: dict[str, Any], url: str) -> None:
    phase = make_phase()
    application = make_application(phase, users["member"], state=ApplicationState.SUBMITTED)
    url = url.format(phase=phase.id, application=application.id)
    assert as_role("member").get(url).status_code == 403
    anonymous = as_role("anonymous").get(url)
    assert anonymous.status_code == 303 and "/account/sign-in" in anonymous.headers["Location"]
    assert as_role("staff").get(url).status_code == 200


def test_members_cannot_post_to_staff_pages(app: Any, as_role: Any, users: dict[str, Any]) -> None:
    phase = make_phase(state=PhaseState.DRAFT)
    member = as_role("member")
    assert member.post(f"/staff/phases/{phase.id}/state", data={"to": "open"}).status_code == 403
    assert member.post("/staff/phases/new", data={}).status_code == 403
    assert member.post(f"/staff/phases/{phase.id}/panel", data={"email": users["member"].email}).status_code == 403
    assert db.session.get(Phase, phase.id).state == PhaseState.DRAFT


def phase_form(**changes: str) -> dict[str, str]:
    today = london_today()
    data = {
        "name": "Phase 3 (2026)",
        "summary": "Pilots.",
        "eligibility": "Groups.",
        "max_award": "15,000.00",
        "pot": "£60,000",
        "delivery_months": "7",
        "target_awards": "4",
        "opens_on": today.isoformat(),
        "closes_on": (today + timedelta(days=30)).isoformat(),
        "criterion_1_name": "Lived experience leads",
        "criterion_1_weight": "60",
        "criterion_2_name": "Realistic plan",
        "criterion_2_weight": "40",
    }
    data.update(changes)
    return data


def test_staff_make_a_phase_through_the_form(app: Any, as_role: Any) -> None:
    staff = as_role("staff")
    assert staff.get("/staff/phases/new").status_code == 200
    response = staff.post("/staff/phases/new", data=phase_form())
    assert response.status_code == 303
    phase = db.session.scalars(sa.select(Phase)).one()
    assert (phase.max_award_pence, phase.pot_pence, phase.state) == (15_000_00, 60_000_00, PhaseState.DRAFT)
    assert [c.weight for c in phases.criteria_of(phase.id)] == [60, 40]
    assert "£15,000.00" in staff.get("/staff/phases").get_data(as_text=True)
    # Times left empty: the round opens at midnight and closes at 23:59, UK time.
    assert (phase.opens_time, phase.closes_time) == (time(0, 0), time(23, 59))


def test_a_phase_opens_and_closes_at_the_times_given(app: Any, as_role: Any) -> None:
    staff = as_role("staff")
    response = staff.post("/staff/phases/new", data=phase_form(opens_time="09:30", closes_time="17:00"))
    assert response.status_code == 303
    phase = db.session.scalars(sa.select(Phase)).one()
    assert (phase.opens_time, phase.closes_time) == (time(9, 30), time(17, 0))
    assert "at 09:30 on" in staff.get(f"/phases/{phase.id}").get_data(as_text=True)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        (
            {"criterion_1_name": "", "criterion_1_weight": "", "criterion_2_name": "", "criterion_2_weight": ""},
            "Add at least one scoring criterion",
        ),
        ({"max_award": "15000.555"}, "Enter an amount in pounds"),
        ({"pot": "1000"}, "The pot must be at least the maximum award"),
        ({"criterion_2_weight": ""}, "Give criterion 2 a weight"),
    ],
)
def test_a_wrong_phase_form_is_shown_again_with_the_message(
    app: Any, as_role: Any, changes: dict[str, str], message: str
) -> None:
    response = as_role("staff").post("/staff/phases/new", data=phase_form(**changes))
    assert response.status_code == 422
    assert message in response.get_data(as_text=True)
    assert count(Phase) == 0


def test_staff_move_a_phase_and_an_illegal_move_is_refused(app: Any, as_role: Any) -> None:
    staff = as_role("staff")
    phase = make_phase(state=PhaseState.DRAFT, today=london_today())
    refused = staff.post(f"/staff/phases/{phase.id}/state", data={"to": "active"})
    assert refused.status_code == 422 and "cannot move to pilots running" in refused.get_data(as_text=True)
    assert staff.post(f"/staff/phases/{phase.id}/state", data={"to": "open", "confirm": "yes"}).status_code == 303
    assert db.session.get(Phase, phase.id).state == PhaseState.OPEN
    closed_window = make_phase(
        state=PhaseState.DRAFT, opens=london_today() + timedelta(days=3), closes=london_today() + timedelta(days=9)
    )
    early = staff.post(f"/staff/phases/{closed_window.id}/state", data={"to": "open"})
    assert early.status_code == 422 and "can open only between" in early.get_data(as_text=True)


def test_staff_edit_a_draft_phase(app: Any, as_role: Any) -> None:
    staff = as_role("staff")
    phase = make_phase(state=PhaseState.DRAFT)
    page = staff.get(f"/staff/phases/{phase.id}/edit").get_data(as_text=True)
    assert 'value="5000.00"' in page and "Lived experience leads" in page
    response = staff.post(f"/staff/phases/{phase.id}/edit", data=phase_form(name="Renamed", max_award="4000"))
    assert response.status_code == 303
    phase = db.session.get(Phase, phase.id)
    assert (phase.name, phase.max_award_pence) == ("Renamed", 4_000_00)


# --- pages: applications ------------------------------------------------------------------------------------


def test_an_applicant_applies_writes_budgets_and_submits(app: Any, as_role: Any, users: dict[str, Any]) -> None:
    lead = as_role("member")
    phase = make_phase(today=london_today())
    started = lead.post(f"/phases/{phase.id}/apply")
    assert started.status_code == 303
    application = db.session.scalars(sa.select(Application)).one()
    assert started.headers["Location"].endswith(f"/applications/{application.id}/edit")
    assert lead.get(f"/applications/{application.id}/edit").status_code == 200
    assert lead.post(f"/applications/{application.id}/edit", data=COMPLETE.__dict__).status_code == 303
    line = lead.post(
        f"/applications/{application.id}/budget-lines",
        data={"category": "lived_experience", "description": "Co-researchers", "amount": "2,500"},
    )
    assert line.status_code == 303
    bad = lead.post(
        f"/applications/{application.id}/budget-lines",
        data={"category": "venue", "description": "Room", "amount": "lots"},
    )
    assert bad.status_code == 422 and "Enter an amount in pounds" in bad.get_data(as_text=True)
    page = lead.get(f"/applications/{application.id}").get_data(as_text=True)
    assert "£2,500.00" in page
    assert lead.post(f"/applications/{application.id}/submit", data={}).status_code == 303
    assert db.session.get(Application, application.id).state == ApplicationState.SUBMITTED
    mine = lead.get("/applications").get_data(as_text=True)
    assert "Peer-led recovery cafés" in mine and "Submitted" in mine


def test_htmx_adds_a_budget_line_and_answers_with_the_budget_section(
    app: Any, as_role: Any, users: dict[str, Any]
) -> None:
    application = make_application(make_phase(today=london_today()), users["member"], lines=(1_000_00,))
    lead, url = as_role("member"), f"/applications/{application.id}/budget-lines"
    added = lead.post(
        url, headers={"HX-Request": "true"}, data={"category": "venue", "description": "Room hire", "amount": "250"}
    )
    text = added.get_data(as_text=True)
    assert added.status_code == 200 and "<html" not in text and "HX-Redirect" not in added.headers
    assert "Room hire" in text and "£1,250.00" in text and "Added: Room hire." in text
    assert 'id="budget-title"' in text and "data-error-summary" not in text
    bad = lead.post(url, headers={"HX-Request": "true"}, data={"category": "venue", "description": "", "amount": "x"})
    text = bad.get_data(as_text=True)
    assert bad.status_code == 200 and "<html" not in text and "data-error-summary" in text  # htmx: 4xx is an error
    assert "Say what this budget line is for." in text and 'aria-invalid="true"' in text
    assert count(BudgetLine) == 2
    # Without htmx the same refusal is the whole page, with a single error summary at the top.
    whole = lead.post(url, data={"category": "venue", "description": "", "amount": "x"})
    page = whole.get_data(as_text=True)
    assert whole.status_code == 422 and "<html" in page and page.count("data-error-summary") == 1


def test_save_and_submit_sends_the_words_with_it(app: Any, as_role: Any, users: dict[str, Any]) -> None:
    application = make_application(make_phase(today=london_today()), users["member"], complete=False)
    response = as_role("member").post(f"/applications/{application.id}/submit", data=COMPLETE.__dict__)
    assert response.status_code == 303
    application = db.session.get(Application, application.id)
    assert application.state == ApplicationState.SUBMITTED and application.co_evaluation == COMPLETE.co_evaluation


def test_a_refused_submission_shows_each_message_and_sends_nothing(
    app: Any, as_role: Any, users: dict[str, Any]
) -> None:
    today = london_today()
    phase = make_phase(opens=today - timedelta(days=20), closes=today - timedelta(days=1), max_award=1_000_00)
    application = make_application(phase, users["member"], complete=False, lines=(2_000_00,))
    response = as_role("member").post(
        f"/applications/{application.id}/submit", data={**ApplicationDetails().__dict__, "title": "A new title"}
    )
    page = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "Applications closed on" in page and "Reduce your budget lines by £1,000.00" in page
    assert 'id="co_design-error"' in page and "shape the design" in page
    assert 'value="A new title"' in page  # what was typed stays on the page
    application = db.session.get(Application, application.id)
    # Not sent, but what was typed is saved as the draft (issue 11: drafts survive a refused submit).
    assert (application.state, application.title) == (ApplicationState.DRAFT, "A new title")
    assert count(OutboxMessage) == 0


def test_withdrawing_needs_the_box_ticked(app: Any, as_role: Any, users: dict[str, Any]) -> None:
    application = make_application(make_phase(), users["member"], state=ApplicationState.SUBMITTED)
    lead = as_role("member")
    unconfirmed = lead.post(f"/applications/{application.id}/withdraw", data={})
    assert unconfirmed.status_code == 422 and "Tick the box" in unconfirmed.get_data(as_text=True)
    assert lead.post(f"/applications/{application.id}/withdraw", data={"confirm": "y"}).status_code == 303
    assert db.session.get(Application, application.id).state == ApplicationState.WITHDRAWN


def test_invitations_through_the_page(app: Any, as_role: Any, users: dict[str, Any]) -> None:
    application = make_application(make_phase(), users["member"])
    lead = as_role("member")
    assert lead.post(f"/applications/{application.id}/invite", data={"email": "not an email"}).status_code == 422
    invited = lead.post(f"/applications/{application.id}/invite", data={"email": "finance@example.test"})
    assert invited.status_code == 303
    # Already signed in elsewhere: opening "Your applications" joins nothing; accepting does.
    finance = as_role("finance")
    finance.get("/applications")
    assert (users["finance"], TeamRole.MEMBER) not in applications.team_of(application.id)
    invitation = db.session.scalars(sa.select(Invitation)).one()
    assert finance.post(f"/invitations/{invitation.id}/accept").status_code == 303
    assert (users["finance"], TeamRole.MEMBER) in applications.team_of(application.id)


URLS_OF_AN_APPLICATION = [
    ("GET", "/applications/{id}"),
    ("GET", "/applications/{id}/edit"),
    ("POST", "/applications/{id}/edit"),
    ("POST", "/applications/{id}/budget-lines"),
    ("POST", "/applications/{id}/budget-lines/{line}/delete"),
    ("POST", "/applications/{id}/invite"),
    ("POST", "/applications/{id}/submit"),
    ("POST", "/applications/{id}/withdraw"),
]


@pytest.mark.parametrize(("method", "url"), URLS_OF_AN_APPLICATION)
def test_a_team_sees_only_its_own_applications(
    app: Any, as_role: Any, users: dict[str, Any], method: str, url: str
) -> None:
    phase = make_phase()
    other_team = make_application(phase, factories.user(), title="Another team's project")
    line = applications.budget_lines(other_team.id)[0]
    response = as_role("member").open(url.format(id=other_team.id, line=line.id), method=method, data={})
    assert response.status_code == 403
    assert db.session.get(Application, other_team.id).state == ApplicationState.DRAFT
    assert len(applications.budget_lines(other_team.id)) == 2


def test_my_applications_lists_only_my_teams(app: Any, as_role: Any, users: dict[str, Any]) -> None:
    phase = make_phase()
    make_application(phase, users["member"], title="Mine")
    make_application(phase, factories.user(), title="Theirs", members=(users["member"],))
    make_application(phase, factories.user(), title="Nothing to do with me")
    page = as_role("member").get("/applications").get_data(as_text=True)
    assert "Mine" in page and "Theirs" in page and "Nothing to do with me" not in page


def test_missing_ids_are_not_found(app: Any, as_role: Any, users: dict[str, Any]) -> None:
    member, staff = as_role("member"), as_role("staff")
    application = make_application(make_phase(), users["member"])
    assert member.get("/applications/99999").status_code == 404
    assert member.post(f"/applications/{application.id}/budget-lines/99999/delete").status_code == 404
    assert member.post("/phases/99999/apply").status_code == 404
    assert staff.get("/staff/phases/99999/edit").status_code == 404
    assert staff.get("/staff/applications/99999/decision").status_code == 404

"""Panel review and decisions: scoring, conflicts, who sees what, weighted averages, awards and
the pot, and the query-count guards on the staff's side-by-side list and the reviewer's list."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import pytest
import sqlalchemy as sa

from portal.accounts.models import User
from portal.core import permissions
from portal.core.audit import AuditEntry
from portal.core.errors import NotAllowed, RuleBroken, RulesBroken
from portal.core.extensions import db
from portal.core.formatting import london_today
from portal.core.outbox import OutboxMessage
from portal.grants import decisions, reviews
from portal.grants.models import (
    Application,
    ApplicationState,
    Decision,
    Outcome,
    Phase,
    PhaseState,
    Recommendation,
    Review,
    ReviewerAssignment,
    ReviewState,
    Score,
)
from portal.grants.phases import criteria_of
from portal.remuneration import rates
from portal.remuneration.models import Claim, Unit
from portal.teams.models import Project
from tests import factories
from tests.factories import make_application, make_phase
from tests.helpers import client_for, count, fields_of, queries_for, sign_in

NOW, TODAY = factories.APPLICATION_SENT_AT, factories.PHASE_TODAY

WEIGHTS = (("Lived experience leads", 3), ("Difference it makes", 2), ("Realistic plan", 1))


def assign(phase: Phase, reviewer: User, application: Application | None = None) -> ReviewerAssignment:
    staff = db.session.scalar(sa.select(User).where(User.email == "staff@example.test"))
    assignment = reviews.assign_reviewer(phase, by=staff, email=reviewer.email, application=application)
    db.session.commit()
    return assignment


def score_all(
    application: Application,
    reviewer: User,
    scores: tuple[int, ...],
    recommendation: Recommendation = Recommendation.FUND,
    *,
    send: bool = True,
) -> Any:
    criteria = criteria_of(application.phase_id)
    given = {c.id: (s, f"Comment by {reviewer.name}") for c, s in zip(criteria, scores, strict=True)}
    reviews.save_review(
        application, by=reviewer, recommendation=recommendation, comment="Overall, promising.", scores=given
    )
    claim = reviews.submit_review(application, by=reviewer, now=NOW, today=TODAY) if send else None
    db.session.commit()
    return claim


@pytest.fixture
def panel(app: Any, users: dict[str, Any]) -> dict[str, Any]:
    """A phase with the panel at work: one application, two member reviewers on the whole phase."""
    phase = make_phase(state=PhaseState.ASSESSING, criteria=WEIGHTS)
    lead = factories.user(name="Lead Applicant")
    application = make_application(phase, lead, state=ApplicationState.UNDER_REVIEW, lines=(3_000_00, 1_000_00))
    first, second = factories.user(name="Reviewer One"), factories.user(name="Reviewer Two")
    assign(phase, first)
    assign(phase, second)
    return {"phase": phase, "application": application, "lead": lead, "first": first, "second": second}


@pytest.fixture
def panel_rate(app: Any, users: dict[str, Any]) -> Any:
    activity = rates.add_activity_type(name="Panel review", unit=Unit.FIXED_FEE, by=users["admin"])
    rates.set_rate(activity, amount_pence=120_00, effective_from=date(2025, 1, 1), by=users["admin"])
    db.session.commit()
    return activity


# --- weighted averages --------------------------------------------------------------------------


def test_weighted_average_by_hand() -> None:
    # Weights 3, 2, 1. Reviewer A scores 5, 4, 2: (15 + 8 + 2) / 6 = 4.1666...
    # Reviewer B scores 3, 3, 4: (9 + 6 + 4) / 6 = 3.1666...
    # Mean (25/6 + 19/6) / 2 = 44/12 = 3.6666... -> 3.67; spread 25/6 - 19/6 = 1.00.
    sums = [(25, 6), (19, 6)]
    assert reviews.weighted_average(sums) == Decimal("3.67")
    assert reviews.spread(sums) == Decimal("1.00")
    assert reviews.weighted_average([(7, 2)]) == Decimal("3.50") and reviews.spread([(7, 2)]) == Decimal("0.00")
    assert reviews.weighted_average([]) is None and reviews.spread([]) is None


def test_weighted_averages_rounds_half_up() -> None:
    assert reviews.weighted_average([(25, 8)]) == Decimal("3.13")  # 3.125 exactly


def test_the_panel_figures_weight_each_review_then_average(panel: dict[str, Any], users: dict[str, Any]) -> None:
    application = panel["application"]
    score_all(application, panel["first"], (5, 4, 2), Recommendation.FUND)
    score_all(application, panel["second"], (3, 3, 4), Recommendation.MAYBE)
    third = factories.user()
    assign(panel["phase"], third, application)
    score_all(application, third, (1, 1, 1), send=False)  # a draft does not count yet
    summary = reviews.panel_summaries(panel["phase"].id, [application])[application.id]
    assert (summary.average, summary.spread) == (Decimal("3.67"), Decimal("1.00"))
    assert (summary.submitted, summary.assigned, summary.conflicts) == (2, 3, 0)
    assert summary.requested_pence == 4_000_00
    assert summary.recommendations == {Recommendation.FUND: 1, Recommendation.MAYBE: 1, Recommendation.DO_NOT_FUND: 0}


def test_staff_see_the_applications_side_by_side(panel: dict[str, Any], as_role: Any) -> None:
    application, phase = panel["application"], panel["phase"]
    score_all(application, panel["first"], (5, 4, 2))
    score_all(application, panel["second"], (3, 3, 4))
    low = make_application(phase, factories.user(), title="Another idea", state=ApplicationState.UNDER_REVIEW)
    score_all(low, panel["first"], (1, 2, 1), Recommendation.DO_NOT_FUND)
    make_application(phase, factories.user(), title="Still a draft")
    staff = as_role("staff")
    page = staff.get(f"/staff/phases/{phase.id}/applications").get_data(as_text=True)
    assert "3.67" in page and "1.00" in page and "£4,000.00" in page and "2 of 2" in page
    assert "Still a draft" not in page
    assert page.index("Peer-led recovery cafés") < page.index("Another idea")  # highest average first
    by_title = staff.get(f"/staff/phases/{phase.id}/applications?sort=title").get_data(as_text=True)
    assert by_title.index("Another idea") < by_title.index("Peer-led recovery cafés")
    # HTMX gets just the results; the filter narrows them.
    partial = staff.get(f"/staff/phases/{phase.id}/applications?state=withdrawn", headers={"HX-Request": "true"})
    text = partial.get_data(as_text=True)
    assert "<html" not in text and 'id="results"' in text and "0 applications" in text


# --- who sees what ---------------------------------------------------------------------------------


def test_reviewers_see_others_scores_only_after_sending_their_own(panel: dict[str, Any], as_role: Any) -> None:
    application, first, second = panel["application"], panel["first"], panel["second"]
    score_all(application, first, (5, 4, 2))
    assert not permissions.can(second, "application.see_all_reviews", application)
    client = as_role("anonymous")
    assert sign_in(client, second.email).status_code == 303
    before = client.get(f"/applications/{application.id}/review").get_data(as_text=True)
    assert "Comment by Reviewer One" not in before
    assert "Comment by Reviewer One" not in client.get(f"/applications/{application.id}").get_data(as_text=True)
    score_all(application, second, (3, 3, 4))
    assert permissions.can(second, "application.see_all_reviews", application)
    after = client.get(f"/applications/{application.id}/review").get_data(as_text=True)
    assert "Comment by Reviewer One" in after and "Reviewer One" not in after.replace("Comment by Reviewer One", "")


def test_applicants_never_see_the_reviews(panel: dict[str, Any], app: Any) -> None:
    score_all(panel["application"], panel["first"], (5, 4, 2))
    page = client_for(app, panel["lead"]).get(f"/applications/{panel['application'].id}").get_data(as_text=True)
    assert "Comment by Reviewer One" not in page


def test_a_reviewer_sees_only_assigned_applications(panel: dict[str, Any], app: Any, users: dict[str, Any]) -> None:
    phase, first = panel["phase"], panel["first"]
    other_phase = make_phase(name="Other round", state=PhaseState.ASSESSING)
    elsewhere = make_application(
        other_phase, factories.user(), title="Not assigned", state=ApplicationState.UNDER_REVIEW
    )
    draft = make_application(phase, factories.user(), title="A draft in my phase")
    own = make_application(phase, first, title="My own team's", state=ApplicationState.UNDER_REVIEW)
    client = client_for(app, first)
    listing = client.get("/reviews").get_data(as_text=True)
    assert "Peer-led recovery cafés" in listing
    assert "Not assigned" not in listing and "A draft in my phase" not in listing and "My own team's" not in listing
    assert "1 still to score" in listing
    for application in (elsewhere, draft):
        assert client.get(f"/applications/{application.id}").status_code == 403
        assert client.get(f"/applications/{application.id}/review").status_code == 403
    assert client.get(f"/applications/{own.id}/review").status_code == 403  # no reviewing your own team
    # Assigned to one application only: the rest of the phase stays out of sight.
    single = factories.user()
    assign(phase, single, panel["application"])
    assert not permissions.can(single, "application.view", own)
    assert permissions.can(single, "application.review", panel["application"])


def test_a_removed_reviewer_loses_access(panel: dict[str, Any], app: Any, users: dict[str, Any]) -> None:
    assignment = db.session.scalars(
        sa.select(ReviewerAssignment).where(ReviewerAssignment.reviewer_id == panel["first"].id)
    ).one()
    reviews.remove_assignment(assignment, by=users["staff"])
    db.session.commit()
    assert client_for(app, panel["first"]).get(f"/applications/{panel['application'].id}").status_code == 403


# --- conflicts of interest -----------------------------------------------------------------------------


def test_a_conflicted_reviewer_sees_nothing_more(panel: dict[str, Any], app: Any) -> None:
    application, first = panel["application"], panel["first"]
    score_all(application, first, (5, 4, 2), send=False)
    client = client_for(app, first)
    refused = client.post(f"/applications/{application.id}/review/conflict", data={"reason": "  "})
    assert refused.status_code == 422 and "Say briefly why" in refused.get_data(as_text=True)
    assert (
        client.post(
            f"/applications/{application.id}/review/conflict", data={"reason": "I know the lead applicant."}
        ).status_code
        == 303
    )
    assert client.get(f"/applications/{application.id}").status_code == 403
    assert client.get(f"/applications/{application.id}/review").status_code == 403
    criterion = criteria_of(application.phase_id)[0]
    assert (
        client.post(
            f"/applications/{application.id}/review/criteria/{criterion.id}", data={f"score_{criterion.id}": "5"}
        ).status_code
        == 403
    )
    review = reviews.review_of(application.id, first.id)
    assert review.state == ReviewState.CONFLICT and review.conflict_reason == "I know the lead applicant."
    assert count(Score) == 0  # their draft scores are dropped
    summary = reviews.panel_summaries(panel["phase"].id, [application])[application.id]
    assert (summary.conflicts, summary.submitted, summary.assigned, summary.average) == (1, 0, 1, None)
    listing = client.get("/reviews").get_data(as_text=True)
    assert "you declared a conflict of interest" in listing and f"/applications/{application.id}" not in listing
    assert db.session.scalar(sa.select(AuditEntry.action).where(AuditEntry.action == "review.conflict_declared"))


def test_staff_see_the_conflict_and_its_reason(panel: dict[str, Any], as_role: Any) -> None:
    reviews.declare_conflict(panel["application"], by=panel["first"], reason="My sister is on the team.", now=NOW)
    db.session.commit()
    page = as_role("staff").get(f"/applications/{panel['application'].id}").get_data(as_text=True)
    assert "My sister is on the team." in page


# --- scoring -----------------------------------------------------------------------------------------------


def test_a_review_needs_every_score_and_a_recommendation(panel: dict[str, Any]) -> None:
    application, first = panel["application"], panel["first"]
    criteria = criteria_of(application.phase_id)
    reviews.save_score(application, criteria[0], by=first, score=4, comment="Strong")
    db.session.commit()
    with pytest.raises(RulesBroken) as error:
        reviews.submit_review(application, by=first, now=NOW, today=TODAY)
    assert fields_of(error) == {f"score_{criteria[1].id}", f"score_{criteria[2].id}", "recommendation"}
    db.session.rollback()
    assert reviews.review_of(application.id, first.id).state == ReviewState.DRAFT


@pytest.mark.parametrize(("score", "comment", "field"), [(6, "", "score"), (0, "", "score"), (None, "Nice", "score")])
def test_scores_run_from_one_to_five(panel: dict[str, Any], score: int | None, comment: str, field: str) -> None:
    criterion = criteria_of(panel["phase"].id)[0]
    with pytest.raises(RuleBroken) as error:
        reviews.save_score(panel["application"], criterion, by=panel["first"], score=score, comment=comment)
    assert error.value.field == f"{field}_{criterion.id}"


def test_a_sent_review_cannot_change(panel: dict[str, Any]) -> None:
    application = panel["application"]
    score_all(application, panel["first"], (5, 4, 2))
    with pytest.raises(RuleBroken, match="already sent"):
        reviews.save_score(application, criteria_of(application.phase_id)[0], by=panel["first"], score=1, comment="")


def test_only_assigned_reviewers_score(panel: dict[str, Any], users: dict[str, Any]) -> None:
    criterion = criteria_of(panel["phase"].id)[0]
    for person in (factories.user(), panel["lead"]):
        with pytest.raises(NotAllowed):
            reviews.save_score(panel["application"], criterion, by=person, score=3, comment="")


def test_sending_a_review_drafts_a_claim_for_a_member_reviewer(panel: dict[str, Any], panel_rate: Any) -> None:
    claim = score_all(panel["application"], panel["first"], (5, 4, 2))
    assert claim is not None
    saved = db.session.scalars(sa.select(Claim)).one()
    assert (saved.claimant_id, saved.activity_type_id, saved.fee_pence, saved.activity_date) == (
        panel["first"].id,
        panel_rate.id,
        120_00,
        TODAY,
    )
    assert saved.state.value == "draft"


def test_staff_reviewers_are_not_paid_again(panel: dict[str, Any], panel_rate: Any, users: dict[str, Any]) -> None:
    assign(panel["phase"], users["staff"])
    assert score_all(panel["application"], users["staff"], (3, 3, 3)) is None
    assert count(Claim) == 0


def test_without_a_panel_review_rate_the_review_is_still_sent(panel: dict[str, Any]) -> None:
    assert score_all(panel["application"], panel["first"], (5, 4, 2)) is None
    assert reviews.review_of(panel["application"].id, panel["first"].id).state == ReviewState.SUBMITTED
    assert count(Claim) == 0


def test_each_criterion_saves_in_place_with_htmx(panel: dict[str, Any], app: Any) -> None:
    application = panel["application"]
    criterion = criteria_of(application.phase_id)[0]
    client = client_for(app, panel["first"])
    url = f"/applications/{application.id}/review/criteria/{criterion.id}"
    htmx = {"HX-Request": "true"}
    saved = client.post(url, data={f"score_{criterion.id}": "4", f"comment_{criterion.id}": "Clear plan"}, headers=htmx)
    text = saved.get_data(as_text=True)
    # The fields go inside the criterion's block, and the status text into its status, out of band.
    assert saved.status_code == 200 and "<html" not in text and f'id="criterion-{criterion.id}"' not in text
    assert f'id="score_{criterion.id}"' in text
    assert f'<p id="criterion-{criterion.id}-status" hx-swap-oob="innerHTML">Your score for' in text
    assert "is saved" in text
    assert reviews.scores_of(reviews.review_of(application.id, panel["first"].id))[criterion.id].score == 4
    wrong = client.post(url, data={f"score_{criterion.id}": "", f"comment_{criterion.id}": "No score"}, headers=htmx)
    # Refused in place: a 200 (htmx would report a 4xx as an error), the message next to the score.
    text = wrong.get_data(as_text=True)
    assert wrong.status_code == 200 and "Choose a score" in text and "is saved" not in text
    assert f'id="score_{criterion.id}-error"' in text
    assert reviews.scores_of(reviews.review_of(application.id, panel["first"].id))[criterion.id].score == 4
    # Without htmx the same post answers with the page.
    assert client.post(url, data={f"score_{criterion.id}": "5"}).status_code == 303
    other_phase = make_phase(name="Elsewhere")
    elsewhere = criteria_of(other_phase.id)[0]
    assert client.post(f"/applications/{application.id}/review/criteria/{elsewhere.id}", data={}).status_code == 404


def test_the_whole_review_form_works_without_javascript(panel: dict[str, Any], app: Any, panel_rate: Any) -> None:
    application = panel["application"]
    criteria = criteria_of(application.phase_id)
    client = client_for(app, panel["first"])
    assert client.get(f"/applications/{application.id}/review").status_code == 200
    partial = {f"score_{criteria[0].id}": "4", "recommendation": "maybe", "action": "submit"}
    refused = client.post(f"/applications/{application.id}/review", data=partial)
    assert refused.status_code == 422
    assert "Score \u201cDifference it makes\u201d from 1 to 5." in refused.get_data(as_text=True)
    assert reviews.review_of(application.id, panel["first"].id) is None  # nothing saved
    draft = {**partial, "action": "save"}
    assert client.post(f"/applications/{application.id}/review", data=draft).status_code == 303
    assert reviews.review_of(application.id, panel["first"].id).recommendation == Recommendation.MAYBE
    whole = {**partial, f"score_{criteria[1].id}": "3", f"score_{criteria[2].id}": "5"}
    sent = client.post(f"/applications/{application.id}/review", data=whole, follow_redirects=True)
    assert "drafted a payment claim" in sent.get_data(as_text=True)
    assert reviews.review_of(application.id, panel["first"].id).state == ReviewState.SUBMITTED


# --- assigning reviewers -----------------------------------------------------------------------------------


def test_staff_assign_reviewers_by_email(panel: dict[str, Any], users: dict[str, Any], as_role: Any) -> None:
    phase, application = panel["phase"], panel["application"]
    with pytest.raises(RuleBroken, match="No one has an account"):
        reviews.assign_reviewer(phase, by=users["staff"], email="nobody@example.test")
    with pytest.raises(RuleBroken, match="already reviews every application"):
        reviews.assign_reviewer(phase, by=users["staff"], email=panel["first"].email)
    with pytest.raises(RuleBroken, match="on this application's team"):
        reviews.assign_reviewer(phase, by=users["staff"], email=panel["lead"].email, application=application)
    with pytest.raises(NotAllowed):
        reviews.assign_reviewer(phase, by=users["member"], email=users["member"].email)
    staff = as_role("staff")
    response = staff.post(
        f"/staff/phases/{phase.id}/panel",
        data={"email": users["finance"].email.upper(), "application_id": str(application.id)},
    )
    assert response.status_code == 303
    assert permissions.can(users["finance"], "application.review", application)
    assert [
        m.subject
        for m in db.session.scalars(sa.select(OutboxMessage).where(OutboxMessage.to_email == users["finance"].email))
    ]
    page = staff.get(f"/staff/phases/{phase.id}/panel").get_data(as_text=True)
    assert "Finance Person" in page and "Every application in this round" in page
    again = staff.post(f"/staff/phases/{phase.id}/panel", data={"email": "nobody@example.test", "application_id": ""})
    assert again.status_code == 422 and "No one has an account" in again.get_data(as_text=True)
    assignment = db.session.scalars(
        sa.select(ReviewerAssignment).where(ReviewerAssignment.reviewer_id == users["finance"].id)
    ).one()
    other = make_phase(name="Other round")
    assert staff.post(f"/staff/phases/{other.id}/panel/{assignment.id}/remove").status_code == 404
    assert staff.post(f"/staff/phases/{phase.id}/panel/{assignment.id}/remove").status_code == 303
    assert not permissions.can(users["finance"], "application.review", application)


# --- decisions ----------------------------------------------------------------------------------------------


def decide(application: Application, staff: User, **kwargs: Any) -> Decision:
    values: dict[str, Any] = {
        "outcome": Outcome.AWARD,
        "rationale": "Strong co-production throughout.",
        "amount_pence": 3_500_00,
        "start_date": TODAY,
    }
    values.update(kwargs)
    return decisions.record_decision(application, by=staff, now=NOW, **values)


def test_an_award_creates_the_project_and_tells_the_lead(panel: dict[str, Any], users: dict[str, Any]) -> None:
    application = panel["application"]
    decision = decide(application, users["staff"])
    db.session.commit()
    assert (decision.outcome, decision.amount_pence) == (Outcome.AWARD, 3_500_00)
    assert application.state == ApplicationState.AWARDED
    project = db.session.scalars(sa.select(Project)).one()
    assert (project.application_id, project.award_pence, project.start_date) == (application.id, 3_500_00, TODAY)
    entry = db.session.scalars(sa.select(AuditEntry).where(AuditEntry.action == "application.decided")).one()
    assert entry.after["outcome"] == "award" and entry.after["amount_pence"] == 3_500_00
    [message] = db.session.scalars(sa.select(OutboxMessage).where(OutboxMessage.to_email == panel["lead"].email))
    assert "£3,500.00" in message.body and "Strong co-production throughout." in message.body


def test_a_decline_tells_the_lead_with_the_reasons(panel: dict[str, Any], users: dict[str, Any]) -> None:
    decide(
        panel["application"],
        users["staff"],
        outcome=Outcome.DECLINE,
        amount_pence=None,
        start_date=None,
        rationale="The plan did not involve people with lived experience in decisions.",
    )
    db.session.commit()
    assert panel["application"].state == ApplicationState.DECLINED and count(Project) == 0
    [message] = db.session.scalars(sa.select(OutboxMessage).where(OutboxMessage.to_email == panel["lead"].email))
    assert "did not involve people" in message.body


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"amount_pence": 4_000_01}, "amount", "more than the £4,000.00 asked for"),
        ({"amount_pence": 0}, "amount", "more than £0"),
        ({"amount_pence": None}, "amount", "more than £0"),
        ({"rationale": "  "}, "rationale", "reasons"),
        ({"start_date": None}, "start_date", "starts"),
    ],
)
def test_a_wrong_award_is_refused_and_nothing_is_saved(
    panel: dict[str, Any], users: dict[str, Any], changes: dict[str, Any], field: str, message: str
) -> None:
    with pytest.raises(RuleBroken) as error:
        decide(panel["application"], users["staff"], **changes)
    assert field in fields_of(error)
    assert any(message in p.message for p in getattr(error.value, "problems", [error.value]))
    db.session.rollback()
    assert count(Decision) == 0 and count(Project) == 0
    assert db.session.scalar(sa.select(OutboxMessage.id).where(OutboxMessage.to_email == panel["lead"].email)) is None
    assert db.session.get(Application, panel["application"].id).state == ApplicationState.UNDER_REVIEW


def test_an_award_is_never_more_than_the_phase_maximum(app: Any, users: dict[str, Any]) -> None:
    phase = make_phase(state=PhaseState.ASSESSING, max_award=5_000_00)
    # Asked for more than the maximum (the phase's maximum was lowered after it was sent).
    application = make_application(phase, factories.user(), state=ApplicationState.UNDER_REVIEW, lines=(6_000_00,))
    with pytest.raises(RuleBroken, match="maximum of £5,000.00"):
        decide(application, users["staff"], amount_pence=5_500_00)
    decide(application, users["staff"], amount_pence=5_000_00)


def test_the_phases_awards_stay_within_its_pot(app: Any, users: dict[str, Any]) -> None:
    phase = make_phase(state=PhaseState.ASSESSING, max_award=5_000_00, pot=8_000_00)
    first = make_application(phase, factories.user(), state=ApplicationState.UNDER_REVIEW, lines=(5_000_00,))
    second = make_application(phase, factories.user(), state=ApplicationState.UNDER_REVIEW, lines=(5_000_00,))
    decide(first, users["staff"], amount_pence=5_000_00)
    db.session.commit()
    with pytest.raises(RuleBroken) as error:
        decide(second, users["staff"], amount_pence=3_000_01)
    assert error.value.field == "amount"
    assert "£8,000.01" in error.value.message and "£3,000.00 is left" in error.value.message
    db.session.rollback()
    assert count(Decision) == 1 and count(Project) == 1
    decide(second, users["staff"], amount_pence=3_000_00)  # exactly what is left is fine
    db.session.commit()
    assert decisions.awarded_total_pence(phase.id) == 8_000_00


@pytest.mark.parametrize(
    "state", [ApplicationState.DRAFT, ApplicationState.WITHDRAWN, ApplicationState.AWARDED, ApplicationState.DECLINED]
)
def test_only_sent_applications_are_decided(app: Any, users: dict[str, Any], state: ApplicationState) -> None:
    application = make_application(make_phase(state=PhaseState.ASSESSING), factories.user(), state=state)
    with pytest.raises(RuleBroken) as error:
        decide(application, users["staff"])
    assert error.value.field == "state"


def test_one_decision_per_application(panel: dict[str, Any], users: dict[str, Any]) -> None:
    decide(panel["application"], users["staff"], outcome=Outcome.DECLINE)
    db.session.commit()
    with pytest.raises(RuleBroken):
        decide(panel["application"], users["staff"])


@pytest.mark.parametrize("state", [PhaseState.OPEN, PhaseState.CLOSED])
def test_decisions_wait_for_the_panel(app: Any, users: dict[str, Any], state: PhaseState) -> None:
    application = make_application(make_phase(state=state), factories.user(), state=ApplicationState.SUBMITTED)
    with pytest.raises(RuleBroken, match="panel assessing"):
        decide(application, users["staff"])


def test_members_cannot_decide(panel: dict[str, Any], users: dict[str, Any]) -> None:
    with pytest.raises(NotAllowed):
        decide(panel["application"], users["member"])


def test_staff_record_a_decision_through_the_form(panel: dict[str, Any], as_role: Any) -> None:
    staff = as_role("staff")
    url = f"/staff/applications/{panel['application'].id}/decision"
    form = staff.get(url).get_data(as_text=True)
    assert 'value="4000.00"' in form and f'value="{london_today().isoformat()}"' in form
    over = staff.post(
        url, data={"outcome": "award", "rationale": "Good.", "amount": "4,000.01", "start_date": TODAY.isoformat()}
    )
    assert over.status_code == 422 and "asked for" in over.get_data(as_text=True)
    missing = staff.post(url, data={"outcome": "decline", "rationale": ""})
    assert missing.status_code == 422 and "Write the panel&#39;s reasons" in missing.get_data(as_text=True)
    assert count(Decision) == 0
    done = staff.post(
        url,
        data={
            "outcome": "award",
            "rationale": "Good.",
            "amount": "4000",
            "start_date": (london_today() + timedelta(days=7)).isoformat(),  # not in the past
        },
    )
    assert done.status_code == 303
    assert db.session.scalars(sa.select(Project)).one().award_pence == 4_000_00
    assert "Decision recorded" in staff.get(url).get_data(as_text=True)


def test_the_decision_form_refuses_an_award_over_the_pot(app: Any, users: dict[str, Any], as_role: Any) -> None:
    phase = make_phase(state=PhaseState.ASSESSING, max_award=5_000_00, pot=8_000_00)
    first = make_application(phase, factories.user(), state=ApplicationState.UNDER_REVIEW, lines=(5_000_00,))
    second = make_application(phase, factories.user(), state=ApplicationState.UNDER_REVIEW, lines=(5_000_00,))
    decide(first, users["staff"], amount_pence=5_000_00)
    db.session.commit()
    staff = as_role("staff")
    refused = staff.post(
        f"/staff/applications/{second.id}/decision",
        data={"outcome": "award", "rationale": "Good.", "amount": "3,000.01", "start_date": TODAY.isoformat()},
    )
    page = refused.get_data(as_text=True)
    assert refused.status_code == 422 and "data-error-summary" in page
    assert 'id="amount-error"' in page and "£3,000.00 is left" in page and 'value="3,000.01"' in page
    assert count(Decision) == 1 and count(Project) == 1
    assert db.session.get(Application, second.id).state == ApplicationState.UNDER_REVIEW


# --- query-count guards ---------------------------------------------------------------------------------------


def _reviewed_applications(phase: Phase, reviewers: list[User], how_many: int) -> None:
    criteria = criteria_of(phase.id)
    for number in range(how_many):
        application = make_application(
            phase,
            factories.user(),
            title=f"Application {number}",
            state=ApplicationState.UNDER_REVIEW,
            members=(factories.user(),),
        )
        for position, reviewer in enumerate(reviewers):
            review = Review(
                application_id=application.id,
                reviewer_id=reviewer.id,
                state=ReviewState.SUBMITTED if position else ReviewState.DRAFT,
                recommendation=Recommendation.FUND,
                comment="",
                conflict_reason="",
                submitted_at=NOW,
            )
            db.session.add(review)
            db.session.flush()
            for criterion in criteria:
                db.session.add(Score(review_id=review.id, criterion_id=criterion.id, score=3, comment=""))
    db.session.commit()


@pytest.mark.parametrize("sort", ["average", "title"])
def test_the_side_by_side_list_does_not_grow_with_rows(
    app: Any, as_role: Any, users: dict[str, Any], sort: str
) -> None:
    app.config["PAGE_SIZE"] = 100
    phase = make_phase(state=PhaseState.ASSESSING)
    reviewers = [factories.user(), factories.user()]
    for reviewer in reviewers:
        assign(phase, reviewer)
    staff = as_role("staff")
    url = f"/staff/phases/{phase.id}/applications?sort={sort}"
    _reviewed_applications(phase, reviewers, 5)
    with_few = queries_for(staff, url)
    _reviewed_applications(phase, reviewers, 45)
    page = staff.get(url).get_data(as_text=True)
    assert "50 applications" in page and "Page 1 of" not in page
    assert queries_for(staff, url) == with_few


def test_the_reviewers_list_does_not_grow_with_rows(app: Any, users: dict[str, Any]) -> None:
    app.config["PAGE_SIZE"] = 100
    reviewer = factories.user()
    first_phase = make_phase(state=PhaseState.ASSESSING, name="First")
    second_phase = make_phase(state=PhaseState.ASSESSING, name="Second")
    assign(first_phase, reviewer)
    client = client_for(app, reviewer)
    _reviewed_applications(first_phase, [reviewer], 5)
    with_few = queries_for(client, "/reviews")
    _reviewed_applications(first_phase, [reviewer], 25)
    for number in range(20):  # assigned one by one, in another phase
        application = make_application(
            second_phase, factories.user(), title=f"Single {number}", state=ApplicationState.SUBMITTED
        )
        assign(second_phase, reviewer, application)
    page = client.get("/reviews").get_data(as_text=True)
    assert "of 50 applications" in page and "Page 1 of" not in page
    assert queries_for(client, "/reviews") == with_few

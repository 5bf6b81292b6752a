"""Command-line tasks: create-user and seed-demo."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from flask import Flask

from portal.accounts.models import Role, User
from portal.core.extensions import db
from portal.demo import DEMO_PASSWORD
from portal.teams.models import TeamMembership, TeamRole
from tests.helpers import sign_in


def test_create_user(app: Flask) -> None:
    runner = app.test_cli_runner()
    result = runner.invoke(
        args=[
            "create-user",
            "--email",
            "New@Example.test",
            "--name",
            "New Staff",
            "--role",
            "staff",
            "--password",
            "a long staff passphrase",
        ]
    )
    assert result.exit_code == 0, result.output
    person = db.session.scalar(sa.select(User).where(User.email == "new@example.test"))
    assert person.role == Role.STAFF and person.name == "New Staff"
    again = runner.invoke(
        args=["create-user", "--email", "new@example.test", "--name", "X", "--password", "a long staff passphrase"]
    )
    assert again.exit_code != 0 and "already exists" in again.output
    weak = runner.invoke(args=["create-user", "--email", "w@example.test", "--name", "W", "--password", "short"])
    assert weak.exit_code != 0 and "at least 10 characters" in weak.output


def test_seed_demo_is_idempotent_and_the_accounts_work(app: Flask, client: Any) -> None:
    runner = app.test_cli_runner()
    assert runner.invoke(args=["seed-demo"]).exit_code == 0
    first = db.session.scalar(sa.select(sa.func.count()).select_from(User))
    result = runner.invoke(args=["seed-demo"])
    assert result.exit_code == 0 and "0 new records" in result.output
    assert db.session.scalar(sa.select(sa.func.count()).select_from(User)) == first
    demo_accounts = {
        "admin@demo.test",
        "staff@demo.test",
        "finance@demo.test",
        "lead@demo.test",
        "member@demo.test",
        "reviewer@demo.test",
    }
    roles = dict(db.session.execute(sa.select(User.email, User.role).where(User.email.in_(demo_accounts))).all())
    assert set(roles) == demo_accounts
    assert roles["admin@demo.test"] == Role.ADMIN and roles["finance@demo.test"] == Role.FINANCE
    assert roles["staff@demo.test"] == Role.STAFF and roles["member@demo.test"] == Role.MEMBER
    lead = db.session.scalar(sa.select(User).where(User.email == "lead@demo.test"))
    assert db.session.scalar(sa.select(TeamMembership.role).where(TeamMembership.user_id == lead.id)) == TeamRole.LEAD
    for email in roles:
        assert sign_in(client, email, DEMO_PASSWORD).status_code == 303
        client.post("/account/sign-out")


def test_seed_demo_is_refused_in_production(app: Flask) -> None:
    app.config["ENV"] = "production"
    result = app.test_cli_runner().invoke(args=["seed-demo"])
    assert result.exit_code != 0 and "refused" in result.output
    assert db.session.scalar(sa.select(sa.func.count()).select_from(User)) == 0


def test_seed_demo_payments(app: Flask) -> None:
    from portal.remuneration.models import BatchState, Claim, ClaimState, PaymentBatch, PaymentPreference, Rate

    assert app.test_cli_runner().invoke(args=["seed-demo"]).exit_code == 0
    member = db.session.scalar(sa.select(User).where(User.email == "member@demo.test"))
    states = set(db.session.scalars(sa.select(Claim.state).where(Claim.claimant_id == member.id)))
    assert states == set(ClaimState)
    preference = db.session.get(PaymentPreference, member.id)
    assert preference.weekly_limit_pence == 19600 and preference.method.value == "voucher"
    changes = list(
        db.session.scalars(sa.select(Rate.amount_pence).order_by(Rate.activity_type_id, Rate.effective_from))
    )
    pairs = list(zip(changes[::2], changes[1::2], strict=False))
    assert all(after * 10 == before * 11 for before, after in pairs)  # +10% on 16 December 2025
    assert (
        db.session.scalar(
            sa.select(sa.func.count()).select_from(PaymentBatch).where(PaymentBatch.state == BatchState.PAID)
        )
        == 1
    )


def test_seed_demo_grants(app: Flask) -> None:
    from portal.core.formatting import london_today
    from portal.grants.models import Phase, ProgressReport, ReportState, ReviewerAssignment
    from portal.teams.models import Project

    assert app.test_cli_runner().invoke(args=["seed-demo"]).exit_code == 0
    pilots = dict(
        db.session.execute(
            sa.select(Phase.name, sa.func.count(Project.id))
            .join(Project, Project.phase_id == Phase.id)
            .group_by(Phase.name)
        ).all()
    )
    assert pilots["Phase 1 (2018)"] == 5 and pilots["Phase 2 (2019–2020)"] == 4
    phase_one = db.session.scalar(sa.select(Phase).where(Phase.name == "Phase 1 (2018)"))
    assert (phase_one.delivery_months, phase_one.max_award_pence) == (4, 500_000)
    titles = set(db.session.scalars(sa.select(Project.title)))
    assert {"Voices in Maternity Care", "Hearing Birdsong", "Authentistic"} <= titles
    lead = db.session.scalar(sa.select(User).where(User.email == "lead@demo.test"))
    led = db.session.scalar(
        sa.select(sa.func.count())
        .select_from(TeamMembership)
        .where(TeamMembership.user_id == lead.id, TeamMembership.role == TeamRole.LEAD)
    )
    assert led == 1
    reviewer = db.session.scalar(sa.select(User).where(User.email == "reviewer@demo.test"))
    assignment = db.session.scalar(sa.select(ReviewerAssignment).where(ReviewerAssignment.reviewer_id == reviewer.id))
    assert db.session.get(Phase, assignment.phase_id).state == "open"
    today = london_today()
    open_reports = list(
        db.session.scalars(
            sa.select(ProgressReport).where(ProgressReport.state.in_([ReportState.DUE, ReportState.DRAFT]))
        )
    )
    assert sum(1 for r in open_reports if r.due_on < today) == 1  # one overdue
    assert any(r.due_on >= today for r in open_reports)  # some due
    assert (
        db.session.scalar(
            sa.select(sa.func.count()).select_from(ProgressReport).where(ProgressReport.state == ReportState.SUBMITTED)
        )
        >= 1
    )

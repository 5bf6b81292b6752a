"""The demo data for gatherings and the directory: seeded once, whatever the number of runs."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from flask import Flask

from portal.core.extensions import db
from portal.directory.models import DirectoryEntry
from portal.gatherings import demo
from portal.gatherings.models import Gathering, Rsvp, RsvpState
from portal.remuneration.models import Claim
from tests.helpers import sign_in


def test_demo_gatherings_and_directory(app: Flask, client: Any) -> None:
    runner = app.test_cli_runner()
    for _ in range(2):
        result = runner.invoke(args=["seed-demo"])
        assert result.exit_code == 0, result.output
    db.session.expire_all()
    by_title = {g.title: g for g in db.session.scalars(sa.select(Gathering))}
    assert set(by_title) == {demo.PAST_WORKSHOP, demo.MEET_UP, demo.SMALL_SESSION}

    past = by_title[demo.PAST_WORKSHOP]
    paid_rsvps = db.session.scalars(
        sa.select(Rsvp).where(Rsvp.gathering_id == past.id, Rsvp.lived_experience.is_(True))
    ).all()
    assert len(paid_rsvps) == 2 and all(r.attended_at and r.claim_id for r in paid_rsvps)
    claims = db.session.scalars(sa.select(Claim).where(Claim.id.in_([r.claim_id for r in paid_rsvps]))).all()
    assert {c.state.value for c in claims} == {"draft"}

    small = by_title[demo.SMALL_SESSION]
    states = sorted(db.session.scalars(sa.select(Rsvp.state).where(Rsvp.gathering_id == small.id)))
    assert states == sorted([RsvpState.GOING, RsvpState.GOING, RsvpState.WAITING])
    assert (
        db.session.scalar(sa.select(sa.func.count()).select_from(DirectoryEntry).where(DirectoryEntry.listed.is_(True)))
        == 4
    )

    assert sign_in(client, "member@demo.test", "demo-password-2026").status_code == 303
    assert demo.MEET_UP in client.get("/gatherings").get_data(as_text=True)
    assert "Leah" in client.get("/people").get_data(as_text=True)

"""Exports walk the primary key a step at a time: every row once, in order, and a number of
queries that grows with the steps only (never a re-sort of what is left at each step)."""

from __future__ import annotations

import csv
import io
import math
from typing import Any

import sqlalchemy as sa

from portal.core.extensions import db
from portal.remuneration import claim_exports
from portal.remuneration.models import Claim, ClaimState
from portal.stories import exports
from portal.stories.models import Scope, Story, StoryState
from tests import factories, stories_factories
from tests.helpers import count_queries

STORIES = 5_000


def _rows(response: Any) -> list[list[str]]:
    assert response.status_code == 200
    return list(csv.reader(io.StringIO(response.get_data(as_text=True))))


def _copies(template: Story, count: int) -> list[int]:
    """``count`` rows like ``template`` (its sealed words and key), in a mix of states and scopes;
    returns the ids of those the export must hold, in order."""
    columns = [c.name for c in Story.__table__.columns if c.name != "id"]
    table = Story.__table__
    row = db.session.execute(sa.select(*[table.c[name] for name in columns]).where(table.c.id == template.id))
    row = row.mappings().one()
    mix = [
        (StoryState.PUBLISHED, Scope.PUBLIC),
        (StoryState.PUBLISHED, Scope.NETWORK),
        (StoryState.PUBLISHED, Scope.RESEARCH),
        (StoryState.SUBMITTED, Scope.PUBLIC),
        (StoryState.PUBLISHED, Scope.PUBLIC),
        (StoryState.IN_REVIEW, Scope.NETWORK),
    ]
    rows = []
    for n in range(count):
        state, scope = mix[n % len(mix)]
        rows.append({**row, "state": state.value, "scope": scope.value})
    db.session.execute(table.insert(), rows)
    db.session.commit()
    return list(
        db.session.scalars(
            sa.select(Story.id)
            .where(Story.state == StoryState.PUBLISHED, Story.scope.in_((Scope.PUBLIC, Scope.NETWORK)))
            .order_by(Story.id)
        )
    )


def test_story_export_has_every_story_once_in_order_in_steps(app: Any, as_role: Any, users: dict[str, Any]) -> None:
    teller = stories_factories.storyteller(by=users["staff"], name="Sam")
    template = stories_factories.story(teller, by=users["staff"], title="The first story")
    expected = _copies(template, STORIES)
    staff = as_role("staff")
    staff.get("/stories/export/stories.csv")  # warm up
    with count_queries() as statements:
        rows = _rows(staff.get("/stories/export/stories.csv"))
    assert rows[0] == exports.STORY_HEADER
    assert [int(r[0]) for r in rows[1:]] == expected  # each once, in id order, none left out
    assert {r[1] for r in rows[1:]} == {"The first story"}  # read through the sealed columns
    steps = math.ceil((STORIES + 1) / exports.BATCH) + 1  # the last step finds nothing
    # per step: the keys, then the kept stories (their storyteller and project joined), their tags
    assert len(statements) <= 3 * steps + 12, len(statements)


def test_story_export_queries_grow_with_steps_not_rows(app: Any, as_role: Any, users: dict[str, Any]) -> None:
    exports.BATCH, saved = 20, exports.BATCH
    try:
        teller = stories_factories.storyteller(by=users["staff"], name="Sam")
        template = stories_factories.story(teller, by=users["staff"], title="A story")
        _copies(template, 19)  # 20 stories: one full step
        staff = as_role("staff")
        staff.get("/stories/export/stories.csv")
        with count_queries() as one_step:
            _rows(staff.get("/stories/export/stories.csv"))
        _copies(template, 100)  # 120 stories: six steps
        with count_queries() as six_steps:
            _rows(staff.get("/stories/export/stories.csv"))
        per_step = (len(six_steps) - len(one_step)) / 5
        assert per_step <= 3, (len(one_step), len(six_steps))
    finally:
        exports.BATCH = saved


def _claims(users: dict[str, Any], count: int, activity: Any = None) -> list[Claim]:
    activity = activity or factories.rate_card()["Meeting"]
    made = []
    for n in range(count):
        claim = factories.submitted(users["member"], activity, expenses_pence=250 if n % 2 else 0)
        made.append(claim)
    return made


def test_claims_export_for_finance(app: Any, as_role: Any, users: dict[str, Any]) -> None:
    activity = factories.rate_card()["Meeting"]
    made = _claims(users, 7, activity)
    made[0].state = ClaimState.APPROVED
    draft = factories.submitted(users["member"], activity)
    draft.state = ClaimState.DRAFT
    db.session.commit()
    finance = as_role("finance")
    page = finance.get("/finance/exports/claims")
    assert page.status_code == 200 and "Download claims" in page.get_data(as_text=True)
    rows = _rows(finance.get("/finance/exports/claims?download=1"))
    assert rows[0] == claim_exports.CLAIM_EXPORT_COLUMNS
    assert [int(r[0]) for r in rows[1:]] == sorted(c.id for c in made)  # drafts never
    by_id = {int(r[0]): dict(zip(rows[0], r, strict=True)) for r in rows[1:]}
    second = by_id[made[1].id]
    assert second["expenses"] == "2.50" and second["state"] == ClaimState.SUBMITTED.label
    assert second["payee_name"] == users["member"].name
    approved = _rows(finance.get("/finance/exports/claims?download=1&state=approved"))
    assert [int(r[0]) for r in approved[1:]] == [made[0].id]


def test_claims_export_bad_dates_are_told_not_downloaded(app: Any, as_role: Any, users: dict[str, Any]) -> None:
    finance = as_role("finance")
    response = finance.get("/finance/exports/claims?download=1&start=2026-05-01&end=2026-04-01")
    assert response.status_code == 422
    assert "The end date must be the same as the start date or after it." in response.get_data(as_text=True)
    assert finance.get("/finance/exports/claims?download=1&state=nonsense").status_code == 422
    assert as_role("member").get("/finance/exports/claims?download=1").status_code == 403


def test_claims_export_queries_grow_with_steps_not_rows(app: Any, as_role: Any, users: dict[str, Any]) -> None:
    claim_exports.STEP, saved = 5, claim_exports.STEP
    try:
        activity = factories.rate_card()["Meeting"]
        _claims(users, 5, activity)
        finance = as_role("finance")
        finance.get("/finance/exports/claims?download=1")
        with count_queries() as one_step:
            assert len(_rows(finance.get("/finance/exports/claims?download=1"))) == 6
        _claims(users, 20, activity)
        with count_queries() as five_steps:
            assert len(_rows(finance.get("/finance/exports/claims?download=1"))) == 26
        assert (len(five_steps) - len(one_step)) / 4 <= 2, (len(one_step), len(five_steps))
    finally:
        claim_exports.STEP = saved

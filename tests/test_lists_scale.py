"""The audit log, the claims lists and the dashboards stay light at any size.

Each list pages by keyset ("Newer / Older", no OFFSET): walking its links visits every row once,
in order, with its filters kept, backwards too; a link that is not one is a 400, never a 500. Each
list and dashboard makes the same number of queries with 5 rows as with 80.
"""

from __future__ import annotations

import html
import re
import statistics
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from flask import Flask

from portal.core import audit
from portal.core.extensions import db
from portal.core.keyset_lists import BadCursor, decode, encode
from portal.grants.models import ProgressReport, ProjectStatus, ReportState
from portal.remuneration import dashboards
from portal.remuneration.models import (
    BatchState,
    Claim,
    ClaimState,
    ExpenseCategory,
    ExpenseLine,
    PaymentBatch,
    Unit,
)
from tests import factories
from tests.helpers import client_for, queries_for, text_of

BASE = datetime(2026, 10, 1, 9, 0, tzinfo=UTC)
PAGE = 7


@pytest.fixture
def card(app: Flask, users: dict[str, Any]) -> dict[str, Any]:
    return factories.rate_card()


def _claims(
    how_many: int,
    claimant: Any,
    activity: Any,
    *,
    state: ClaimState,
    project: Any = None,
    batch: PaymentBatch | None = None,
    first: int = 0,
    undated_every: int = 0,
) -> list[int]:
    """``how_many`` claims made in one go, three at a time sharing a moment (ties in the sort key
    that only the id settles). With ``undated_every``, every n-th has no sent or approved time."""
    made = []
    for number in range(first, first + how_many):
        moment = BASE + timedelta(hours=number // 3)
        undated = bool(undated_every) and number % undated_every == 0
        claim = Claim(
            claimant_id=claimant.id,
            activity_type_id=activity.id,
            activity_date=date(2026, 9, 1) + timedelta(days=number // 3),
            units=Decimal("1"),
            unit=Unit.HOUR,
            rate_pence=2000,
            full_fee_pence=2000,
            fee_pence=2000,
            project_id=project.id if project else None,
            state=state,
            submitted_at=None if undated else moment,
            approved_at=(None if undated else moment) if state in (ClaimState.APPROVED, ClaimState.IN_BATCH) else None,
            batch_id=batch.id if batch else None,
        )
        db.session.add(claim)
        made.append(claim)
    db.session.flush()
    for claim in made[::2]:
        db.session.add(ExpenseLine(claim_id=claim.id, category=ExpenseCategory.TRAVEL, amount_pence=150))
    db.session.commit()
    return [claim.id for claim in made]


def _claim_ids(page: str) -> list[int]:
    return [int(found) for found in re.findall(r", claim (\d+)</span>", page)]


def _link(page: str, rel: str) -> str | None:
    found = re.search(rf'<a href="([^"]+)" rel="{rel}"', page)
    return html.unescape(found.group(1)) if found else None


def _walk(client: Any, url: str, ids_of: Any) -> tuple[list[Any], list[Any], list[str]]:
    """Follow "next" links from ``url`` to the end, then "previous" links back to the start.
    Returns the rows seen going forward, going back (in list order), and every page's address."""
    forward: list[Any] = []
    pages = []
    while url:
        response = client.get(url)
        assert response.status_code == 200, url
        page = response.get_data(as_text=True)
        pages.append(url)
        forward.extend(ids_of(page))
        assert len(pages) < 50, "the walk does not end"
        url = _link(page, "next") or ""
    back: list[list[Any]] = []
    url = pages[-1]
    while url:
        page = client.get(url).get_data(as_text=True)
        back.insert(0, ids_of(page))
        assert len(back) < 50
        url = _link(page, "prev") or ""
    return forward, [row for chunk in back for row in chunk], pages


def _oldest_first(ids: list[int]) -> list[int]:
    claims = {c.id: c for c in db.session.query(Claim).filter(Claim.id.in_(ids))}
    # sent (or approved) time, then id; claims never sent come last
    return sorted(ids, key=lambda i: (claims[i].submitted_at is None, claims[i].submitted_at or BASE, i))


# --- the cursor itself ---------------------------------------------------------------------------


def test_cursors_read_back_what_they_wrote() -> None:
    moment = datetime(2026, 3, 29, 0, 30, 15, 123456, tzinfo=UTC)
    assert decode(encode(moment, 42), datetime).key == moment
    assert decode(encode(date(2026, 1, 5), 7), date).key == date(2026, 1, 5)
    assert decode(encode(None, 9), datetime).key is None
    assert decode(encode("Tea ~ and talk", 3), str).key == "Tea ~ and talk"
    assert decode(encode(12, 12), int).id == 12


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("", datetime),
        ("~", datetime),
        ("2026-13-01~5", date),
        ("2026-02-30~5", date),
        ("2026-10-01T09:00:00~5", datetime),  # no time zone
        ("9999-12-31T23:59:59-23:00~5", datetime),  # past the last moment there is
        ("2026-10-01~0", date),
        ("2026-10-01~-1", date),
        ("2026-10-01~2147483648", date),
        ("2026-10-01~١٢", date),  # other scripts' digits
        ("٢٠٢٦-10-01~5", date),
        ("2026-10-01~5~6", date),
        ("x" * 500 + "~5", str),
        ("99999999999999999999~5", int),
    ],
)
def test_a_cursor_that_is_not_one_is_refused(text: str, kind: type) -> None:
    with pytest.raises(BadCursor):
        decode(text, kind)


# --- walking each list ------------------------------------------------------------------------------


def test_the_queue_walks_every_waiting_claim_once_oldest_first_with_its_filter(
    app: Flask, card: Any, users: dict[str, Any]
) -> None:
    app.config["PAGE_SIZE"] = PAGE
    member = factories.user()
    waiting = _claims(24, member, card["Meeting"], state=ClaimState.SUBMITTED)
    confirmed = _claims(9, member, card["Meeting"], state=ClaimState.CONFIRMED, first=100)
    queried = _claims(10, member, card["Meeting"], state=ClaimState.QUERIED, first=200, undated_every=4)
    _claims(5, member, card["Meeting"], state=ClaimState.PAID, first=300)
    staff = client_for(app, users["staff"])

    forward, back, pages = _walk(staff, "/claims/queue", _claim_ids)
    assert forward == back == _oldest_first(waiting + confirmed)
    assert len(pages) == 5

    forward, back, pages = _walk(staff, "/claims/queue?state=queried", _claim_ids)
    assert forward == back == _oldest_first(queried)  # the never-sent ones last, each once
    assert all("state=queried" in page for page in pages[1:])  # the filter stays in every link


def test_a_members_own_claims_walk_newest_first_and_show_nobody_elses(
    app: Flask, card: Any, users: dict[str, Any]
) -> None:
    app.config["PAGE_SIZE"] = PAGE
    member, other = users["member"], factories.user()
    mine = _claims(20, member, card["Meeting"], state=ClaimState.SUBMITTED)
    theirs = _claims(6, other, card["Meeting"], state=ClaimState.SUBMITTED, first=50)
    client = client_for(app, member)
    forward, back, pages = _walk(client, "/payments", _claim_ids)
    claims = {c.id: c for c in db.session.query(Claim).filter(Claim.id.in_(mine))}
    assert forward == back == sorted(mine, key=lambda i: (claims[i].activity_date, i), reverse=True)
    assert not set(forward) & set(theirs)
    assert "20 claims" in text_of(client.get("/payments"))
    assert client.get("/claims/queue").status_code == 403  # the queue stays staff's


def test_the_finance_dashboard_and_a_batch_walk_every_claim_once(app: Flask, card: Any, users: dict[str, Any]) -> None:
    app.config["PAGE_SIZE"] = PAGE
    member = factories.user()
    approved = _claims(17, member, card["Meeting"], state=ClaimState.APPROVED, undated_every=5)
    batch = PaymentBatch(reference="RUN-1", created_by_id=users["finance"].id)
    db.session.add(batch)
    db.session.commit()
    in_batch = _claims(16, member, card["Meeting"], state=ClaimState.IN_BATCH, batch=batch, first=100)
    finance = client_for(app, users["finance"])

    forward, back, _ = _walk(finance, "/finance", _claim_ids)
    rows = {c.id: c for c in db.session.query(Claim).filter(Claim.id.in_(approved))}
    order = sorted(approved, key=lambda i: (rows[i].approved_at is None, rows[i].approved_at or BASE, i))
    assert forward == back == order

    forward, back, _ = _walk(finance, f"/finance/batches/{batch.id}", _claim_ids)
    assert forward == back == sorted(in_batch)


def test_the_batches_list_walks_newest_first_with_its_state(app: Flask, users: dict[str, Any]) -> None:
    app.config["PAGE_SIZE"] = PAGE
    made = []
    for number in range(19):
        batch = PaymentBatch(
            reference=f"RUN-{number:02d}",
            created_by_id=users["finance"].id,
            created_at=BASE + timedelta(days=number // 2),  # two batches a day: ties
            state=BatchState.PAID if number % 3 == 0 else BatchState.AWAITING_PAYMENT,
        )
        db.session.add(batch)
        made.append(batch)
    db.session.commit()
    finance = client_for(app, users["finance"])

    def references(page: str) -> list[str]:
        return re.findall(r">(RUN-\d\d)</a>", page)

    newest_first = [b.reference for b in sorted(made, key=lambda b: (b.created_at, b.id), reverse=True)]
    forward, back, _ = _walk(finance, "/finance/batches", references)
    assert forward == back == newest_first
    forward, back, _ = _walk(finance, "/finance/batches?state=paid", references)
    assert forward == back == [r for r in newest_first if int(r[4:]) % 3 == 0]


def test_the_audit_log_walks_every_entry_once_newest_first_with_filters(app: Flask, users: dict[str, Any]) -> None:
    app.config["PAGE_SIZE"] = PAGE
    admin, member = users["admin"], users["member"]
    for number in range(23):
        entry = audit.record("test.event" if number % 2 else "test.other", member, actor=admin, after={"n": number})
        entry.created_at = BASE + timedelta(minutes=number // 4)  # four to a minute: ties
    db.session.commit()
    client = client_for(app, admin)

    def numbers(page: str) -> list[int]:
        return [int(n) for n in re.findall(r'(?:&#34;|")n(?:&#34;|"): (\d+)', page)]

    newest_first = sorted(range(23), key=lambda n: (n // 4, n), reverse=True)  # ids rise with n
    forward, back, pages = _walk(client, "/admin/audit", numbers)
    assert forward == back == newest_first
    assert len(pages) == 4
    forward, back, pages = _walk(client, "/admin/audit?action=test.event", numbers)
    assert forward == back == [n for n in newest_first if n % 2]
    assert all("action=test.event" in page for page in pages)
    assert "11 entries" in text_of(client.get("/admin/audit?action=test.event"))


def test_counts_stop_at_a_thousand(app: Flask, users: dict[str, Any]) -> None:
    admin = users["admin"]
    db.session.execute(
        audit.AuditEntry.__table__.insert(),
        [
            {"action": "test.bulk", "object_type": "User", "object_id": "1", "actor_id": admin.id, "created_at": BASE}
            for _ in range(1003)
        ],
    )
    db.session.commit()
    assert "1,000+ entries" in text_of(client_for(app, admin).get("/admin/audit"))


# Not cursors of any list: no separator, id 0 or too large, both directions, empty, a NUL.
NOT_CURSORS = [
    "after=nonsense",
    "after=2026-10-01T09:00:00%2B00:00~0",
    "before=~99999999999",
    "after=2026-10-01~5&before=2026-10-01~5",
    "after=",
    "after=%00~5",
    "after=" + "9" * 400,
    "before=" + "x" * 500 + "~5",
]
# Not cursors of a list sorted by a date or time (a title list takes any text).
NOT_DATES = ["before=2026-02-30T09:00:00%2B00:00~5", "after=2026-10-01T25:00:00~5", "after=tuesday~5"]


@pytest.mark.parametrize(
    ("who", "url", "by_text"),
    [
        ("admin", "/admin/audit", False),
        ("staff", "/claims/queue", False),
        ("staff", "/claims/confirmations", False),
        ("member", "/payments", False),
        ("finance", "/finance", False),
        ("finance", "/finance/batches", False),
        ("staff", "/staff/grants", True),
    ],
)
def test_a_hostile_cursor_is_a_400_not_a_500(as_role: Any, who: str, url: str, by_text: bool) -> None:
    client = as_role(who)
    for query in NOT_CURSORS + ([] if by_text else NOT_DATES):
        response = client.get(f"{url}?{query}")
        assert response.status_code == 400, (url, query, response.status_code)
        assert "not one the portal made" in text_of(response) or "%00" in query
    for query in NOT_DATES if by_text else []:
        assert client.get(f"{url}?{query}").status_code == 200  # just a title to start after


def test_a_page_past_the_end_offers_the_first_page(app: Flask, card: Any, users: dict[str, Any]) -> None:
    member = factories.user()
    _claims(3, member, card["Meeting"], state=ClaimState.SUBMITTED)
    page = client_for(app, users["staff"]).get("/claims/queue?after=2099-01-01T00:00:00%2B00:00~1")
    assert page.status_code == 200
    assert "There are no claims here" in text_of(page) and "First page" in text_of(page)


# --- query counts do not grow with rows ---------------------------------------------------------


def _at_risk_projects(how_many: int, first: int) -> None:
    for number in range(first, first + how_many):
        project = factories.project(title=f"Project {number:03d}")
        db.session.add(
            ProgressReport(
                project_id=project.id,
                due_on=date(2026, 9, 1),
                state=ReportState.SUBMITTED,
                status=ProjectStatus.AT_RISK if number % 2 else ProjectStatus.ON_TRACK,
                submitted_at=BASE + timedelta(hours=number),
            )
        )
    db.session.commit()


def _rows(how_many: int, first: int, card: Any, users: dict[str, Any]) -> None:
    """Claims in every state the lists show, by new people on new projects led by others;
    audit entries by new actors; batches; at-risk projects."""
    lead = users["staff"]
    for number in range(first, first + how_many):
        person = factories.user()
        project = factories.project(title=f"Pilot {number:03d}", lead=lead)
        state = [ClaimState.SUBMITTED, ClaimState.CONFIRMED, ClaimState.APPROVED, ClaimState.QUERIED][number % 4]
        _claims(1, person, card["Meeting"], state=state, project=project, first=number)
        _claims(1, users["member"], card["Meeting"], state=state, project=project, first=number)
        actor = factories.user(role="admin") if number % 8 == 0 else users["admin"]
        audit.record("test.event", person, actor=actor, after={"n": number})
        db.session.add(PaymentBatch(reference=f"B-{number:03d}", created_by_id=users["finance"].id))
        db.session.commit()
    _at_risk_projects(how_many, first)


DASHBOARDS_AND_LISTS = [
    ("admin", "/admin/audit"),
    ("admin", "/admin/audit?action=test.event"),
    ("staff", "/claims/queue"),
    ("staff", "/claims/queue?state=approved"),
    ("staff", "/claims/confirmations"),
    ("staff", "/staff/payments"),
    ("staff", "/staff/grants"),
    ("staff", "/dashboard"),
    ("member", "/payments"),
    ("member", "/dashboard"),
    ("finance", "/finance"),
    ("finance", "/finance/batches"),
]


def test_each_list_and_dashboard_makes_as_many_queries_for_5_rows_as_for_80(
    app: Flask, card: Any, users: dict[str, Any]
) -> None:
    clients = {role: client_for(app, users[role]) for role in ("admin", "staff", "member", "finance")}
    _rows(5, 0, card, users)
    few = {url: queries_for(clients[who], url) for who, url in DASHBOARDS_AND_LISTS}
    _rows(75, 5, card, users)
    many = {url: queries_for(clients[who], url) for who, url in DASHBOARDS_AND_LISTS}
    assert many == few
    # and the pages really hold the rows: more than one page, and the counts say 80
    queue = text_of(clients["staff"].get("/claims/queue?state=approved"))
    assert "40 claims" in queue and "Next" in queue
    assert "80 entries" in text_of(clients["admin"].get("/admin/audit?action=test.event"))


# --- the staff payments dashboard's days to payment, counted by the database ---------------------


def test_days_to_payment_are_counted_from_the_london_day_each_claim_was_sent(
    app: Flask, card: Any, users: dict[str, Any]
) -> None:
    today = date(2026, 8, 20)
    member = users["member"]
    sent_and_paid = [
        (datetime(2026, 7, 1, 23, 30, tzinfo=UTC), date(2026, 7, 31)),  # 2 July in London (summer time): 29 days
        (datetime(2026, 7, 1, 22, 59, tzinfo=UTC), date(2026, 7, 31)),  # still 1 July: 30 days
        (datetime(2026, 3, 28, 23, 30, tzinfo=UTC), date(2026, 5, 30)),  # winter time: 28 March, 63 days
        (datetime(2026, 3, 29, 23, 30, tzinfo=UTC), date(2026, 6, 1)),  # summer time began: 30 March, 63 days
        (datetime(2026, 6, 10, 0, 15, tzinfo=UTC), date(2026, 6, 12)),
        (datetime(2026, 6, 10, 0, 15, tzinfo=UTC), date(2026, 6, 12)),
        (datetime(2026, 1, 2, 9, 0, tzinfo=UTC), date(2026, 3, 1)),  # paid before the 90 days: left out
    ]
    for sent, paid_on in sent_and_paid:
        db.session.add(
            Claim(
                claimant_id=member.id,
                activity_type_id=card["Meeting"].id,
                activity_date=sent.date(),
                units=Decimal("1"),
                unit=Unit.HOUR,
                rate_pence=2000,
                full_fee_pence=2000,
                fee_pence=2000,
                state=ClaimState.PAID,
                submitted_at=sent,
                paid_on=paid_on,
            )
        )
    db.session.commit()

    speed = dashboards.payment_speed(today, 30)
    counted = [
        (paid_on - dashboards.local_day(sent)).days
        for sent, paid_on in sent_and_paid
        if today - timedelta(days=90) <= paid_on <= today
    ]
    assert sorted(counted) == [2, 2, 29, 30, 63, 63]
    assert (speed.claims, speed.median_days, speed.within_target) == (6, statistics.median(counted), 4)

"""Hostile input on every route, as every role: never a 500, and nothing changes when refused.

The demo data gives each route real objects to reach (a claim, a story, a post ...), and CSRF
protection is on, as in production: each form is posted with the page's token, so the hostile
values get past it to the forms' own checks. For each role the walk

1. GETs every route with hostile query values (``page``, ``next``, ``q`` ... all at once) and
   with ids out of range in its path, noting each page's forms and their fields;
2. POSTs hostile values to every field of the forms found for each route (or to every field
   seen anywhere, for a route whose form no page showed this role);

and checks there is no 500 and that, for every refused request (status 400 and above, or a
form shown again with its errors), no table gained or lost a row. A Hypothesis test then posts values it
makes up itself to forms chosen at random.
"""

from __future__ import annotations

import os
import re
from collections import Counter
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote, urlsplit

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from portal import demo
from portal.accounts import two_factor
from portal.accounts.models import User
from portal.core.extensions import db
from tests import factories
from tests.helpers import sign_in

ROLES = ("anonymous", "member", "lead", "reviewer", "staff", "finance", "admin")

# Hostile values: NUL, very long, huge and negative numbers, other scripts' digits, paths, a
# newline in a next=, markup, SQL, emoji, nothing at all.
# A NUL anywhere refuses the whole request (400, core/request_checks.py), so NULs go in requests
# of their own and every other value reaches the views' and forms' own checks.
NULS = ["\x00", "a\x00b", "%00\x00"]
CORPUS = [
    "x" * 20_000,
    "9" * 40,
    "-1",
    "-99999999999999999999",
    "2147483648",
    "1e309",
    "NaN",
    "\u0661\u0662\u0663",  # Arabic-Indic digits: int() reads them as 123
    "\uff11\uff12",  # full-width digits
    "\u00b2",  # superscript two: str.isdigit() says yes, int() refuses it
    "9999999999",
    "😀🏳️‍🌈",
    "../../etc/passwd",
    "/ok\n//elsewhere.example/",
    "\r\nSet-Cookie: x=1",
    "' OR 1=1 --",
    "<script>alert(1)</script>",
    "%00",
    "",
    " ",
    "0",
    "1.5",
    "2026-02-31",
    "£-0.01",
    "//elsewhere.example",
]
QUERY_NAMES = (
    "page",
    "cpage",
    "next",
    "q",
    "tag",
    "state",
    "kind",
    "actor",
    "author",
    "project",
    "phase",
    "format",
    "only",
    "action",
    "object_type",
    "a",
    "b",
)
OUT_OF_RANGE_IDS = ("2147483648", "99999999999999999999", "0", "\u0661")

# Path argument -> the table whose first row it names (``people.*`` reports are member reports).
ARG_TABLES = {
    "user_id": "users",
    "session_id": "user_sessions",
    "claim_id": "claims",
    "line_id": "expense_lines",
    "batch_id": "payment_batches",
    "activity_id": "activity_types",
    "application_id": "applications",
    "phase_id": "phases",
    "project_id": "projects",
    "milestone_id": "milestones",
    "expense_id": "project_expenses",
    "report_id": "progress_reports",
    "invitation_id": "invitations",
    "assignment_id": "review_assignments",
    "criterion_id": "criteria",
    "post_id": "learning_posts",
    "comment_id": "learning_comments",
    "notification_id": "notifications",
    "gathering_id": "gatherings",
    "message_id": "peer_messages",
    "story_id": "stories",
    "storyteller_id": "storytellers",
}
# Walking these would end the walk itself (signing the role out); they are tested elsewhere.
SKIPPED = {"static", "accounts.sign_out"}
# Rows a refused request may still write: rate-limit counters, the signed-in device's session.
NOT_COUNTED = {"rate_limit_counters", "user_sessions", "task_runs", "worker_heartbeats"}
ERRORS_SHOWN = 'class="field-error"'  # a form shown again with its errors (templates/_macros/forms.html)
TOKEN = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"')
FORM = re.compile(r"<form\b([^>]*)>(.*?)</form>", re.S | re.I)
FIELD = re.compile(r'<(?:input|select|textarea|button)\b[^>]*\bname="([^"]+)"', re.I)
ACTION = re.compile(r'\baction="([^"]*)"', re.I)


# --- the portal, the people, the routes ---------------------------------------------------------


@pytest.fixture
def portal(app_factory: Any) -> Iterator[Flask]:
    app = app_factory(WTF_CSRF_ENABLED=True, RATELIMIT_ENABLED=False)
    with app.app_context():
        demo.seed()
        db.session.commit()
        for person in db.session.scalars(sa.select(User)):
            if person.must_have_two_factor and not person.has_two_factor:
                two_factor.store_secret(person, factories.TOTP_SECRET)
        db.session.commit()
        yield app
        db.session.remove()


def _client(app: Flask, role: str) -> FlaskClient:
    client = app.test_client()
    if role == "anonymous":
        return client
    token = TOKEN.search(client.get("/account/sign-in").get_data(as_text=True))
    assert token is not None
    response = sign_in(client, f"{role}@demo.test", demo.DEMO_PASSWORD, csrf_token=token.group(1))
    assert response.status_code == 303, response.get_data(as_text=True)[:500]
    return client


def _first_ids() -> dict[str, int]:
    tables = db.metadata.tables
    found: dict[str, int] = {}
    for arg, name in {**ARG_TABLES, "people_report_id": "member_reports"}.items():
        if name in tables:
            found[arg] = db.session.scalar(sa.select(sa.func.min(tables[name].c.id))) or 1
    return found


def _path(rule: Any, ids: dict[str, int], hostile: str | None = None) -> str:
    """The rule's path with real ids (or ``hostile`` in its first argument)."""
    path = rule.rule
    for number, (converter, name) in enumerate(re.findall(r"<(?:(\w+):)?(\w+)>", rule.rule)):
        key = "people_report_id" if name == "report_id" and rule.endpoint.startswith("people.") else name
        if hostile is not None and number == 0:
            value = quote(hostile, safe="")
        elif converter == "int":
            value = str(ids.get(key, 1))
        else:
            value = "not-a-real-token"
        path = path.replace(f"<{converter}:{name}>" if converter else f"<{name}>", value, 1)
    return path


def _routes(app: Flask) -> list[tuple[Any, str]]:
    routes = []
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: r.rule):
        if rule.endpoint in SKIPPED:
            continue
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            routes.append((rule, method))
    return routes


def _row_counts() -> dict[str, int]:
    tables = [t for name, t in sorted(db.metadata.tables.items()) if name not in NOT_COUNTED]
    counting = sa.union_all(
        *(sa.select(sa.literal(t.name).label("name"), sa.func.count().label("rows")).select_from(t) for t in tables)
    )
    db.session.rollback()  # read what the requests committed, not an old snapshot
    return {name: rows for name, rows in db.session.execute(counting)}


class Walk:
    """One role's client, the CSRF token its pages carry, the forms seen, and the checks."""

    def __init__(self, app: Flask, role: str) -> None:
        self.app, self.role = app, role
        self.client = _client(app, role)
        self.token = ""
        self.forms: dict[str, set[str]] = {}
        self.counts = _row_counts()
        self.statuses: Counter[tuple[str, int]] = Counter()

    def open(self, method: str, url: str, data: dict[str, Any] | None = None) -> Any:
        if method == "POST":
            data = {**(data or {}), "csrf_token": self.token}
        response = self.client.open(url, method=method, data=data)
        self.statuses[method, response.status_code] += 1
        where = f"{self.role} {method} {url[:200]!r}"
        assert response.status_code != 500, where
        now = _row_counts()
        shown_again = response.mimetype == "text/html" and ERRORS_SHOWN in response.get_data(as_text=True)
        refused = response.status_code >= 400 or (method == "POST" and shown_again)  # a POST may answer a zip
        if refused:
            changed = {name: (self.counts[name], rows) for name, rows in now.items() if self.counts[name] != rows}
            assert not changed, f"{where} was refused ({response.status_code}) but changed rows: {changed}"
        self.counts = now
        if method == "GET" and response.mimetype == "text/html":
            self._note_forms(response.get_data(as_text=True))
        return response

    def _note_forms(self, html: str) -> None:
        if not self.token and (token := TOKEN.search(html)):
            self.token = token.group(1)
        for attributes, body in FORM.findall(html):
            action = ACTION.search(attributes)
            if action and "post" in attributes.lower():
                path = urlsplit(action.group(1).replace("&amp;", "&")).path
                self.forms.setdefault(path, set()).update(set(FIELD.findall(body)) - {"csrf_token"})

    def fields_for(self, path: str) -> set[str]:
        if path in self.forms:
            return self.forms[path]
        return set().union(*self.forms.values()) if self.forms else {"title", "body"}


def _hostile(number: int) -> str:
    return CORPUS[number % len(CORPUS)]


def _walk(app: Flask, role: str) -> Walk:
    walk = Walk(app, role)
    ids = _first_ids()
    routes = _routes(app)
    for number, (rule, method) in enumerate(routes):
        if method != "GET":
            continue
        path = _path(rule, ids)
        walk.open("GET", path)
        walk.open("GET", path + "?" + "&".join(f"{n}={quote(_hostile(number + i))}" for i, n in enumerate(QUERY_NAMES)))
        walk.open("GET", f"{path}?{QUERY_NAMES[number % len(QUERY_NAMES)]}={quote(NULS[number % len(NULS)])}")
        if rule.arguments:
            walk.open("GET", _path(rule, ids, OUT_OF_RANGE_IDS[number % len(OUT_OF_RANGE_IDS)]))
    for number, (rule, method) in enumerate(routes):
        if method != "POST":
            continue
        path = _path(rule, ids)
        # Two sets of values where a page showed this form, one (every field seen) where none did.
        for shift in (0, 7) if path in walk.forms else (0,):
            fields = sorted(walk.fields_for(path))
            walk.open("POST", path, {name: _hostile(number + shift + i) for i, name in enumerate(fields)})
        if fields:
            walk.open(
                "POST", path, {name: NULS[number % len(NULS)] if i == 0 else "ok" for i, name in enumerate(fields)}
            )
            # Every field a number past the database's integer (ids chosen in a form, amounts ...).
            walk.open("POST", path, dict.fromkeys(fields, OUT_OF_RANGE_IDS[number % 2]))
    if os.environ.get("HOSTILE_INPUT_REPORT"):
        print(role, sorted(walk.statuses.items()))
    return walk


@pytest.mark.parametrize("role", ROLES)
def test_every_route_takes_hostile_input_without_a_500_or_a_change_when_refused(portal: Flask, role: str) -> None:
    walk = _walk(portal, role)
    assert sum(walk.statuses.values()) > 300  # every route was walked, not just a few
    assert walk.token and walk.forms  # the pages' forms were found, so their fields got hostile values
    pages = walk.statuses["GET", 200]
    assert pages > (60 if role in ("staff", "finance", "admin") else 25)  # real pages, not only refusals
    if role != "anonymous":
        # Still signed in at the end: the walk went through the signed-in pages, not the sign-in page.
        assert walk.client.get("/dashboard").status_code == 200


# --- values Hypothesis makes up -----------------------------------------------------------------

HOSTILE_TEXT = st.one_of(
    st.sampled_from(CORPUS + NULS),
    st.text(st.characters(exclude_categories=("Cs",)), max_size=40),
    st.integers().map(str),
    st.decimals(allow_nan=True, allow_infinity=True).map(str),
    st.text(st.sampled_from("0123456789٠١٢٣٤٥٦٧٨٩１２-+.,£e_ \x00\n"), max_size=25),
)


@pytest.mark.parametrize("role", ("member", "staff", "finance"))
@settings(
    max_examples=30,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
def test_made_up_values_posted_to_forms_never_fail(portal: Flask, role: str, data: st.DataObject) -> None:
    walk = getattr(portal, "hostile_walks", {}).get(role)
    if walk is None:
        walk = Walk(portal, role)
        ids = _first_ids()
        for rule, method in _routes(portal):
            if method == "GET":
                walk.open("GET", _path(rule, ids))
        portal.hostile_walks = {**getattr(portal, "hostile_walks", {}), role: walk}  # type: ignore[attr-defined]
    assert walk.forms
    path = data.draw(st.sampled_from(sorted(walk.forms)), label="form")
    values = {name: data.draw(HOSTILE_TEXT, label=name) for name in sorted(walk.forms[path])}
    walk.open("POST", path, values)
    query = {name: data.draw(HOSTILE_TEXT, label=f"?{name}") for name in ("page", "next", "q")}
    walk.open("GET", path + "?" + "&".join(f"{n}={quote(v)}" for n, v in query.items()))

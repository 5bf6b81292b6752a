"""Fill a database at a national programme's size, in bulk, with every story sealed properly.

At ``scale`` 1: 100,000 people, 1,000,000 claims, 100,000 stories, 50,000 learning posts,
5,011 projects (from about 20,000 applications), 200,000 audit entries and outbox messages;
``scale`` multiplies every count (at least 1 of each). Rows go in with bulk ``INSERT``s; each
story's words are sealed exactly as the model seals them: a transient ``Story`` is given its
text through its ``SealedText`` fields, which makes the story's key with ``keystore.create()``
(one fsynced key file each) and seals every field with it. Key files are made by a few threads,
as fsync waits on the disk, not the processor; ``FillReport.key_seconds`` says what they cost.

The bench accounts: ``bench-admin@``, ``bench-staff@``, ``bench-finance@`` (two-factor sign-in on,
with ``BENCH_TOTP_SECRET``, as the portal requires for these roles) and ``bench-member@`` (a
member with many claims, on a project team); every account's password is ``BENCH_PASSWORD``.
"""

from __future__ import annotations

import os
import random
import time
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from flask import Flask
from flask_migrate import upgrade

from portal.accounts import two_factor
from portal.accounts.passwords import hash_password
from portal.app import create_app
from portal.core.config import sqlalchemy_url
from portal.core.extensions import db

BENCH_PASSWORD = "benchmark passphrase"
# A TOTP secret for the bench's staff, finance and admin accounts, so the bench can sign them in
# through the real two-step sign-in form (the tests do the same with their own secret).
BENCH_TOTP_SECRET = "JBSWY3DPEHPK3PXPBENCHBENCHBENCHB"
CHUNK = 5_000
KEY_THREADS = 8

FULL = {
    "users": 100_000,
    "claims": 1_000_000,
    "stories": 100_000,
    "posts": 50_000,
    "projects": 5_011,
    "audit": 200_000,
    "outbox": 20_000,
    "waiting": 5_000,  # claims in the queues now
    "batch": 100_000,  # paid claims in one payment batch (the batch CSV)
    "comments": 20_000,
}

# Story and post text: a few words in nearly every text, a long tail of ordinary ones, and rare
# words (one in 2,000) so both ends of the search index are measured.
COMMON_WORD = "community"
RARE_WORD = "kintsugi"
_COMMON = ["community", "people", "support", "together", "project", "time", "group", "week"]
_ORDINARY = (
    "garden kitchen library walk music painting football allotment choir theatre bakery market "
    "housing benefits recovery carer volunteer mentor training college job interview bus journey "
    "loneliness friendship confidence anxiety hope family grandmother neighbour street park river "
    "festival workshop cafe radio podcast photography poetry sewing repair cycling swimming "
    "language refugee welcome council funding meeting survey listening peer advocacy"
).split()
_RARE = ["kintsugi", "origami", "beekeeping", "bouldering", "calligraphy", "taxidermy", "falconry", "ukulele"]


@dataclass
class FillReport:
    """What was made, the ids the bench signs in and pages with, and how long it all took."""

    dialect: str
    scale: float
    counts: dict[str, int] = field(default_factory=dict)
    who: dict[str, str] = field(default_factory=dict)  # role -> email
    ids: dict[str, int] = field(default_factory=dict)  # batch, post, phase ...
    seconds: float = 0.0
    key_seconds: float = 0.0  # making the stories' key files and sealing with them (part of ``seconds``)
    key_files: int = 0

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def sizes(scale: float) -> dict[str, int]:
    return {name: max(1, round(full * scale)) for name, full in FULL.items()}


def _insert(table: sa.Table, rows: Iterable[dict[str, Any]]) -> int:
    batch: list[dict[str, Any]] = []
    total = 0
    for row in rows:
        batch.append(row)
        if len(batch) == CHUNK:
            db.session.execute(table.insert(), batch)
            total += len(batch)
            batch = []
    if batch:
        db.session.execute(table.insert(), batch)
        total += len(batch)
    db.session.commit()
    return total


def _first_id(table: sa.Table) -> int:
    return int(db.session.scalar(sa.select(sa.func.min(table.c.id))) or 0)


def text(rng: random.Random, n: int, length: int) -> str:
    words = [rng.choice(_ORDINARY) for _ in range(length)]
    for common in _COMMON[: 5 + n % 4]:  # the first five in every text, the rest in most
        words.insert(rng.randrange(len(words) + 1), common)
    if n % 2000 == 0:
        words.insert(rng.randrange(len(words) + 1), _RARE[(n // 2000) % len(_RARE)])
    return " ".join(words)


def fill(app: Flask, scale: float, *, seed: int = 7, log: Any = print) -> FillReport:
    """Fill the (migrated, empty) database of ``app``; call inside its app context."""
    began = time.perf_counter()
    n = sizes(scale)
    rng = random.Random(seed)
    report = FillReport(dialect=db.engine.dialect.name, scale=scale)
    now = datetime.now(UTC).replace(microsecond=0)
    counts = report.counts

    def step(name: str, count: int) -> None:
        counts[name] = count
        log(f"  {name}: {count:,} rows ({time.perf_counter() - began:.0f} s)")

    first_user = _fill_users(n["users"], now)
    step("users", n["users"])
    admin, staff, finance, member = first_user, first_user + 1, first_user + 2, first_user + 3
    report.who = {
        "admin": "bench-admin@bench.test",
        "staff": "bench-staff@bench.test",
        "finance": "bench-finance@bench.test",
        "member": "bench-member@bench.test",
    }

    def person(k: int) -> int:  # an ordinary member (never one of the four bench accounts)
        return first_user + 4 + k % max(1, n["users"] - 4)

    phase, projects = _fill_grants(n["projects"], person, member, now, step)
    report.ids["phase"] = phase
    _fill_claims(n, finance, member, person, now, rng, step, report)
    _fill_audit(n["audit"], admin, staff, first_user, n["users"], now, step)
    report.key_files, report.key_seconds = _fill_stories(
        app, n["stories"], projects, admin, staff, person, now, rng, step
    )
    report.ids["post"] = _fill_learning(n["posts"], n["comments"], projects, person, member, now, rng, step)
    report.key_files += _fill_outbox(n["outbox"], n["users"], now, step)
    db.session.execute(sa.text("ANALYZE"))  # both databases: the planner sees the real sizes
    db.session.commit()
    report.seconds = time.perf_counter() - began
    return report


def _fill_users(count: int, now: datetime) -> int:
    from portal.accounts.models import User

    password = hash_password(BENCH_PASSWORD)
    named = {0: ("admin", "admin"), 1: ("staff", "staff"), 2: ("finance", "finance"), 3: ("member", "member")}
    # The rest: mostly members, a few staff.
    roles = ["member"] * 97 + ["staff"] * 2 + ["finance"]

    def rows() -> Iterator[dict[str, Any]]:
        for k in range(count):
            email, role = (
                (f"bench-{named[k][0]}@bench.test", named[k][1])
                if k in named
                else (f"user{k}@bench.test", roles[k % 100])
            )
            yield {
                "email": email,
                "name": f"Person {k:06d}",
                "password_hash": password,
                "role": role,
                "session_token": f"bench{k}",
                "created_at": now - timedelta(days=k % 1500),
                "email_verified_at": now - timedelta(days=k % 1500),
            }

    _insert(User.__table__, rows())
    first = _first_id(User.__table__)
    # The second factor for the three bench accounts that must have one (and only them).
    for person in db.session.scalars(sa.select(User).where(User.id.in_([first, first + 1, first + 2]))):
        two_factor.store_secret(person, BENCH_TOTP_SECRET)
    db.session.commit()
    return first


def _fill_grants(projects: int, person: Any, member: int, now: datetime, step: Any) -> tuple[int, list[int]]:
    """Twenty phases (the first being assessed); four applications per project, one in four
    awarded with a project, each with four progress reports; the bench member leads one."""
    from portal.grants.models import Application, Phase
    from portal.teams.models import Project

    tables = db.metadata.tables
    today = date.today()
    _insert(
        Phase.__table__,
        (
            {
                "name": f"Phase {k + 1}",
                "summary": "Bench phase",
                "eligibility": "",
                "max_award_pence": 2_000_000,
                "delivery_months": 12,
                "pot_pence": 10**9,
                "target_awards": 1000,
                "opens_on": today - timedelta(days=60 + 90 * k),
                "closes_on": today - timedelta(days=30 + 90 * k),
                "state": "assessing" if k == 0 else "closed",
                "created_at": now,
            }
            for k in range(20)
        ),
    )
    first_phase = _first_id(Phase.__table__)
    _insert(
        tables["criteria"],
        (
            {"phase_id": first_phase + p, "name": name, "weight": weight, "position": i}
            for p in range(20)
            for i, (name, weight) in enumerate((("Co-production", 3), ("Value", 2)))
        ),
    )
    applications = projects * 4

    def lead(k: int) -> int:
        return member if k == 0 else person(k * 7919)

    states = ["submitted", "under_review", "declined", "withdrawn"]
    step(
        "applications",
        _insert(
            Application.__table__,
            (
                {
                    "phase_id": first_phase + k % 20,
                    "lead_id": lead(k),
                    "title": f"Pilot application {k:06d}",
                    "summary": "A bench application",
                    "state": "awarded" if k % 4 == 0 else states[(k // 4) % 4],
                    "created_at": now,
                    "submitted_at": now - timedelta(days=40),
                    "version": 1,
                }
                for k in range(applications)
            ),
        ),
    )
    first_application = _first_id(Application.__table__)
    _insert(
        tables["application_members"],
        ({"application_id": first_application + k, "user_id": lead(k), "role": "lead"} for k in range(applications)),
    )
    awarded = list(range(0, applications, 4))
    step(
        "projects",
        _insert(
            Project.__table__,
            (
                {
                    "title": f"Pilot {k // 4:05d}: {_ORDINARY[k % len(_ORDINARY)]} {_ORDINARY[(k // 7) % len(_ORDINARY)]}",
                    "summary": "A bench pilot",
                    "award_pence": 1_500_000,
                    "phase_id": first_phase + k % 20,
                    "application_id": first_application + k,
                    "start_date": today - timedelta(days=200),
                    "end_date": today + timedelta(days=165),
                    "state": "active",
                    "created_at": now,
                }
                for k in awarded
            ),
        ),
    )
    first_project = _first_id(Project.__table__)
    _insert(
        tables["team_memberships"],
        ({"project_id": first_project + i, "user_id": lead(k), "role": "lead"} for i, k in enumerate(awarded)),
    )
    _insert(
        tables["progress_reports"],
        (
            {
                "project_id": first_project + i,
                "due_on": today + timedelta(days=90 * r - 100),
                "is_final": r == 3,
                "state": "accepted" if r == 0 else "submitted" if r == 1 and i % 2 else "due",
                "stages": [],
                "values": [],
                "status": "at_risk" if r == 0 and i % 10 == 0 else "on_track" if r == 0 else None,
                "learning_published": r == 0,
                "version": 1,
            }
            for i in range(len(awarded))
            for r in range(4)
        ),
    )
    return first_phase, [first_project + i for i in range(len(awarded))]


def _fill_claims(
    n: dict[str, int],
    finance: int,
    member: int,
    person: Any,
    now: datetime,
    rng: random.Random,
    step: Any,
    report: FillReport,
) -> None:
    """A programme some years in: nearly every claim paid, ``waiting`` in the queues now, the
    bench member with a claim in every hundred, and one payment batch of ``batch`` claims."""
    from portal.models import ActivityType, Claim, PaymentBatch, Rate

    db.session.add(ActivityType(name="Meeting", unit="hour"))
    db.session.flush()
    activity = db.session.scalar(sa.select(ActivityType.id))
    db.session.add(Rate(activity_type_id=activity, amount_pence=2000, effective_from=date(2020, 1, 1)))
    batch = PaymentBatch(reference="BENCH-0001", state="paid", created_by_id=finance, paid_on=date.today())
    db.session.add(batch)
    db.session.commit()
    report.ids["batch"] = batch.id
    report.ids["activity"] = int(activity or 0)
    waiting_states = ["submitted", "confirmed", "approved", "queried"]
    settled_states = ["paid"] * 97 + ["rejected"] * 2 + ["voided"]
    start = date(2021, 1, 1)
    in_batch = 0

    def rows() -> Iterator[dict[str, Any]]:
        nonlocal in_batch
        for k in range(n["claims"]):
            state = waiting_states[k % 4] if k < n["waiting"] else settled_states[k % 100]
            batched = state == "paid" and in_batch < n["batch"]
            in_batch += batched
            yield {
                "claimant_id": member if k % 100 == 1 else person(rng.randrange(n["users"])),
                "activity_type_id": activity,
                "activity_date": start + timedelta(days=k % 1800),
                "units": Decimal("2"),
                "unit": "hour",
                "rate_pence": 2000,
                "full_fee_pence": 4000,
                "fee_pence": 4000,
                "payment_declined": False,
                "cost_code": "PROGRAMME",
                "notes": "",
                "state": state,
                "question": "",
                "decision_reason": "",
                "created_at": now - timedelta(days=k % 400),
                "submitted_at": now - timedelta(days=k % 400),
                "paid_on": (start + timedelta(days=k % 1800 + 20)) if state == "paid" else None,
                "batch_id": batch.id if batched else None,
                "version": 1,
            }

    step("claims", _insert(Claim.__table__, rows()))
    report.counts["batch_claims"] = in_batch


def _fill_audit(count: int, admin: int, staff: int, first_user: int, users: int, now: datetime, step: Any) -> None:
    from portal.models import AuditEntry

    actions = ["claim.approved", "claim.paid", "story.published", "user.signed_in", "application.submitted"]
    step(
        "audit_entries",
        _insert(
            AuditEntry.__table__,
            (
                {
                    "created_at": now - timedelta(minutes=k),
                    "actor_id": admin if k % 2 else staff,
                    "action": actions[k % len(actions)],
                    "object_type": "User",
                    "object_id": str(first_user + k % users),
                    "before": None,
                    "after": {"n": k},
                    "note": "",
                }
                for k in range(count)
            ),
        ),
    )


def _sealed_story(app: Flask, title: str, summary: str, body: str, note: str) -> dict[str, Any]:
    """The columns of a story sealed the way the model seals: through its own fields."""
    from portal.stories.models import Story

    with app.app_context():
        story = Story()
        story.title = title  # makes the story's key (keystore.create) and seals with it
        story.summary = summary
        story.body = body
        story.consent_note = note
        return {
            "key_id": story.key_id,
            "title": story.sealed_title,
            "summary": story.sealed_summary,
            "body": story.sealed_body,
            "consent_note": story.sealed_consent_note,
        }


def _fill_stories(
    app: Flask,
    count: int,
    projects: list[int],
    admin: int,
    staff: int,
    person: Any,
    now: datetime,
    rng: random.Random,
    step: Any,
) -> tuple[int, float]:
    """Stories: 85% published, the rest waiting, in review, declined or withdrawn; scopes
    public 60%, members-only 30%, research-only 10%; a third from a project; every one sealed,
    and every published, shown one in the search index (plain words, as ``stories.indexing`` does)."""
    from portal.core.search.models import SearchDocument
    from portal.stories.models import Story, Storyteller

    tellers = max(1, count // 10)
    _insert(
        Storyteller.__table__,
        (
            {"display_name": f"Storyteller {k:06d}", "pseudonym": f"Teller {k:06d}", "email": "", "created_at": now}
            for k in range(tellers)
        ),
    )
    first_teller = _first_id(Storyteller.__table__)
    plain = [
        (
            f"{rng.choice(_ORDINARY).title()} {rng.choice(_ORDINARY)} and {rng.choice(_COMMON)}",
            f"A story about {rng.choice(_ORDINARY)}.",
            text(rng, k, 60 + k % 140),
        )
        for k in range(count)
    ]
    states = ["published"] * 85 + ["submitted"] * 5 + ["in_review"] * 4 + ["declined"] * 3 + ["withdrawn"] * 3
    scopes = ["public"] * 6 + ["network"] * 3 + ["research"]
    # A withdrawn story's key was destroyed and its words emptied (stories.withdrawal): no key file.
    kept = [k for k in range(count) if states[(k * 37) % 100] != "withdrawn"]
    key_began = time.perf_counter()
    with ThreadPoolExecutor(KEY_THREADS) as pool:
        made = pool.map(lambda k: _sealed_story(app, *plain[k], "Consent form on file."), kept, chunksize=64)
        sealed = dict(zip(kept, made, strict=True))
    key_seconds = time.perf_counter() - key_began
    step("story key files", len(sealed))

    def rows() -> Iterator[dict[str, Any]]:
        for k in range(count):
            state = states[(k * 37) % 100]
            withdrawn = state == "withdrawn"
            yield {
                "storyteller_id": first_teller + k % tellers,
                "project_id": projects[k % len(projects)] if k % 3 == 0 else None,
                **sealed.get(k, {"key_id": None, "title": "", "summary": "", "body": "", "consent_note": ""}),
                "media_kind": "none",
                "scope": scopes[k % 10],
                "anonymous": k % 5 == 0,
                "consent_method": "written",
                "consent_given_on": now - timedelta(days=k % 900 + 1),
                "consent_recorded_by_id": staff,
                "state": state,
                "featured": k % 500 == 0,
                "entered_by_id": staff,
                "created_at": now - timedelta(days=k % 900 + 1),
                "submitted_at": now - timedelta(days=k % 900 + 1),
                "published_at": now - timedelta(days=k % 900, minutes=k % 1440) if state == "published" else None,
                "withdrawn_at": now if withdrawn else None,
                "withdrawn_by_id": admin if withdrawn else None,
            }

    step("stories", _insert(Story.__table__, rows()))
    first_story = _first_id(Story.__table__)
    indexed = [k for k in range(count) if states[(k * 37) % 100] == "published" and scopes[k % 10] != "research"]
    step(
        "search_documents (stories)",
        _insert(
            SearchDocument.__table__,
            (
                {
                    "kind": "story",
                    "object_id": first_story + k,
                    "title": plain[k][0],
                    "body": f"{'Teller' if k % 5 == 0 else 'Storyteller'} {(k % tellers):06d}\n\n{plain[k][1]}\n\n{plain[k][2]}",
                    "audience": "members" if scopes[k % 10] == "network" else "public",
                    "url_path": f"/stories/{first_story + k}",
                    "updated_at": now,
                }
                for k in indexed
            ),
        ),
    )
    return len(sealed), key_seconds


def _fill_learning(
    posts: int,
    comments: int,
    projects: list[int],
    person: Any,
    member: int,
    now: datetime,
    rng: random.Random,
    step: Any,
) -> int:
    """Posts: 70% public, 30% members-only, 95% visible; a third about a project; comments on
    the newest posts; each visible post in the search index. Returns the newest post's id."""
    from portal.core.search.models import SearchDocument
    from portal.learning.models import Comment, LearningPost

    bodies = [(f"Learning about {rng.choice(_ORDINARY)} {k}", text(rng, k, 40 + k % 80)) for k in range(posts)]

    def visibility(k: int) -> str:
        return "members" if k % 10 < 3 else "public"

    def state(k: int) -> str:
        return "hidden" if k % 40 == 0 else "pending" if k % 40 == 1 else "visible"

    step(
        "learning_posts",
        _insert(
            LearningPost.__table__,
            (
                {
                    "author_id": member if k % 50 == 0 else person(k * 31),
                    "project_id": projects[k % len(projects)] if k % 3 == 0 else None,
                    "title": bodies[k][0],
                    "body": bodies[k][1],
                    "body_html": f"<p>{bodies[k][1]}</p>",
                    "visibility": visibility(k),
                    "state": state(k),
                    "created_at": now - timedelta(minutes=(posts - k) * 7),
                }
                for k in range(posts)
            ),
        ),
    )
    first_post = _first_id(LearningPost.__table__)
    _insert(
        SearchDocument.__table__,
        (
            {
                "kind": "post",
                "object_id": first_post + k,
                "title": bodies[k][0],
                "body": f"Person\n\n{bodies[k][1]}",
                "audience": visibility(k),
                "url_path": f"/learning/{first_post + k}",
                "updated_at": now,
            }
            for k in range(posts)
            if state(k) == "visible"
        ),
    )
    newest = first_post + posts - 1
    while state(newest - first_post) != "visible" or visibility(newest - first_post) != "public":
        newest -= 1
    step(
        "learning_comments",
        _insert(
            Comment.__table__,
            (
                {
                    "post_id": first_post + posts - 1 - (k % min(posts, 500)),
                    "author_id": person(k * 13),
                    "body": "Thank you, this helped.",
                    "body_html": "<p>Thank you, this helped.</p>",
                    "created_at": now - timedelta(minutes=k),
                }
                for k in range(comments)
            ),
        ),
    )
    return newest


def _fill_outbox(count: int, users: int, now: datetime, step: Any) -> int:
    """Emails: nearly all sent long ago (their key destroyed and words emptied, as the outbox
    does), one in fifty waiting, sealed with its own key. Returns the key files made."""
    from portal.core.outbox import OutboxMessage

    waiting = max(1, count // 50)

    def sealed(k: int) -> dict[str, Any]:
        message = OutboxMessage()
        message.subject = f"Your claim {k} was approved"
        message.body = "Hello,\n\nYour claim was approved and will be paid in the next batch.\n"
        return {"key_id": message.key_id, "subject": message.sealed_subject, "body": message.sealed_body}

    step(
        "outbox_messages",
        _insert(
            OutboxMessage.__table__,
            (
                {
                    "kind": "claim_approved",
                    "to_email": f"user{k % users}@bench.test",
                    **(sealed(k) if k < waiting else {"key_id": None, "subject": "", "body": ""}),
                    "created_at": now - timedelta(minutes=k),
                    "sent_at": None if k < waiting else now - timedelta(minutes=k - 1),
                    "attempts": 0 if k < waiting else 1,
                }
                for k in range(count)
            ),
        ),
    )
    return waiting


# --- the bench's database and app ------------------------------------------------------------------

SECRET_KEY = "benchmark-secret-key-0123456789-abcdef"


def database_uri(folder: str, database_url: str, schema: str) -> str:
    """SQLite: ``bench.sqlite3`` in ``folder``. PostgreSQL: ``database_url`` with every connection's
    ``search_path`` set to ``schema`` (the bench's own schema: nothing else in that database is touched)."""
    if not database_url:
        return "sqlite:///" + os.path.join(folder, "bench.sqlite3")
    url = sa.engine.make_url(sqlalchemy_url(database_url, folder))
    return url.update_query_dict({"options": f"-csearch_path={schema}"}).render_as_string(hide_password=False)


def settings(folder: str, uri: str) -> dict[str, Any]:
    """The portal's settings for the bench: production mode, the bench's keys folder and secret."""
    return {
        "ENV": "production",
        "SECRET_KEY": SECRET_KEY,
        "INSTANCE_PATH": folder,
        "SQLALCHEMY_DATABASE_URI": uri,
        "STORY_KEY_PATH": os.path.join(folder, "story-keys"),
        "UPLOAD_PATH": os.path.join(folder, "uploads"),
        "TASK_QUEUE_URL": "memory",
        "SESSION_COOKIE_SECURE": False,  # the bench talks plain http to 127.0.0.1
        "LOGIN_RATE_LIMIT": "1000 per minute",  # the bench signs several accounts in at once
    }


def environment(folder: str, uri: str) -> dict[str, str]:
    """The same settings as ``PORTAL_*`` variables, for ``gunicorn wsgi:app``."""
    values = settings(folder, uri)
    values["DATABASE_URL"] = values.pop("SQLALCHEMY_DATABASE_URI")
    values.pop("INSTANCE_PATH")
    found = {f"PORTAL_{name}": str(value) for name, value in values.items()}
    found["PORTAL_INSTANCE_PATH"] = folder
    found["PORTAL_SESSION_COOKIE_SECURE"] = "false"
    return found


def make_app(folder: str, uri: str) -> Flask:
    return create_app(settings(folder, uri))


def new_database(folder: str, database_url: str, schema: str) -> str:
    """An empty database for the bench (the schema dropped and made again), migrated to head."""
    uri = database_uri(folder, database_url, schema)
    if database_url:
        engine = sa.create_engine(sqlalchemy_url(database_url, folder))
        with engine.begin() as connection:
            connection.execute(sa.text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
            connection.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
        engine.dispose()
    else:
        path = os.path.join(folder, "bench.sqlite3")
        if os.path.exists(path):
            os.remove(path)
    app = make_app(folder, uri)
    with app.app_context():
        upgrade()
        db.engine.dispose()
    return uri


def drop_database(folder: str, database_url: str, schema: str) -> None:
    if database_url:
        engine = sa.create_engine(sqlalchemy_url(database_url, folder))
        with engine.begin() as connection:
            connection.execute(sa.text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        engine.dispose()

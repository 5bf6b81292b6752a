"""Benchmark: how fast list pages answer with a large database.

    .venv/bin/python -m tests.benchmarks.bench_pages --claims 1000000 --users 100000 --applications 20000

Builds a fresh database (SQLite in a temporary folder, or PostgreSQL when
PORTAL_BENCH_DATABASE_URL is set; its public schema is dropped), fills it with bulk inserts,
then requests each page several times through the test client and prints the median and worst
times and the number of SQL queries. Not part of the test suite: timings belong here, not in tests.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from flask_migrate import upgrade

from portal.accounts.passwords import hash_password
from portal.app import create_app
from portal.core.config import sqlalchemy_url
from portal.core.extensions import db

CHUNK = 10_000


def build_app(instance: str) -> Any:
    url = os.environ.get("PORTAL_BENCH_DATABASE_URL", "")
    uri = sqlalchemy_url(url, instance) if url else "sqlite:///" + os.path.join(instance, "bench.sqlite3")
    if url:
        engine = sa.create_engine(uri)
        with engine.begin() as connection:
            connection.execute(sa.text("DROP SCHEMA public CASCADE"))
            connection.execute(sa.text("CREATE SCHEMA public"))
        engine.dispose()
    return create_app(
        {
            "ENV": "testing",
            "SECRET_KEY": "benchmark-secret-key-0123456789",
            "INSTANCE_PATH": instance,
            "SQLALCHEMY_DATABASE_URI": uri,
            "WTF_CSRF_ENABLED": False,
            "RATELIMIT_ENABLED": False,
        }
    )


def insert(table: sa.Table, rows: Any, total: int) -> None:
    batch: list[dict[str, Any]] = []
    for row in rows:
        batch.append(row)
        if len(batch) == CHUNK:
            db.session.execute(table.insert(), batch)
            batch = []
    if batch:
        db.session.execute(table.insert(), batch)
    db.session.commit()
    print(f"  {table.name}: {total:,} rows")


def fill(
    users: int, claims: int, audit_entries: int, applications: int, waiting: int, stories: int = 0
) -> dict[str, int]:
    from portal.models import ActivityType, AuditEntry, Claim, Rate, User

    now = datetime.now(UTC)
    password = hash_password("benchmark passphrase")
    tables = db.metadata.tables
    insert(
        tables["users"],
        (
            {
                "email": f"user{n}@bench.test",
                "name": f"Person {n:06d}",
                "password_hash": password,
                "role": "admin" if n == 0 else "staff" if n == 1 else "finance" if n == 2 else "member",
                "session_token": f"t{n}",
                "created_at": now,
                "pronouns": "",
                "bio": "",
                "preferred_contact": "email",
                "phone": "",
                "contact_notes": "",
                "access_needs": "",
            }
            for n in range(users)
        ),
        users,
    )
    db.session.add(ActivityType(name="Meeting", unit="hour"))
    db.session.flush()
    activity = db.session.scalar(sa.select(ActivityType.id))
    db.session.add(Rate(activity_type_id=activity, amount_pence=2000, effective_from=date(2020, 1, 1)))
    db.session.commit()
    first_user = db.session.scalar(sa.select(sa.func.min(User.id)))
    # A programme some years in: nearly every claim is paid; ``waiting`` are in the queues now.
    waiting_states = ["submitted", "confirmed", "approved", "queried"]
    settled_states = ["paid"] * 97 + ["rejected"] * 2 + ["voided"]
    start = date(2021, 1, 1)
    rng = random.Random(7)

    def claim_rows() -> Any:
        for n in range(claims):
            state = waiting_states[n % 4] if n < waiting else settled_states[n % 100]
            claimant = first_user + 3 + rng.randrange(max(1, users - 3))
            yield {
                "claimant_id": claimant,
                "activity_type_id": activity,
                "activity_date": start + timedelta(days=n % 1800),
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
                "created_at": now,
                "submitted_at": now - timedelta(days=n % 400),
                "paid_on": (start + timedelta(days=n % 1800 + 20)) if state == "paid" else None,
                "version": 1,
            }

    insert(Claim.__table__, claim_rows(), claims)
    insert(
        AuditEntry.__table__,
        (
            {
                "created_at": now,
                "actor_id": first_user,
                "action": "bench.event",
                "object_type": "User",
                "object_id": str(first_user + n % users),
                "before": None,
                "after": {"n": n},
                "note": "",
            }
            for n in range(audit_entries)
        ),
        audit_entries,
    )
    fill_grants(first_user, users, applications, rng, now)
    fill_stories(stories, first_user, users, rng, now)
    busiest = db.session.execute(
        sa.select(Claim.claimant_id, sa.func.count())
        .group_by(Claim.claimant_id)
        .order_by(sa.func.count().desc())
        .limit(1)
    ).first()
    return {
        "admin": first_user,
        "staff": first_user + 1,
        "finance": first_user + 2,
        "busy_member": busiest[0] if busiest else first_user + 3,
        "phase": db.session.scalar(sa.select(sa.func.min(db.metadata.tables["phases"].c.id))),
    }


# Story text: a few words in nearly every story, a long tail of ordinary ones, and rare words
# (one in a few thousand stories) so both ends of the index are measured.
COMMON_WORD = "community"
RARE_WORD = "kintsugi"
TWO_WORDS = "peer support"
_COMMON = ["community", "people", "support", "together", "project", "time", "group", "week"]
_ORDINARY = (
    "garden kitchen library walk music painting football allotment choir theatre bakery market "
    "housing benefits recovery carer volunteer mentor training college job interview bus journey "
    "loneliness friendship confidence anxiety hope family grandmother neighbour street park river "
    "festival workshop cafe radio podcast photography poetry sewing repair cycling swimming "
    "language refugee welcome council funding meeting survey listening peer advocacy"
).split()
_RARE = ["kintsugi", "origami", "beekeeping", "bouldering", "calligraphy", "taxidermy", "falconry", "ukulele"]


def fill_stories(stories: int, first_user: int, users: int, rng: random.Random, now: datetime) -> None:
    """``stories`` published stories and their search documents, inserted in bulk.

    The search documents go through the real index path: on SQLite the FTS5 triggers fire on each
    insert into search_documents, on PostgreSQL the stored tsvector column computes itself."""
    from portal.core.search.models import SearchDocument
    from portal.stories.models import Story, Storyteller

    if not stories:
        return
    tellers = max(1, stories // 10)
    insert(
        Storyteller.__table__,
        (
            {
                "display_name": f"Storyteller {n:06d}",
                "pseudonym": f"Teller {n:06d}",
                "email": "",
                "created_at": now,
            }
            for n in range(tellers)
        ),
        tellers,
    )
    first_teller = db.session.scalar(sa.select(sa.func.min(Storyteller.id)))

    def text(n: int, length: int) -> str:
        words = [rng.choice(_ORDINARY) for _ in range(length)]
        for common in _COMMON[: 5 + n % 4]:  # the first five in every story, the rest in most
            words.insert(rng.randrange(len(words) + 1), common)
        if n % 2000 == 0:  # 1 story in 2,000
            words.insert(rng.randrange(len(words) + 1), _RARE[(n // 2000) % len(_RARE)])
        return " ".join(words)

    texts = [
        (f"{rng.choice(_ORDINARY).title()} {rng.choice(_ORDINARY)} and {rng.choice(_COMMON)}", text(n, 60 + n % 140))
        for n in range(stories)
    ]
    scopes = ["public", "public", "network"]
    insert(
        Story.__table__,
        (
            {
                "storyteller_id": first_teller + n % tellers,
                "title": texts[n][0],
                "summary": "",
                "body": texts[n][1],
                "transcript": "",
                "media_kind": "none",
                "media_content_type": "",
                "media_link": "",
                "original_title": "",
                "original_summary": "",
                "original_body": "",
                "original_transcript": "",
                "edited_by_staff": False,
                "scope": scopes[n % 3],
                "anonymous": n % 5 == 0,
                "consent_method": "written",
                "consent_given_on": now,
                "consent_recorded_by_id": first_user,
                "consent_note": "",
                "state": "published",
                "moderation_note": "",
                "featured": n % 500 == 0,
                "entered_by_id": first_user + 1,
                "created_at": now,
                "submitted_at": now - timedelta(days=n % 900),
                "published_at": now - timedelta(days=n % 900),
            }
            for n in range(stories)
        ),
        stories,
    )
    first_story = db.session.scalar(sa.select(sa.func.min(Story.id)))
    insert(
        SearchDocument.__table__,
        (
            {
                "kind": "story",
                "object_id": first_story + n,
                "title": texts[n][0],
                "body": f"{'Teller' if n % 5 == 0 else 'Storyteller'} {(n % tellers):06d}\n\n{texts[n][1]}",
                "audience": "members" if scopes[n % 3] == "network" else "public",
                "url_path": f"/stories/{first_story + n}",
                "updated_at": now,
            }
            for n in range(stories)
        ),
        stories,
    )


def fill_grants(first_user: int, users: int, applications: int, rng: random.Random, now: datetime) -> None:
    """Twenty phases (the first one being assessed), ``applications`` across them, a quarter of
    them awarded with a project, each project with four progress reports, some late."""
    from portal.grants.models import Application, Phase
    from portal.teams.models import Project

    tables = db.metadata.tables
    today = date.today()
    insert(
        Phase.__table__,
        (
            {
                "name": f"Phase {n + 1}",
                "summary": "Bench phase",
                "eligibility": "",
                "max_award_pence": 2_000_000,
                "delivery_months": 12,
                "pot_pence": 10**9,
                "target_awards": 1000,
                "opens_on": today - timedelta(days=60),
                "closes_on": today - timedelta(days=30),
                "state": "assessing" if n == 0 else "closed",
                "created_at": now,
            }
            for n in range(20)
        ),
        20,
    )
    first_phase = db.session.scalar(sa.select(sa.func.min(Phase.id)))
    insert(
        tables["criteria"],
        (
            {"phase_id": first_phase + p, "name": name, "weight": weight, "position": i}
            for p in range(20)
            for i, (name, weight) in enumerate((("Co-production", 3), ("Value", 2)))
        ),
        40,
    )

    def lead(n: int) -> int:
        return first_user + 3 + (n * 7919) % max(1, users - 3)

    awarded = set(range(0, applications, 4))
    insert(
        Application.__table__,
        (
            {
                "phase_id": first_phase + n % 20,
                "lead_id": lead(n),
                "title": f"Pilot application {n:06d}",
                "summary": "A bench application",
                "state": "awarded"
                if n in awarded
                else rng.choice(["submitted", "under_review", "declined", "withdrawn"]),
                "created_at": now,
                "submitted_at": now - timedelta(days=40),
                "version": 1,
            }
            for n in range(applications)
        ),
        applications,
    )
    first_application = db.session.scalar(sa.select(sa.func.min(Application.id)))
    insert(
        tables["application_members"],
        ({"application_id": first_application + n, "user_id": lead(n), "role": "lead"} for n in range(applications)),
        applications,
    )
    insert(
        Project.__table__,
        (
            {
                "title": f"Pilot application {n:06d}",
                "summary": "A bench pilot",
                "award_pence": 1_500_000,
                "phase_id": first_phase + n % 20,
                "application_id": first_application + n,
                "start_date": today - timedelta(days=200),
                "end_date": today + timedelta(days=165),
                "state": "active",
                "created_at": now,
            }
            for n in sorted(awarded)
        ),
        len(awarded),
    )
    first_project = db.session.scalar(sa.select(sa.func.min(Project.id)))
    insert(
        tables["team_memberships"],
        ({"project_id": first_project + i, "user_id": lead(n), "role": "lead"} for i, n in enumerate(sorted(awarded))),
        len(awarded),
    )
    insert(
        tables["progress_reports"],
        (
            {
                "project_id": first_project + i,
                "due_on": today + timedelta(days=90 * k - 100),
                "is_final": k == 3,
                "state": "accepted" if k == 0 else "submitted" if k == 1 and i % 2 else "due",
                "stages": [],
                "values": [],
                "status": "at_risk" if k == 0 and i % 10 == 0 else "on_track" if k == 0 else None,
                "learning_published": k == 0,
                "version": 1,
            }
            for i in range(len(awarded))
            for k in range(4)
        ),
        4 * len(awarded),
    )


PAGES = [
    # (who, url)
    ("admin", "/admin/users"),
    ("admin", "/admin/users?q=person 0499"),
    ("admin", "/admin/users?page=2000"),
    ("admin", "/admin/audit"),
    ("admin", "/admin/audit?page=5000"),
    ("staff", "/claims/queue"),
    ("staff", "/staff/payments"),
    ("finance", "/finance"),
    ("busy_member", "/payments"),
    ("busy_member", "/dashboard"),
    ("busy_member", "/projects"),
    ("busy_member", "/applications"),
    ("anonymous", "/phases"),
    ("anonymous", "/pilots"),
    ("anonymous", "/pilots?page=200"),
    ("staff", "/staff/phases"),
    ("staff", "/staff/phases/{phase}/applications"),
    ("staff", "/staff/grants"),
    ("staff", "/staff/reports"),
    ("staff", "/staff/exports/applications.csv"),
    ("staff", "/staff/exports/projects.csv"),
    ("anonymous", f"/search?q={COMMON_WORD}"),
    ("busy_member", f"/search?q={COMMON_WORD}"),
    ("anonymous", f"/search?q={COMMON_WORD}&page=40"),
    ("anonymous", f"/search?q={RARE_WORD}"),
    ("anonymous", f"/search?q={TWO_WORDS.replace(' ', '+')}"),
    ("anonymous", f"/search?q={COMMON_WORD}&kind=post"),
    ("anonymous", f"/stories?q={COMMON_WORD}"),
    ("busy_member", f"/stories?q={RARE_WORD}"),
    ("anonymous", f"/stories?q={TWO_WORDS.replace(' ', '+')}"),
]


def measure(app: Any, who: dict[str, int], repeats: int, only: str = "") -> None:
    from portal.models import User

    print(f"\n{'page':45} {'who':12} {'median ms':>10} {'worst ms':>10} {'queries':>8}  status")
    for role, url in PAGES:
        if only and only not in url:
            continue
        url = url.format(phase=who["phase"])
        client = app.test_client()
        if role != "anonymous":
            with app.app_context():
                email = db.session.get(User, who[role]).email
            client.post("/account/sign-in", data={"email": email, "password": "benchmark passphrase"})
        statements: list[str] = []
        with app.app_context():
            engine = db.engine

        def count(*event: Any, statements: list[str] = statements) -> None:
            statements.append(event[2])

        sa.event.listen(engine, "before_cursor_execute", count)
        times = []
        status = 0
        for _ in range(repeats):
            statements.clear()
            began = time.perf_counter()
            response = client.get(url)
            response.get_data()  # a streamed CSV is timed to its last row
            times.append((time.perf_counter() - began) * 1000)
            status = response.status_code
        sa.event.remove(engine, "before_cursor_execute", count)
        print(f"{url:45} {role:12} {statistics.median(times):10.1f} {max(times):10.1f} {len(statements):8}  {status}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=100_000)
    parser.add_argument("--claims", type=int, default=1_000_000)
    parser.add_argument("--audit", type=int, default=200_000)
    parser.add_argument("--applications", type=int, default=20_000)
    parser.add_argument("--waiting", type=int, default=5_000, help="claims waiting in the queues now")
    parser.add_argument("--stories", type=int, default=100_000, help="published stories, each in the search index")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--only", default="", help="measure only the pages whose address contains this text")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as instance:
        app = build_app(instance)
        with app.app_context():
            upgrade()
            began = time.perf_counter()
            print(f"Filling the database ({db.engine.dialect.name}):")
            who = fill(args.users, args.claims, args.audit, args.applications, args.waiting, args.stories)
            print(f"  filled in {time.perf_counter() - began:.0f} s")
            if db.engine.dialect.name == "postgresql":
                db.session.execute(sa.text("ANALYZE"))
                db.session.commit()
        measure(app, who, args.repeats, args.only)


if __name__ == "__main__":
    main()

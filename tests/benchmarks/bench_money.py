"""Benchmark: making and paying one payment batch of many claims, as sets (``remuneration/runs``).

    .venv/bin/python -m tests.benchmarks.bench_money --claims 10000 --people 2000
    PORTAL_BENCH_DATABASE_URL=postgresql://postgres@127.0.0.1:5432/test .venv/bin/python -m tests.benchmarks.bench_money

Builds a fresh database (SQLite in a temporary folder; on PostgreSQL, a schema of its own,
``bench_money``, dropped first), fills it with ``--claims`` approved claims shared among
``--people`` claimants (a quarter with an expense line), then times ``create_batch`` with its
commit and ``mark_batch_paid`` with its commit, as finance's two requests run them, and the
statements each ran. Emails beyond ``BATCH_EMAILS_INLINE_MAX`` are written by a task after the
run; ``--emails`` also times that task (each email's key file is synced: it is the slow part).
Not part of the test suite: timings belong here, not in tests.
"""

from __future__ import annotations

import argparse
import os
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
from portal.core.tasks import drain
from portal.models import ActivityType, Claim, ExpenseLine, PaymentBatch, Rate, User
from portal.remuneration import batches

SCHEMA = "bench_money"
CHUNK = 10_000


def build_app(instance: str) -> Any:
    url = os.environ.get("PORTAL_BENCH_DATABASE_URL", "")
    if url:
        uri = sqlalchemy_url(url, instance)
        engine = sa.create_engine(uri)
        with engine.begin() as connection:  # a schema of its own: nobody else's tables are touched
            connection.execute(sa.text(f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE"))
            connection.execute(sa.text(f"CREATE SCHEMA {SCHEMA}"))
        engine.dispose()
        uri = sa.engine.make_url(uri).update_query_dict({"options": f"-csearch_path={SCHEMA}"})
        uri = uri.render_as_string(hide_password=False)
    else:
        uri = "sqlite:///" + os.path.join(instance, "bench.sqlite3")
    return create_app(
        {
            "ENV": "testing",
            "SECRET_KEY": "benchmark-secret-key-0123456789",
            "INSTANCE_PATH": instance,
            "SQLALCHEMY_DATABASE_URI": uri,
            "TASK_QUEUE_URL": "memory",
            "WTF_CSRF_ENABLED": False,
            "RATELIMIT_ENABLED": False,
        }
    )


def insert(table: sa.Table, rows: list[dict[str, Any]]) -> None:
    for start in range(0, len(rows), CHUNK):
        db.session.execute(table.insert(), rows[start : start + CHUNK])
    db.session.commit()


def fill(claims: int, people: int) -> tuple[User, list[int]]:
    now = datetime.now(UTC)
    password = hash_password("benchmark passphrase")
    base = {"password_hash": password, "created_at": now, "pronouns": "", "bio": "", "preferred_contact": "email"}
    base |= {"phone": "", "contact_notes": "", "access_needs": ""}
    users = [{**base, "email": "finance@bench.test", "name": "Finance", "role": "finance", "session_token": "f"}]
    users += [
        {**base, "email": f"p{n}@bench.test", "name": f"Person {n:05d}", "role": "member", "session_token": f"t{n}"}
        for n in range(people)
    ]
    insert(db.metadata.tables["users"], users)
    activity = ActivityType(name="Meeting", unit="hour")
    db.session.add(activity)
    db.session.flush()
    db.session.add(Rate(activity_type_id=activity.id, amount_pence=2000, effective_from=date(2020, 1, 1)))
    db.session.commit()
    finance = db.session.scalar(sa.select(User).where(User.email == "finance@bench.test"))
    assert finance is not None
    first = finance.id + 1
    rows = [
        {
            "claimant_id": first + n % people,
            "activity_type_id": activity.id,
            "activity_date": date(2026, 10, 1) + timedelta(days=n % 28),
            "units": Decimal(2),
            "unit": "hour",
            "rate_pence": 2000,
            "full_fee_pence": 4000,
            "fee_pence": 4000,
            "payment_declined": False,
            "cost_code": "PROGRAMME",
            "notes": "",
            "state": "approved",
            "question": "",
            "decision_reason": "",
            "created_at": now,
            "updated_at": now,
            "submitted_at": now,
            "approved_at": now,
            "version": 1,
        }
        for n in range(claims)
    ]
    insert(db.metadata.tables["claims"], rows)
    ids = list(db.session.scalars(sa.select(Claim.id).order_by(Claim.id)))
    insert(
        db.metadata.tables["expense_lines"],
        [{"claim_id": i, "category": "travel", "description": "Bus", "amount_pence": 350} for i in ids[::4]],
    )
    return finance, ids


def timed(label: str, work: Any) -> float:
    statements: list[str] = []

    def count(*args: Any) -> None:
        statements.append("")

    sa.event.listen(db.engine, "before_cursor_execute", count)
    started = time.perf_counter()
    try:
        work()
        db.session.commit()
    finally:
        sa.event.remove(db.engine, "before_cursor_execute", count)
    took = time.perf_counter() - started
    print(f"  {label}: {took:.2f} s, {len(statements)} statements")
    return took


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--claims", type=int, default=10_000)
    parser.add_argument("--people", type=int, default=2_000)
    parser.add_argument("--emails", action="store_true", help="also time the task that writes the emails")
    options = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-money-") as instance:
        app = build_app(instance)
        with app.app_context():
            upgrade()
            print(f"{db.engine.dialect.name}: {options.claims:,} approved claims, {options.people:,} people")
            finance, ids = fill(options.claims, options.people)
            finance_id = finance.id
            print(f"  runs of more than {app.config['BATCH_INLINE_MAX']:,} claims go to the background")
            made = timed(
                "create batch",
                lambda: batches.create_batch(
                    reference="BENCH-1", claim_ids=ids, by=db.session.get_one(User, finance_id)
                ),
            )
            batch = db.session.scalar(sa.select(PaymentBatch).where(PaymentBatch.reference == "BENCH-1"))
            assert batch is not None
            in_batch = db.session.scalar(sa.select(sa.func.count()).where(Claim.batch_id == batch.id))
            print(f"  claims in the batch: {in_batch:,}")
            if options.emails:
                timed("emails for the batch (task)", drain)
            paid = timed(
                "mark paid",
                lambda: batches.mark_batch_paid(
                    db.session.get_one(PaymentBatch, batch.id),
                    paid_on=date.today() - timedelta(days=1),
                    payment_reference="BACS-BENCH",
                    by=db.session.get_one(User, finance_id),
                    today=date.today(),
                ),
            )
            paid_claims = db.session.scalar(
                sa.select(sa.func.count()).where(Claim.batch_id == batch.id, Claim.state == "paid")
            )
            expenses = db.session.scalar(sa.select(sa.func.count()).select_from(ExpenseLine))
            print(f"  claims paid: {paid_claims:,} ({expenses:,} with expenses)")
            if options.emails:
                timed("emails for the payments (task)", drain)
            target = "met" if made < 5 and paid < 5 else "NOT met"
            print(f"  target (each under 5 s): {target}")
            db.session.remove()
            db.engine.dispose()


if __name__ == "__main__":
    main()

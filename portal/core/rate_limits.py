"""Rate-limit counters kept in the portal's own database, shared by every process.

Flask-Limiter keeps its counters in a ``limits`` storage. Its memory storage belongs to one
process, so under ``gunicorn -w 4`` each worker would count sign-in failures on its own and an
attacker would get four times the guesses. Without ``PORTAL_REDIS_URL`` the portal therefore
uses this storage (``portal-database://``): one row per limit key in ``rate_limit_counters``,
incremented with a single atomic upsert on its own connection, so a count survives the
request's rollback and every worker, on SQLite or PostgreSQL, sees the same number. With
Redis set, Flask-Limiter uses Redis instead and this table stays empty.

Only the fixed-window strategy (Flask-Limiter's default) is supported: it needs nothing but
``incr``/``get``/``get_expiry``.
"""

from __future__ import annotations

import time

import sqlalchemy as sa
from limits.storage import Storage
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Mapped, mapped_column

from portal.core.extensions import Model, db

SCHEME = "portal-database"
KEEP_EXPIRED_SECONDS = 3600  # rows expired longer than this are removed by the next increment


class RateLimitCounter(Model):
    __tablename__ = "rate_limit_counters"

    key: Mapped[str] = mapped_column(sa.String(255), primary_key=True)
    count: Mapped[int] = mapped_column(sa.Integer)
    # Seconds since the epoch, as ``limits`` counts them (time.time()).
    expires_at: Mapped[float] = mapped_column(sa.Float, index=True)


class DatabaseStorage(Storage):
    """A ``limits`` storage over ``rate_limit_counters`` (see the module's docstring)."""

    STORAGE_SCHEME = [SCHEME]

    @property
    def base_exceptions(self) -> type[Exception] | tuple[type[Exception], ...]:
        return sa.exc.SQLAlchemyError

    def incr(self, key: str, expiry: int, amount: int = 1) -> int:
        now = time.time()
        table = RateLimitCounter.__table__
        engine = db.engine
        dialect = postgresql if engine.dialect.name == "postgresql" else sqlite
        expired = table.c.expires_at <= now
        statement = (
            dialect.insert(table)
            .values(key=key, count=amount, expires_at=now + expiry)
            .on_conflict_do_update(
                index_elements=[table.c.key],
                set_={
                    "count": sa.case((expired, amount), else_=table.c.count + amount),
                    "expires_at": sa.case((expired, now + expiry), else_=table.c.expires_at),
                },
            )
            .returning(table.c.count)
        )
        with engine.begin() as connection:
            value = connection.execute(statement).scalar_one()
            connection.execute(
                sa.delete(RateLimitCounter).where(RateLimitCounter.expires_at < now - KEEP_EXPIRED_SECONDS)
            )
        return int(value)

    def get(self, key: str) -> int:
        table = RateLimitCounter.__table__
        with db.engine.connect() as connection:
            value = connection.execute(
                sa.select(table.c.count).where(table.c.key == key, table.c.expires_at > time.time())
            ).scalar()
        return int(value or 0)

    def get_expiry(self, key: str) -> float:
        table = RateLimitCounter.__table__
        with db.engine.connect() as connection:
            value = connection.execute(sa.select(table.c.expires_at).where(table.c.key == key)).scalar()
        return float(value) if value is not None else time.time()

    def check(self) -> bool:
        try:
            with db.engine.connect() as connection:
                connection.execute(sa.text("SELECT 1"))
        except sa.exc.SQLAlchemyError:
            return False
        return True

    def reset(self) -> int | None:
        with db.engine.begin() as connection:
            result = connection.execute(sa.delete(RateLimitCounter))
        return int(getattr(result, "rowcount", 0))

    def clear(self, key: str) -> None:
        with db.engine.begin() as connection:
            connection.execute(sa.delete(RateLimitCounter).where(RateLimitCounter.key == key))

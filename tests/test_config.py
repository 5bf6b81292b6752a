"""Settings: defaults, then instance/config.py, then PORTAL_* environment variables."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from portal.app import create_app
from portal.core.config import sqlalchemy_url
from portal.core.extensions import db
from tests.helpers import make_app


def test_production_refuses_to_start_without_a_real_secret_key(tmp_path: Path, monkeypatch: Any) -> None:
    monkeypatch.delenv("PORTAL_SECRET_KEY", raising=False)
    monkeypatch.setenv("PORTAL_ENV", "production")
    with pytest.raises(RuntimeError, match="PORTAL_SECRET_KEY is not set"):
        create_app({"INSTANCE_PATH": str(tmp_path)})
    with pytest.raises(RuntimeError, match="at least 24 characters"):
        create_app({"INSTANCE_PATH": str(tmp_path), "SECRET_KEY": "development-only-not-secret"})
    app = create_app({"INSTANCE_PATH": str(tmp_path), "SECRET_KEY": "k" * 32})
    assert app.config["SESSION_COOKIE_SECURE"] is True and not app.debug


def test_development_starts_with_the_development_key(tmp_path: Path, monkeypatch: Any) -> None:
    monkeypatch.setenv("PORTAL_ENV", "development")
    monkeypatch.delenv("PORTAL_SECRET_KEY", raising=False)
    app = create_app({"INSTANCE_PATH": str(tmp_path)})
    assert app.config["SECRET_KEY"] and app.config["SESSION_COOKIE_SECURE"] is False


def test_instance_config_then_environment(tmp_path: Path, monkeypatch: Any) -> None:
    (tmp_path / "config.py").write_text(
        'SECRET_KEY = "from-instance-file-0123456789"\nPAGE_SIZE = 7\nSMTP_PORT = 2525\n'
    )
    monkeypatch.setenv("PORTAL_INSTANCE_PATH", str(tmp_path))
    monkeypatch.setenv("PORTAL_ENV", "production")
    monkeypatch.setenv("PORTAL_PAGE_SIZE", "12")
    monkeypatch.setenv("PORTAL_SMTP_STARTTLS", "false")
    monkeypatch.delenv("PORTAL_SECRET_KEY", raising=False)
    app = create_app()
    assert app.instance_path == str(tmp_path)
    assert app.config["SECRET_KEY"] == "from-instance-file-0123456789"  # instance file
    assert app.config["SMTP_PORT"] == 2525  # instance file
    assert app.config["PAGE_SIZE"] == 12  # environment wins, typed like the default
    assert app.config["SMTP_STARTTLS"] is False
    assert app.config["SQLALCHEMY_DATABASE_URI"] == f"sqlite:///{tmp_path}/portal.sqlite3"


def test_database_url_selects_postgresql_with_psycopg3() -> None:
    assert sqlalchemy_url("postgresql://u@h:5432/d", "/x") == "postgresql+psycopg://u@h:5432/d"
    assert sqlalchemy_url("postgres://u@h/d", "/x") == "postgresql+psycopg://u@h/d"
    assert sqlalchemy_url("", "/x") == "sqlite:////x/portal.sqlite3"


def test_redis_url_moves_rate_limits_to_redis(tmp_path: Path, monkeypatch: Any) -> None:
    monkeypatch.setenv("PORTAL_ENV", "development")
    monkeypatch.setenv("PORTAL_REDIS_URL", "redis://127.0.0.1:6379/0")
    app = create_app({"INSTANCE_PATH": str(tmp_path)})
    assert app.config["RATELIMIT_STORAGE_URI"] == "redis://127.0.0.1:6379/0"


def test_sqlite_runs_with_wal_foreign_keys_and_busy_timeout(tmp_path: Path) -> None:
    # Always on SQLite, the embedded default, even when the suite runs on PostgreSQL.
    app = make_app("sqlite:///" + str(tmp_path / "pragmas.sqlite3"), tmp_path)
    with app.app_context(), db.engine.connect() as connection:
        assert connection.execute(sa.text("PRAGMA foreign_keys")).scalar() == 1
        assert connection.execute(sa.text("PRAGMA journal_mode")).scalar() == "wal"
        assert connection.execute(sa.text("PRAGMA busy_timeout")).scalar() == 5000
        db.engine.dispose()

"""Security headers, HTMX behaviour, error pages and the health check."""

from __future__ import annotations

import base64
import hashlib
from datetime import timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

from portal.core import schedule
from portal.core.db import utcnow
from tests.helpers import sign_in

ROOT = Path(__file__).resolve().parent.parent


def test_security_headers_on_every_page(client: FlaskClient) -> None:
    response = client.get("/")
    csp = response.headers["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in csp and "default-src 'self'" in csp
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
    assert "script-src 'self' https://unpkg.com/htmx.org@2.0.11/dist/htmx.min.js" in csp
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "strict-origin-when-cross-origin"
    assert "Strict-Transport-Security" not in response.headers  # plain http here


def test_hsts_when_served_over_https(client: FlaskClient) -> None:
    response = client.get("/", base_url="https://portal.test")
    assert response.headers["Strict-Transport-Security"].startswith("max-age=31536000")


def test_pages_have_no_inline_script_or_style(client: FlaskClient, as_role: Any) -> None:
    admin = as_role("admin")
    for page in (client.get("/").get_data(as_text=True), admin.get("/admin/users").get_data(as_text=True)):
        assert "<style" not in page and " style=" not in page
        for tag in page.split("<script")[1:]:
            assert 'src="' in tag.split(">")[0]  # every script is a file
            assert tag.split(">", 1)[1].startswith("</script")


def test_htmx_is_pinned_with_sri_and_the_fallback_copy_matches(app: Flask, client: FlaskClient) -> None:
    page = client.get("/").get_data(as_text=True)
    assert f'integrity="{app.config["HTMX_SRI"]}"' in page
    assert 'data-htmx-fallback="/static/vendor/htmx.min.js"' in page
    vendored = (ROOT / "static/vendor/htmx.min.js").read_bytes()
    digest = "sha384-" + base64.b64encode(hashlib.sha384(vendored).digest()).decode()
    assert digest == app.config["HTMX_SRI"]
    assert "2.0.11" in app.config["HTMX_CDN_URL"]
    with client.get("/static/vendor/htmx.min.js") as response:
        assert response.status_code == 200


def test_unauthenticated_htmx_request_gets_hx_redirect(client: FlaskClient) -> None:
    response = client.get("/admin/users?q=a", headers={"HX-Request": "true"})
    assert response.status_code == 401
    assert response.headers["HX-Redirect"].startswith("/account/sign-in?next=/admin/users")
    assert response.get_data(as_text=True) == ""  # no sign-in page swapped into a fragment
    plain = client.get("/admin/users")
    assert plain.status_code == 303 and "HX-Redirect" not in plain.headers


def test_successful_htmx_form_post_redirects_with_hx_redirect(client: FlaskClient, users: dict[str, Any]) -> None:
    response = client.post(
        "/account/sign-in",
        data={"email": users["member"].email, "password": "correct horse battery staple"},
        headers={"HX-Request": "true"},
    )
    assert response.status_code == 204 and response.headers["HX-Redirect"] == "/dashboard"


def test_error_pages(app_factory: Any) -> None:
    app = app_factory(PROPAGATE_EXCEPTIONS=False)

    @app.route("/broken")
    def broken() -> str:
        raise RuntimeError("boom")

    broken.permission = "public"
    client = app.test_client()
    with app.app_context():
        missing = client.get("/no-such-page")
        assert missing.status_code == 404 and "Page not found" in missing.get_data(as_text=True)
        failed = client.get("/broken")
        assert failed.status_code == 500 and "nothing you sent was saved" in failed.get_data(as_text=True)
        htmx = client.get("/no-such-page", headers={"HX-Request": "true"})
        assert htmx.headers["HX-Retarget"] == "#main" and htmx.headers["HX-Reselect"] == "#main"


def test_forbidden_page_explains_what_to_do(as_role: Any) -> None:
    response = as_role("member").get("/admin/users")
    assert response.status_code == 403
    assert "contact the programme team" in response.get_data(as_text=True)


def test_pages_are_not_cached_but_static_files_are_cacheable(client: FlaskClient) -> None:
    assert client.get("/").headers["Cache-Control"] == "no-store"
    with client.get("/static/css/app.css") as response:
        assert "no-store" not in response.headers.get("Cache-Control", "")


def test_healthz_checks_the_database_and_the_workers(app: Flask, client: FlaskClient, monkeypatch: Any) -> None:
    web = client.get("/healthz?only=web")
    assert web.status_code == 200 and web.get_json() == {"status": "ok", "database": "ok"}
    never = client.get("/healthz")
    assert never.status_code == 503 and never.get_json()["worker"] == "never seen"
    schedule.beat(utcnow() - timedelta(minutes=app.config["WORKER_STALE_MINUTES"] + 1))
    late = client.get("/healthz")
    assert late.status_code == 503 and late.get_json()["worker"] == "late"
    schedule.beat(utcnow())
    ok = client.get("/healthz")
    assert ok.status_code == 200 and ok.get_json()["status"] == "ok" and ok.get_json()["worker"] == "ok"

    def unreachable(*args: Any, **kwargs: Any) -> Any:
        raise sa.exc.OperationalError("SELECT 1", {}, Exception("database is down"))

    monkeypatch.setattr(sa.engine.Connection, "exec_driver_sql", unreachable)  # the probe's query (core/db.py)
    down = client.get("/healthz")
    assert down.status_code == 503 and down.get_json()["database"] == "unreachable"


def test_layout_landmarks_skip_link_and_role_navigation(client: FlaskClient, as_role: Any) -> None:
    page = client.get("/").get_data(as_text=True)
    assert page.index('class="skip-link" href="#main"') < page.index("<header")
    assert (
        '<main id="main"' in page
        and '<nav class="sections" aria-label="Main">' in page
        and '<nav aria-label="Your account">' in page
        and "<footer" in page
    )
    assert ">Sign in<" in page and ">People<" not in page
    member = as_role("member").get("/dashboard").get_data(as_text=True)
    assert "Sign out" in member and ">People<" not in member
    admin = as_role("admin").get("/dashboard").get_data(as_text=True)
    assert ">People<" in admin and ">Audit log<" in admin


def test_flash_messages_are_status_regions(client: FlaskClient, users: dict[str, Any]) -> None:
    sign_in(client, users["member"].email)
    page = client.get("/dashboard").get_data(as_text=True)
    assert 'role="status">You are signed in as Member Person.' in page


def test_render_gives_a_block_to_htmx_and_the_whole_page_to_a_history_restore(as_role: Any) -> None:
    admin = as_role("admin")
    fragment = admin.get("/admin/users?q=a", headers={"HX-Request": "true"})
    assert "<html" not in fragment.get_data(as_text=True)
    assert {"HX-Request", "HX-History-Restore-Request"} <= set(fragment.vary)
    restored = admin.get("/admin/users?q=a", headers={"HX-Request": "true", "HX-History-Restore-Request": "true"})
    assert "<html" in restored.get_data(as_text=True) and "<nav" in restored.get_data(as_text=True)

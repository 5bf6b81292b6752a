"""CSRF: every state-changing request without a token is refused, HTMX or not."""

from __future__ import annotations

import re

import pytest
from flask import Flask

from tests import factories


@pytest.fixture
def csrf_app(app_factory) -> Flask:
    app = app_factory(WTF_CSRF_ENABLED=True)
    with app.app_context():
        yield app


def _post_urls(app: Flask) -> list[str]:
    urls = []
    for rule in app.url_map.iter_rules():
        if "POST" in rule.methods:
            args = {name: 1 if name.endswith("_id") else "token" for name in rule.arguments}
            urls.append(rule.build(args)[1])
    return urls


@pytest.mark.parametrize("htmx", [False, True])
def test_post_without_token_is_refused(csrf_app: Flask, htmx: bool) -> None:
    client = csrf_app.test_client()
    headers = {"HX-Request": "true"} if htmx else {}
    urls = _post_urls(csrf_app)
    assert "/account/sign-in" in urls and "/admin/users/1/role" in urls
    for url in urls:
        response = client.post(url, data={"email": "a@b.test"}, headers=headers)
        assert response.status_code == 400, url
        assert "This form has expired" in response.get_data(as_text=True)
        if htmx:
            assert response.headers["HX-Retarget"] == "#main"


def test_post_with_token_from_the_form_works(csrf_app: Flask) -> None:
    person = factories.user(email="token@example.test")
    client = csrf_app.test_client()
    page = client.get("/account/sign-in").get_data(as_text=True)
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)
    response = client.post(
        "/account/sign-in", data={"email": person.email, "password": factories.PASSWORD, "csrf_token": token}
    )
    assert response.status_code == 303


def test_htmx_header_token_is_accepted(csrf_app: Flask) -> None:
    person = factories.user(email="hx@example.test")
    client = csrf_app.test_client()
    page = client.get("/account/sign-in").get_data(as_text=True)
    token = re.search(r'"X-CSRFToken": "([^"]+)"', page).group(1)
    response = client.post(
        "/account/sign-in",
        data={"email": person.email, "password": factories.PASSWORD},
        headers={"HX-Request": "true", "X-CSRFToken": token},
    )
    assert response.status_code == 204
    assert response.headers["HX-Redirect"] == "/dashboard"

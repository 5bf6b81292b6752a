"""Bad input gets a clear answer and changes nothing: NUL characters, next=, ids, page numbers,
request bodies over the limit, two batches with one reference, editing a deleted post."""

from __future__ import annotations

import io
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask

from portal.core import config
from portal.core.extensions import db
from portal.core.forms import is_id, safe_next
from portal.core.request_checks import LARGEST_ID
from portal.learning import posts
from portal.learning.models import LearningPost
from portal.remuneration import batches, claims
from portal.remuneration.models import PaymentBatch
from tests import factories
from tests.factories import make_post, submitted
from tests.helpers import client_for, count, text_of

NUL_SAYS = "hidden character (NUL)"


# --- NUL characters -----------------------------------------------------------------------------


def test_a_nul_in_a_form_field_is_refused_before_the_view_and_saves_nothing(app: Flask, users: dict[str, Any]) -> None:
    member = client_for(app, users["member"])
    response = member.post("/learning/new", data={"title": "A\x00title", "body": "Words", "visibility": "public"})
    assert response.status_code == 400
    assert NUL_SAYS in text_of(response) and "Nothing was changed" in text_of(response)
    assert count(LearningPost) == 0
    # The same form without the NUL goes through: it was the NUL that was refused.
    response = member.post("/learning/new", data={"title": "A title", "body": "Words", "visibility": "public"})
    assert response.status_code == 303 and count(LearningPost) == 1


@pytest.mark.parametrize(
    "url",
    [
        "/learning/?tag=a%00b",
        "/learning/?a%00=1",
        "/search?q=%00",
        "/stories/%00",
        "/learning/%00/edit",
    ],
)
def test_a_nul_in_the_query_or_path_gets_a_clear_400(client: Any, url: str) -> None:
    response = client.get(url)
    assert response.status_code == 400 and NUL_SAYS in text_of(response)


def test_a_nul_in_a_form_key_or_file_name_is_refused(app: Flask, users: dict[str, Any]) -> None:
    member = client_for(app, users["member"])
    response = member.post("/learning/new", data={"title": "T", "body": "B", "visibility": "public", "x\x00": "1"})
    assert response.status_code == 400
    signed_out = app.test_client()
    response = signed_out.post("/account/sign-in", data={"email": "a\x00@example.test", "password": "x"})
    assert response.status_code == 400 and NUL_SAYS in text_of(response)


def test_a_nul_is_refused_before_the_csrf_check_with_csrf_on(app_factory: Any) -> None:
    app = app_factory(WTF_CSRF_ENABLED=True)
    with app.app_context():
        response = app.test_client().post("/account/sign-in", data={"email": "\x00"})
        assert response.status_code == 400 and NUL_SAYS in text_of(response)


# --- next= --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "hostile",
    [
        "https://elsewhere.example/",
        "//elsewhere.example/",
        "/\\elsewhere.example/",
        "\\\\elsewhere.example",
        "/%0a/elsewhere",  # still percent-encoded: a path on this site, allowed below
        "/ok\n//elsewhere.example",
        "/ok\r\nSet-Cookie: x=1",
        "/\t/elsewhere.example",
        "javascript:alert(1)",
        "dashboard",
        "",
        None,
        "/" + "a" * 3000,
    ],
)
def test_safe_next_refuses_anything_but_a_plain_local_path(hostile: str | None) -> None:
    result = safe_next(hostile, "/dashboard")
    if hostile == "/%0a/elsewhere":
        assert result == hostile
    else:
        assert result == "/dashboard"


def test_safe_next_keeps_a_local_path_with_its_query() -> None:
    assert safe_next("/learning/?tag=respect&page=2", "/dashboard") == "/learning/?tag=respect&page=2"


@pytest.mark.parametrize("hostile", ["/ok%0A//elsewhere.example", "//elsewhere.example", "/%5Celsewhere.example"])
def test_signing_in_with_a_hostile_next_lands_on_the_dashboard(app: Flask, users: dict[str, Any], hostile: str) -> None:
    client = app.test_client()
    response = client.post(
        "/account/sign-in?next=" + hostile, data={"email": users["member"].email, "password": factories.PASSWORD}
    )
    assert response.status_code == 303 and response.headers["Location"] == "/dashboard"


# --- ids and page numbers -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "id_text", [str(LARGEST_ID + 1), str(2**63), "9" * 30, "0", "-1", "\u0661\u0662", "1e3", "00000000001x"]
)
def test_an_id_out_of_range_or_not_a_plain_number_is_not_found(app: Flask, users: dict[str, Any], id_text: str) -> None:
    staff = client_for(app, users["staff"])
    for url in (f"/learning/{id_text}", f"/claims/{id_text}", f"/stories/{id_text}"):
        assert staff.get(url).status_code == 404, url


def test_the_largest_id_is_looked_up_and_not_found(app: Flask, users: dict[str, Any]) -> None:
    staff = client_for(app, users["staff"])
    assert staff.get(f"/learning/{LARGEST_ID}").status_code == 404
    post = make_post(users["member"])
    assert staff.get(f"/learning/{post.id}").status_code == 200


@pytest.mark.parametrize("page", ["0", "-3", "x", "\u0662", "1_0", " 2", str(2**64), "9" * 40, "1.5", ""])
def test_a_page_number_that_is_not_a_plain_number_or_too_big_never_fails(
    app: Flask, users: dict[str, Any], page: str
) -> None:
    make_post(users["member"], title="Only post")
    client = app.test_client()
    response = client.get("/learning/", query_string={"page": page})
    assert response.status_code == 200
    if page in ("0", "-3", "x", "\u0662", "1_0", "1.5", ""):
        assert "Only post" in text_of(response)  # read as the first page


def test_a_huge_page_is_an_empty_page_past_the_end(app: Flask, users: dict[str, Any]) -> None:
    make_post(users["member"], title="Only post")
    admin = client_for(app, users["admin"])
    for url in ("/learning/?page=" + "9" * 25, "/admin/audit?page=99999999999", "/admin/users?page=2147483648"):
        response = admin.get(url)
        assert response.status_code == 200, url
    # The feed pages by cursor (``?after=``): an old page number is ignored, so it shows the first page.
    assert "Only post" in text_of(app.test_client().get("/learning/?page=" + "9" * 25))


@pytest.mark.parametrize("value", ["9" * 30, "-1", "\u0661", "x", str(2**40)])
def test_other_numeric_query_parameters_never_fail(app: Flask, users: dict[str, Any], value: str) -> None:
    admin = client_for(app, users["admin"])
    assert admin.get("/admin/audit", query_string={"actor": value}).status_code == 200
    for name in ("author", "project", "phase"):
        assert admin.get("/learning/", query_string={name: value}).status_code == 200
    assert admin.get("/learning/moderation", query_string={"cpage": value}).status_code == 200


# --- the size of a request ----------------------------------------------------------------------


def test_max_content_length_is_set_to_25_mb_by_default(app: Flask) -> None:
    assert config.DEFAULTS["MAX_CONTENT_LENGTH"] == 25 * 1024 * 1024
    assert app.config["MAX_CONTENT_LENGTH"] == 25 * 1024 * 1024


def test_max_content_length_comes_from_the_environment() -> None:
    assert config.from_environment({"PORTAL_MAX_CONTENT_LENGTH": "1048576"}) == {"MAX_CONTENT_LENGTH": 1048576}


def test_a_nonsense_max_content_length_stops_the_start(app_factory: Any) -> None:
    with pytest.raises(RuntimeError, match="PORTAL_MAX_CONTENT_LENGTH"):
        app_factory(MAX_CONTENT_LENGTH=0)


def test_a_body_over_the_limit_gets_413_before_it_is_read(app_factory: Any) -> None:
    app = app_factory(MAX_CONTENT_LENGTH=1000)
    with app.app_context():
        member = factories.user()
        client = client_for(app, member)
        read: list[int] = []

        class Body(io.BytesIO):
            """A request body that records whether anyone read it."""

            def read(self, *args: Any) -> bytes:
                read.append(1)
                return super().read(*args)

        response = client.post(
            "/learning/new",
            input_stream=Body(b"title=" + b"x" * 5000),
            headers={"Content-Length": "5000000", "Content-Type": "application/x-www-form-urlencoded"},
        )
        assert response.status_code == 413 and "That file is too large" in text_of(response)
        assert read == [] and count(LearningPost) == 0
        response = client.post("/learning/new", data={"title": "T", "body": "x" * 2000, "visibility": "public"})
        assert response.status_code == 413 and count(LearningPost) == 0


# --- two batches with one reference, a deleted post ---------------------------------------------


def test_a_batch_reference_taken_at_the_same_moment_gets_a_message_by_the_field(
    app: Flask, users: dict[str, Any], monkeypatch: Any
) -> None:
    card = factories.rate_card()
    first = submitted(factories.user(), card["Meeting"])
    second = submitted(factories.user(), card["Meeting"])
    for claim in (first, second):
        claims.approve_claim(claim, by=users["staff"], now=claim.submitted_at)
    db.session.commit()
    batches.create_batch(reference="PAY-9", claim_ids=[first.id], by=users["finance"])
    db.session.commit()
    # The other batch was made between this request's check and its insert: only the unique
    # constraint can see it.
    monkeypatch.setattr(batches, "reference_taken", lambda reference: False)
    finance = client_for(app, users["finance"])
    response = finance.post("/finance/batches", data={"reference": "PAY-9", "claim_ids": [str(second.id)]})
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert batches.DUPLICATE_REFERENCE in page
    assert count(PaymentBatch) == 1
    db.session.expire_all()
    assert db.session.get(type(second), second.id).batch_id is None
    assert db.session.scalar(sa.select(PaymentBatch.reference)) == "PAY-9"


def test_editing_a_deleted_post_says_so_and_saves_nothing(app: Flask, users: dict[str, Any]) -> None:
    post = make_post(users["member"])
    post_id = post.id
    author = client_for(app, users["member"])
    assert author.get(f"/learning/{post_id}/edit").status_code == 200
    posts.delete_post(post, by=users["member"])  # in another tab
    db.session.commit()
    response = author.post(
        f"/learning/{post_id}/edit", data={"title": "New words", "body": "Changed", "visibility": "public"}
    )
    assert response.status_code == 404
    assert posts.GONE in text_of(response) and "New words" in response.get_data(as_text=True)  # kept to copy
    assert count(LearningPost) == 0


# --- ids chosen in a form -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [("1", True), (str(LARGEST_ID), True), (str(LARGEST_ID + 1), False), ("0", False), ("\u00b2", False)]
    + [("\u0661", False), ("-1", False), ("", False), ("1 ", False), ("9" * 40, False)],
)
def test_is_id_accepts_only_plain_numbers_an_id_can_have(text: str, expected: bool) -> None:
    assert is_id(text) is expected


@pytest.mark.parametrize("chosen", [str(LARGEST_ID + 1), "99999999999999999999", "\u00b2"])
def test_a_panel_application_past_the_integer_range_is_a_message(
    app: Flask, users: dict[str, Any], chosen: str
) -> None:
    phase = factories.make_phase()
    staff = client_for(app, users["staff"])
    response = staff.post(
        f"/staff/phases/{phase.id}/panel", data={"email": users["member"].email, "application_id": chosen}
    )
    assert response.status_code == 422
    assert "Choose every application, or one application." in text_of(response)

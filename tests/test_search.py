"""One search over stories, learning posts and pilot pages, with the database's full-text search."""

from __future__ import annotations

from datetime import date
from typing import Any

import sqlalchemy as sa

from portal.core.extensions import db
from portal.core.search import documents
from portal.core.search.models import SearchDocument
from portal.core.search.service import search
from portal.grants.models import Phase, PhaseState, ProgressReport, ReportState
from portal.learning import moderation
from portal.search.rebuild import rebuild
from tests import factories
from tests.factories import make_post


class Visitor:
    is_authenticated = False
    is_active = False


def _titles(text: str, viewer: Any = None, **kwargs: Any) -> list[str]:
    return [hit.title for hit in search(text, viewer=viewer or Visitor(), **kwargs).items]


def test_finds_words_in_titles_and_bodies(app: Any, users: dict[str, Any]) -> None:
    make_post(users["member"], title="Budgets for travel", body="We paid bus fares on the day.")
    make_post(users["member"], title="Another thing", body="Nothing relevant here.")
    assert _titles("budgets") == ["Budgets for travel"]
    assert _titles("fares") == ["Budgets for travel"]  # a body word
    assert _titles("budget") == ["Budgets for travel"]  # stemmed
    assert _titles("bus fares") == ["Budgets for travel"]
    assert _titles("fares nothing") == []  # every word must match


def test_ranks_a_title_match_first(app: Any, users: dict[str, Any]) -> None:
    make_post(
        users["member"],
        title="Notes from March",
        body="Trust trust trust. Building trust took time, and trust grew slowly through trust.",
    )
    make_post(users["member"], title="Trust", body="A short post.")
    assert _titles("trust") == ["Trust", "Notes from March"]


def test_respects_visibility(app: Any, users: dict[str, Any]) -> None:
    make_post(users["member"], title="Open meeting notes")
    make_post(users["member"], title="Members meeting notes", visibility="members")
    documents.upsert(
        kind="story",
        object_id=7,
        title="A network story about meeting",
        body="words",
        audience="members",
        url_path="/stories/7",
    )
    db.session.commit()
    assert _titles("meeting") == ["Open meeting notes"]
    assert sorted(_titles("meeting", users["member"])) == [
        "A network story about meeting",
        "Members meeting notes",
        "Open meeting notes",
    ]
    assert _titles("meeting", users["member"], kind="story") == ["A network story about meeting"]


def test_hidden_and_withdrawn_content_leaves_search_at_once(app: Any, users: dict[str, Any]) -> None:
    app.config["FLAG_THRESHOLD"] = 1
    post = make_post(users["member"], title="Flaggable walrus")
    documents.upsert(
        kind="story", object_id=3, title="Walrus story", body="b", audience="public", url_path="/stories/3"
    )
    db.session.commit()
    assert sorted(_titles("walrus")) == ["Flaggable walrus", "Walrus story"]
    moderation.flag(post, by=users["staff"], reason="spam")
    documents.remove(kind="story", object_id=3)
    db.session.commit()
    assert _titles("walrus") == []


def test_edits_are_searchable_and_old_words_are_gone(app: Any, as_role: Any, users: dict[str, Any]) -> None:
    post = make_post(users["member"], title="Original heron")
    as_role("member").post(
        f"/learning/{post.id}/edit", data={"title": "Renamed egret", "body": "b", "visibility": "public"}
    )
    assert _titles("heron") == [] and _titles("egret") == ["Renamed egret"]


def test_user_text_never_reaches_query_syntax(app: Any, users: dict[str, Any]) -> None:
    make_post(users["member"], title="Quotes with stars")
    for text in ['"', "quotes OR", "NEAR(quotes", "quotes*", "title:quotes", "-quotes", "' ; drop table x"]:
        search(text, viewer=Visitor())  # no syntax error
    assert _titles('"quotes" elephant') == []  # both words must match, operators or not
    assert _titles('"quotes*') == ["Quotes with stars"]


def test_pilot_pages_are_indexed_when_funded_and_when_learning_is_published(app: Any, users: dict[str, Any]) -> None:
    phase = Phase(
        name="Phase 1",
        max_award_pence=500_000,
        delivery_months=4,
        pot_pence=2_500_000,
        target_awards=5,
        opens_on=date(2018, 1, 1),
        closes_on=date(2018, 2, 1),
        state=PhaseState.ACTIVE,
    )
    db.session.add(phase)
    unfunded = factories.project(title="Kingfisher draft")
    project = factories.project(title="Kingfisher cafés")
    project.phase_id = phase.id
    project.summary = "Peer-led cafés"
    db.session.commit()
    assert _titles("kingfisher") == ["Kingfisher cafés"] and unfunded.phase_id is None
    report = ProgressReport(
        project_id=project.id,
        due_on=date(2018, 5, 1),
        state=ReportState.ACCEPTED,
        what_we_learned="Lanterns helped people find us.",
    )
    db.session.add(report)
    db.session.commit()
    assert _titles("lanterns") == []
    report.learning_published = True
    db.session.commit()
    hits = search("lanterns", viewer=Visitor()).items
    assert [h.url_path for h in hits] == [f"/pilots/{project.id}"] and "<mark>" in str(hits[0].snippet)


def test_the_search_page_pages_and_escapes(app: Any, client: Any, users: dict[str, Any]) -> None:
    app.config["PAGE_SIZE"] = 2
    for number in range(3):
        make_post(users["member"], title=f"Otter <b>{number}</b>", body="otter")
    page = client.get("/search?q=otter").get_data(as_text=True)
    assert "3 results" in page and "Page 1 of 2" in page and "&lt;b&gt;" in page and "<b>0" not in page
    assert client.get("/search?q=otter&page=2").get_data(as_text=True).count('class="card"') == 1
    assert "Type some words" in client.get("/search").get_data(as_text=True)


def test_reindex_rebuilds_everything(app: Any, users: dict[str, Any]) -> None:
    make_post(users["member"], title="Rebuilt badger")
    hidden = make_post(users["member"], title="Hidden badger")
    hidden.state = "hidden"
    db.session.execute(sa.delete(SearchDocument))
    db.session.commit()
    assert _titles("badger") == []
    counts = rebuild()
    db.session.commit()
    assert counts["post"] == 1 and _titles("badger") == ["Rebuilt badger"]
    runner = app.test_cli_runner()
    result = runner.invoke(args=["reindex-search"])
    assert result.exit_code == 0 and "1 post" in result.output
    assert _titles("badger") == ["Rebuilt badger"]


def test_the_search_page_makes_the_same_queries_for_5_or_50_results(
    app: Any, client: Any, users: dict[str, Any]
) -> None:
    from tests.helpers import count_queries

    app.config["PAGE_SIZE"] = 100

    def add(count: int) -> None:
        for number in range(count):
            make_post(users["member"], title=f"Puffin {number}", body="puffins everywhere")

    def queries() -> int:
        client.get("/search?q=puffin")
        with count_queries() as statements:
            assert client.get("/search?q=puffin").status_code == 200
        return len(statements)

    add(5)
    few = queries()
    add(45)
    assert "50 results" in client.get("/search?q=puffin").get_data(as_text=True)
    assert queries() == few

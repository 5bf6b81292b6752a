"""Application drafts keep every word: a save from a stale page never overwrites (words or budget
lines), a refused submit saves the draft first, the budget's buttons save the words, autosave
says when it saved and refuses a stale version, and the saved versions are for the team and staff."""

from __future__ import annotations

import re
from html import unescape
from typing import Any

import sqlalchemy as sa

from portal.core.extensions import db
from portal.core.formatting import london_today
from portal.core.revisions import Revision
from portal.grants import applications
from portal.grants.models import Application, ApplicationState, BudgetLine
from tests import factories
from tests.factories import COMPLETE_APPLICATION, make_application, make_phase
from tests.helpers import client_for, count, queries_for

MINE = "Weekly cafés run by people in recovery, with a crèche."
THEIRS = "Weekly cafés run by people in recovery, in two towns."


def _team() -> tuple[Application, Any, Any]:
    lead = factories.user(name="Lena Lead")
    member = factories.user(name="Mo Member")
    application = make_application(make_phase(today=london_today()), lead, members=(member,), lines=(1_000_00,))
    return application, lead, member


def _fresh(application_id: int) -> Application:
    db.session.expire_all()
    found = db.session.get(Application, application_id)
    assert found is not None
    return found


def _form(application: Application, **changes: Any) -> dict[str, Any]:
    """The writing page as it was opened (its words and version), with what this person typed."""
    return {**{name: getattr(application, name) for name in COMPLETE_APPLICATION.__dict__}, **changes} | {
        "version": changes.get("version", application.version)
    }


def _text(response: Any) -> str:
    return unescape(response.get_data(as_text=True))


def _textarea(page: str, name: str) -> str:
    found = re.search(rf'<textarea[^>]*name="{name}"[^>]*>\s*(.*?)</textarea>', page, re.S)
    assert found is not None, name
    return found.group(1)


def _lines(application_id: int) -> list[str]:
    return list(
        db.session.scalars(
            sa.select(BudgetLine.description).where(BudgetLine.application_id == application_id).order_by(BudgetLine.id)
        )
    )


def _revisions(application_id: int) -> list[Revision]:
    return list(
        db.session.scalars(
            sa.select(Revision)
            .where(Revision.kind == "applications", Revision.record_id == application_id)
            .order_by(Revision.version)
        )
    )


# --- two people, one draft -------------------------------------------------------------------------------


def test_the_second_of_two_saves_from_one_opened_draft_is_refused_with_both_versions(app: Any) -> None:
    application, lead, member = _team()
    first, second = client_for(app, lead), client_for(app, member)
    opened = _form(application)  # both open the page at the same version
    assert first.post(f"/applications/{application.id}/edit", data={**opened, "summary": THEIRS}).status_code == 303
    # Anyone on the team opening it now sees who saved it last.
    assert "by Lena Lead." in _text(client_for(app, member).get(f"/applications/{application.id}/edit"))

    refused = second.post(f"/applications/{application.id}/edit", data={**opened, "summary": MINE})
    page = _text(refused)
    assert refused.status_code == 422
    assert "This was changed by Lena Lead on " in page and "since you opened it" in page
    assert "Saved by Lena Lead" in page and "Yours (not saved yet)" in page
    assert THEIRS in page and MINE in page  # both versions, side by side
    assert _fresh(application.id).summary == THEIRS  # nothing overwritten
    assert _textarea(page, "summary") == MINE  # the second person's text is still in the form
    saved_version = _fresh(application.id).version
    assert f'name="version" type="hidden" value="{saved_version}"' in page  # moved on: merge, then save

    merged = f"{THEIRS} With a crèche."
    again = second.post(f"/applications/{application.id}/edit", data=_form(_fresh(application.id), summary=merged))
    assert again.status_code == 303
    assert _fresh(application.id).summary == merged
    assert _fresh(application.id).changed_by_id == member.id


def test_a_stale_budget_line_add_or_remove_is_refused_and_changes_nothing(app: Any) -> None:
    application, lead, member = _team()
    first, second = client_for(app, lead), client_for(app, member)
    opened = _form(application)
    line_id = db.session.scalar(sa.select(BudgetLine.id).where(BudgetLine.application_id == application.id))
    added = first.post(
        f"/applications/{application.id}/edit",
        data={**opened, "action": "add_line", "category": "venue", "description": "Room hire", "amount": "400"},
    )
    assert added.status_code == 303
    assert _lines(application.id) == ["Paying co-researchers", "Room hire"]

    stale_add = second.post(
        f"/applications/{application.id}/edit",
        data={**opened, "action": "add_line", "category": "travel", "description": "Bus fares", "amount": "90"},
    )
    page = _text(stale_add)
    assert stale_add.status_code == 422 and "This was changed by Lena Lead" in page
    assert "Venues and catering: Room hire, £400.00" in page  # their budget
    assert "Travel: Bus fares, £90.00" in page  # and the one this person was adding
    assert 'value="Bus fares"' in page  # still in the form, to add again
    stale_remove = second.post(f"/applications/{application.id}/edit", data={**opened, "remove_line": str(line_id)})
    assert stale_remove.status_code == 422 and "This was changed by Lena Lead" in _text(stale_remove)
    assert _lines(application.id) == ["Paying co-researchers", "Room hire"]  # nothing added, nothing removed

    # The budget's own route checks the version too.
    old_route = second.post(f"/applications/{application.id}/budget-lines/{line_id}/delete", data={"version": 1})
    assert old_route.status_code == 422 and count(BudgetLine) == 2


def test_htmx_gets_the_conflict_in_the_budget_section(app: Any) -> None:
    application, lead, member = _team()
    opened = _form(application)
    client_for(app, lead).post(f"/applications/{application.id}/edit", data={**opened, "title": "Their title"})
    answer = client_for(app, member).post(
        f"/applications/{application.id}/edit",
        headers={"HX-Request": "true"},
        data={**opened, "action": "add_line", "category": "venue", "description": "Hall", "amount": "100"},
    )
    text = _text(answer)
    assert answer.status_code == 200 and "<html" not in text  # htmx swaps 2xx only
    assert 'id="edit-conflict"' in text and "Their title" in text and 'id="budget-title"' in text
    assert f'value="{_fresh(application.id).version}"' in text
    assert _lines(application.id) == ["Paying co-researchers"]


# --- drafts survive ----------------------------------------------------------------------------------------


def test_a_refused_submit_saves_every_field_as_the_draft_first(app: Any) -> None:
    lead = factories.user(name="Lena Lead")
    phase = make_phase(today=london_today(), max_award=1_000_00)
    application = make_application(phase, lead, complete=False, lines=(900_00,))
    client = client_for(app, lead)
    typed = {
        "title": "Cafés in two towns",
        "summary": "Weekly cafés.",
        "lived_experience": "Six people in recovery.",
        "co_design": "They design it.",
        "co_decision": "",  # missing: the submit is refused for it
        "co_delivery": "They run it.",
        "co_evaluation": "They judge it.",
    }
    new_line = {"category": "venue", "description": "Room hire", "amount": "300"}  # over the £1,000 cap
    refused = client.post(
        f"/applications/{application.id}/submit",
        data={**typed, **new_line, "version": application.version, "action": "submit"},
    )
    page = _text(refused)
    assert refused.status_code == 422
    assert "Explain how people with lived experience will share the decisions." in page
    assert "Reduce your budget lines by £200.00" in page
    assert "Your draft is saved, but it cannot be sent yet." in page
    saved = _fresh(application.id)
    assert saved.state == ApplicationState.DRAFT
    assert {name: getattr(saved, name) for name in typed} == typed
    assert _lines(application.id) == ["Paying co-researchers", "Room hire"]
    assert 'value="Room hire"' not in page  # in the budget now, not waiting to be added twice
    # Leaving and coming back: the typed text, not "Untitled application".
    again = _text(client.get(f"/applications/{application.id}/edit"))
    assert 'value="Cafés in two towns"' in again and _textarea(again, "co_delivery") == "They run it."
    assert "Untitled application" not in _text(client.get(f"/applications/{application.id}"))
    # Saving the re-shown page does not conflict with its own save.
    fixed = client.post(
        f"/applications/{application.id}/edit",
        data={**typed, "co_decision": "They hold the budget.", "version": saved.version},
    )
    assert fixed.status_code == 303 and _fresh(application.id).co_decision == "They hold the budget."


def test_adding_or_removing_a_line_without_javascript_keeps_the_other_fields(app: Any) -> None:
    application, lead, _member = _team()
    client = client_for(app, lead)
    typed = _form(application, title="A new title", co_design="Typed, not yet saved.")
    added = client.post(
        f"/applications/{application.id}/edit",
        data={**typed, "action": "add_line", "category": "travel", "description": "Bus fares", "amount": "90"},
    )
    assert added.status_code == 303 and added.headers["Location"].endswith("#budget")
    saved = _fresh(application.id)
    assert (saved.title, saved.co_design) == ("A new title", "Typed, not yet saved.")
    assert _lines(application.id) == ["Paying co-researchers", "Bus fares"]

    first_line = db.session.scalar(sa.select(BudgetLine.id).where(BudgetLine.description == "Paying co-researchers"))
    removed = client.post(
        f"/applications/{application.id}/edit",
        data={**_form(saved, summary="Typed before removing."), "remove_line": str(first_line)},
    )
    assert removed.status_code == 303
    assert _fresh(application.id).summary == "Typed before removing."
    assert _lines(application.id) == ["Bus fares"]

    # "Add the line" with nothing to add says so, and keeps what was typed on the page.
    empty = client.post(
        f"/applications/{application.id}/edit",
        data={**_form(_fresh(application.id), title="Kept"), "action": "add_line"},
    )
    assert empty.status_code == 422 and "Say what this budget line is for" in _text(empty)
    assert 'value="Kept"' in _text(empty) and _lines(application.id) == ["Bus fares"]


def test_the_writing_page_is_one_form_whose_buttons_are_named(app: Any) -> None:
    application, lead, _member = _team()
    page = _text(client_for(app, lead).get(f"/applications/{application.id}/edit"))
    assert page.count("<form") == 2  # the writing page's form, and signing out in the header
    assert 'name="action" value="add_line"' in page and 'name="remove_line" value="' in page
    assert f'name="version" type="hidden" value="{application.version}"' in page
    assert 'hx-trigger="input delay:2s"' in page and 'aria-live="polite"' in page


# --- autosave -------------------------------------------------------------------------------------------------


def test_autosave_saves_the_words_says_when_and_refuses_a_stale_version(app: Any) -> None:
    application, lead, member = _team()
    opened = _form(application)
    opened_at = application.version
    url = f"/applications/{application.id}/autosave"
    saved = client_for(app, lead).post(
        url, headers={"HX-Request": "true"}, data={**opened, "summary": THEIRS, "description": "Half typ"}
    )
    text = _text(saved)
    assert saved.status_code == 200 and re.search(r"Saved \d\d:\d\d", text)
    version = _fresh(application.id).version
    assert version == opened_at + 1
    assert f'id="version" value="{version}" hx-swap-oob="true"' in text  # the next save carries it
    assert _fresh(application.id).summary == THEIRS
    assert count(BudgetLine) == 1  # a line half typed waits for its button

    stale = client_for(app, member).post(url, headers={"HX-Request": "true"}, data={**opened, "summary": MINE})
    text = _text(stale)
    assert stale.status_code == 200 and not re.search(r"Saved \d", text)
    assert "This was changed by Lena Lead" in text and THEIRS in text and MINE in text
    assert 'id="autosave-mode" value="paused"' in text  # it stops saving by itself
    assert _fresh(application.id).summary == THEIRS

    paused = client_for(app, member).post(
        url, headers={"HX-Request": "true"}, data={**_form(_fresh(application.id), summary=MINE), "autosave": "paused"}
    )
    assert paused.status_code == 204  # htmx leaves the conflict panel where it is
    assert _fresh(application.id).summary == THEIRS


# --- saved versions ---------------------------------------------------------------------------------------------


def test_history_and_compare_show_the_saved_versions_to_the_team_and_staff_only(
    app: Any, users: dict[str, Any]
) -> None:
    application, lead, member = _team()
    lead_client = client_for(app, lead)
    lead_client.post(f"/applications/{application.id}/edit", data=_form(application, summary=THEIRS))
    lead_client.post(
        f"/applications/{application.id}/edit",
        data={
            **_form(_fresh(application.id), summary=MINE),
            "action": "add_line",
            "category": "venue",
            "description": "Room hire",
            "amount": "400",
        },
    )
    kept = _revisions(application.id)
    assert [revision.fields["summary"] for revision in kept] == [THEIRS, MINE]
    assert kept[1].version == kept[0].version + 1  # one save, one version (the words and the line together)
    assert kept[-1].fields["budget"].endswith("Venues and catering: Room hire, £400.00")

    history = _text(client_for(app, member).get(f"/applications/{application.id}/history"))
    assert "Saved versions" in history and "Lena Lead" in history
    assert all(f'value="{revision.id}"' in history for revision in kept)
    url = f"/applications/{application.id}/history/compare?from={kept[0].id}&to={kept[1].id}"
    compared = _text(client_for(app, users["staff"]).get(url))
    assert f"From version {kept[0].version} (Lena Lead" in compared
    assert "[removed: </span>towns." in compared and "[added: </span>crèche." in compared
    assert "[added: </span>" in compared.split("Budget")[-1]  # the new line, word by word

    outsider = client_for(app, factories.user(name="Someone Else"))
    assert outsider.get(f"/applications/{application.id}/history").status_code == 403
    assert outsider.get(url).status_code == 403
    anonymous = app.test_client().get(f"/applications/{application.id}/history")
    assert anonymous.status_code in (302, 303) and "/account/sign-in" in anonymous.headers["Location"]
    bad = client_for(app, lead).get(f"/applications/{application.id}/history/compare?from=99999&to={kept[0].id}")
    assert bad.status_code == 404
    other = make_application(make_phase(today=london_today(), name="Phase 4"), lead)
    assert (
        client_for(app, lead)
        .get(f"/applications/{other.id}/history/compare?from={kept[0].id}&to={kept[1].id}")
        .status_code
        == 404
    )
    page = _text(client_for(app, lead).get(f"/applications/{application.id}"))
    assert f'href="/applications/{application.id}/history"' in page


def test_the_history_page_makes_as_many_queries_for_50_versions_as_for_5(app: Any) -> None:
    app.config["PAGE_SIZE"] = 100  # every version on one page
    application, lead, member = _team()
    savers = [lead, member, *(factories.user() for _ in range(8))]

    def save(times: int) -> None:
        for number in range(times):
            found = _fresh(application.id)
            details = applications.ApplicationDetails(**{**COMPLETE_APPLICATION.__dict__, "summary": f"Draft {number}"})
            applications.save_draft(found, details, by=lead, seen=found.version)
            db.session.commit()
            kept = db.session.scalars(sa.select(Revision).order_by(Revision.id.desc()).limit(1)).one()
            kept.by_id = savers[number % len(savers)].id  # saved by many people: their names in one query
            db.session.commit()

    client, url = client_for(app, lead), f"/applications/{application.id}/history"
    save(5)
    with_few = queries_for(client, url)
    save(45)
    assert len(_revisions(application.id)) == 50
    assert queries_for(client, url) == with_few

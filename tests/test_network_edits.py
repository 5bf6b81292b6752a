"""Concurrent editing of learning posts, gatherings, directory entries and the rate card: two
people (or one person in two tabs) open the same edit form and both save; the second save is
refused with both versions side by side, their own text stays in the form, and nothing of the
first save is overwritten. Saving an unchanged directory entry leaves every row as it was, and a
post taken down or deleted cannot be edited (a clear page, never a 500)."""

from __future__ import annotations

import re
from datetime import timedelta
from html import unescape
from html.parser import HTMLParser
from typing import Any

import sqlalchemy as sa
from werkzeug.datastructures import MultiDict

from portal.accounts.models import Role
from portal.core.audit import AuditEntry
from portal.core.extensions import db
from portal.core.formatting import london_today
from portal.directory.models import DirectoryEntry, DirectoryInterest, DirectorySkill
from portal.gatherings.models import Gathering
from portal.learning import moderation
from portal.learning.models import LearningPost, PostState, PostTag
from portal.notifications.models import Notification
from portal.remuneration import rates
from portal.remuneration.models import Claim, Rate
from tests import factories
from tests.factories import make_gathering, make_post
from tests.helpers import client_for


def _text(response: Any) -> str:
    return unescape(response.get_data(as_text=True))


def _version(page: str, name: str = "version") -> str:
    """The version an edit form was opened at, as its hidden field holds it."""
    found = re.search(rf'name="{re.escape(name)}"[^>]*value="([0-9]+)"', page) or re.search(
        rf'value="([0-9]+)"[^>]*name="{re.escape(name)}"', page
    )
    assert found, f"no {name} field in the form"
    return found.group(1)


class _Form(HTMLParser):
    """What a browser would send for the first ``<form>`` whose action ends with ``action``, as
    the page fills it: text inputs, hidden fields, ticked boxes and radios, textareas."""

    def __init__(self, action: str) -> None:
        super().__init__(convert_charrefs=True)
        self.action, self.inside, self.done = action, False, False
        self.fields: list[tuple[str, str]] = []
        self.textarea: str | None = None
        self.typed = ""

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = {key: value or "" for key, value in attrs}
        if tag == "form" and not self.done and found.get("action", "").endswith(self.action):
            self.inside = True
        elif self.inside and tag == "input" and "name" in found:
            if found.get("type") not in ("checkbox", "radio") or "checked" in found:
                self.fields.append((found["name"], found.get("value", "on" if found.get("type") == "checkbox" else "")))
        elif self.inside and tag == "textarea":
            self.textarea, self.typed = found["name"], ""

    def handle_data(self, data: str) -> None:
        if self.textarea is not None:
            self.typed += data

    def handle_endtag(self, tag: str) -> None:
        if tag == "textarea" and self.textarea is not None:
            self.fields.append((self.textarea, self.typed.removeprefix("\n")))
            self.textarea = None
        elif tag == "form" and self.inside:
            self.inside, self.done = False, True


def _as_sent(page: str, action: str) -> MultiDict[str, str]:
    parser = _Form(action)
    parser.feed(page)
    assert parser.done, f"no form for {action} on the page"
    return MultiDict(parser.fields)


def _conflict(page: str) -> str:
    """The "changed since you opened it" panel: who, when, and both versions."""
    assert 'id="edit-conflict"' in page, "no conflict panel on the page"
    return page.split('id="edit-conflict"')[1].split("</section>")[0]


def _form_value(page: str, name: str) -> str:
    """What an ``<input>`` or ``<textarea>`` named ``name`` holds in the page."""
    area = re.search(rf'<textarea[^>]*name="{re.escape(name)}"[^>]*>(.*?)</textarea>', page, flags=re.S)
    if area:
        return area.group(1).strip()
    found = re.search(rf'<input[^>]*name="{re.escape(name)}"[^>]*value="([^"]*)"', page)
    assert found, f"no {name} in the form"
    return found.group(1)


# --- learning posts ---------------------------------------------------------------------------


def _post_form(post: LearningPost, **changes: Any) -> dict[str, Any]:
    return {"title": post.title, "body": post.body, "visibility": post.visibility.value, **changes}


def test_two_tabs_save_one_post_and_the_second_is_refused_with_both_versions(app: Any, users: dict[str, Any]) -> None:
    post = make_post(users["member"], title="Paying people promptly", body="We paid within a week.")
    first, second = client_for(app, users["member"]), client_for(app, users["member"])
    opened_first = _text(first.get(f"/learning/{post.id}/edit"))
    opened_second = _text(second.get(f"/learning/{post.id}/edit"))
    seen = _version(opened_first)
    assert seen == _version(opened_second)

    saved = first.post(
        f"/learning/{post.id}/edit",
        data={**_post_form(post), "body": "We paid within three days.", "values": ["equality"], "version": seen},
    )
    assert saved.status_code == 303
    refused = second.post(
        f"/learning/{post.id}/edit",
        data={**_post_form(post), "body": "We paid on the day.", "themes": ["outcomes"], "version": seen},
        headers={"HX-Request": "true"},  # the same with htmx as without
    )
    page = _text(refused)
    assert refused.status_code == 422
    panel = _conflict(page)
    assert "changed by you, in another window or tab" in panel
    assert "We paid within three days." in panel and "We paid on the day." in panel  # both, side by side
    assert "Values and themes" in panel
    assert _form_value(page, "body") == "We paid on the day."  # their own text stays in the form

    db.session.expire_all()
    kept = db.session.get_one(LearningPost, post.id)
    assert kept.body == "We paid within three days." and kept.tag_set == {"value:equality"}
    assert kept.changed_by_id == users["member"].id and kept.version == int(seen) + 1

    # After merging, saving again from the refused form (now at the saved version) goes through.
    merged = second.post(
        f"/learning/{post.id}/edit",
        data={**_post_form(post), "body": "We paid on the day.", "version": _version(page)},
    )
    assert merged.status_code == 303
    db.session.expire_all()
    assert db.session.get_one(LearningPost, post.id).body == "We paid on the day."


def test_saving_an_unchanged_post_changes_nothing(app: Any, users: dict[str, Any]) -> None:
    post = make_post(users["member"], values=["equality"], themes=["outcomes"])
    before = (post.version, post.edited_at, [tag.id for tag in post.tags])
    client = client_for(app, users["member"])
    seen = _version(_text(client.get(f"/learning/{post.id}/edit")))
    response = client.post(
        f"/learning/{post.id}/edit",
        data={**_post_form(post), "values": ["equality"], "themes": ["outcomes"], "version": seen},
        follow_redirects=True,
    )
    assert "Nothing had changed" in _text(response)
    db.session.expire_all()
    again = db.session.get_one(LearningPost, post.id)
    assert (again.version, again.edited_at, [tag.id for tag in again.tags]) == before


def test_a_post_taken_down_cannot_be_edited_and_the_typed_text_is_shown_back(app: Any, users: dict[str, Any]) -> None:
    post = make_post(users["member"], body="Words before.")
    client = client_for(app, users["member"])
    seen = _version(_text(client.get(f"/learning/{post.id}/edit")))
    moderation.decide(post, by=users["staff"], decision="hide", reason="It names a participant.")
    db.session.commit()

    page = client.get(f"/learning/{post.id}/edit")
    assert page.status_code == 200 and "took this post down" in _text(page) and 'name="body"' not in _text(page)
    response = client.post(
        f"/learning/{post.id}/edit", data={**_post_form(post), "body": "My new words", "version": seen}
    )
    text = _text(response)
    assert response.status_code == 422
    assert "took this post down" in text and "It names a participant." in text
    assert "My new words" in text  # what they typed, to copy
    db.session.expire_all()
    kept = db.session.get_one(LearningPost, post.id)
    assert kept.body == "Words before." and kept.state == PostState.HIDDEN


def test_editing_a_deleted_post_says_so_and_never_fails(app: Any, users: dict[str, Any]) -> None:
    post = make_post(users["member"])
    post_id = post.id
    form = _post_form(post, body="Too late")
    editor, deleter = client_for(app, users["member"]), client_for(app, users["member"])
    seen = _version(_text(editor.get(f"/learning/{post_id}/edit")))
    assert deleter.post(f"/learning/{post_id}/delete").status_code == 303
    assert db.session.get(LearningPost, post_id) is None

    for response in (
        editor.get(f"/learning/{post_id}/edit"),
        editor.post(f"/learning/{post_id}/edit", data={**form, "version": seen}),
    ):
        assert response.status_code == 404
        assert "not on the portal any more" in _text(response)
    assert "Too late" in _text(editor.post(f"/learning/{post_id}/edit", data={**form, "version": seen}))
    assert db.session.scalar(sa.select(sa.func.count(LearningPost.id))) == 0
    assert db.session.scalar(sa.select(sa.func.count(PostTag.id))) == 0


# --- gatherings -------------------------------------------------------------------------------


def _organiser() -> Any:
    """A member who leads a pilot project, so they may organise gatherings."""
    lead = factories.user(name="Priya Organiser")
    factories.project(title="Recovery cafés", lead=lead)
    return lead


def _gathering_form(page: str, **changes: Any) -> dict[str, Any]:
    """The gathering's edit form as it was opened, with ``changes``."""
    names = ("title", "starts_at", "ends_at", "place", "online_link", "capacity", "units", "version")
    data = {name: _form_value(page, name) for name in names}
    data["description"] = _form_value(page, "description")
    data["accessibility"] = _form_value(page, "accessibility")
    return {**data, **changes}


def test_two_organisers_save_one_gathering_and_the_second_is_refused_with_both(app: Any, users: dict[str, Any]) -> None:
    lead = _organiser()
    gathering = make_gathering(lead, capacity=10, title="Co-design workshop")
    organiser, staff = client_for(app, lead), client_for(app, users["staff"])
    opened_by_organiser = _text(organiser.get(f"/gatherings/{gathering.id}/edit"))
    opened_by_staff = _text(staff.get(f"/gatherings/{gathering.id}/edit"))
    sequence = gathering.sequence

    saved = organiser.post(
        f"/gatherings/{gathering.id}/edit", data=_gathering_form(opened_by_organiser, place="Library, room 2")
    )
    assert saved.status_code == 303
    refused = staff.post(
        f"/gatherings/{gathering.id}/edit",
        data=_gathering_form(opened_by_staff, place="Town hall", capacity="12"),
    )
    page = _text(refused)
    assert refused.status_code == 422
    panel = _conflict(page)
    assert "changed by Priya Organiser" in panel
    assert "Library, room 2" in panel and "Town hall" in panel
    assert "How many people can come" in panel and "12" in panel  # the staff's own change, beside the saved 10
    assert _form_value(page, "place") == "Town hall"

    db.session.expire_all()
    kept = db.session.get_one(Gathering, gathering.id)
    assert (kept.place, kept.capacity, kept.sequence) == ("Library, room 2", 10, sequence + 1)
    assert kept.changed_by_id == lead.id

    # the refused form now carries the saved version: after merging, saving again goes through
    merged = staff.post(
        f"/gatherings/{gathering.id}/edit", data=_gathering_form(page, place="Library, room 2", capacity="12")
    )
    assert merged.status_code == 303
    db.session.expire_all()
    assert db.session.get_one(Gathering, gathering.id).capacity == 12


def test_saving_an_unchanged_gathering_changes_nothing_and_tells_nobody(app: Any, users: dict[str, Any]) -> None:
    lead = _organiser()
    gathering = make_gathering(lead, capacity=5)
    factories.book(gathering, factories.user())
    before = (gathering.version, gathering.sequence, gathering.updated_at)
    notified = db.session.scalar(sa.select(sa.func.count(Notification.id)))
    organiser = client_for(app, lead)
    page = _text(organiser.get(f"/gatherings/{gathering.id}/edit"))
    response = organiser.post(f"/gatherings/{gathering.id}/edit", data=_gathering_form(page), follow_redirects=True)
    assert "Nothing had changed" in _text(response)
    db.session.expire_all()
    again = db.session.get_one(Gathering, gathering.id)
    assert (again.version, again.sequence, again.updated_at) == before
    assert db.session.scalar(sa.select(sa.func.count(Notification.id))) == notified


def test_a_booking_does_not_make_the_organisers_form_stale(app: Any, users: dict[str, Any]) -> None:
    """Places booked while the organiser edits lock the row but do not change the gathering."""
    lead = _organiser()
    gathering = make_gathering(lead, capacity=5)
    organiser = client_for(app, lead)
    page = _text(organiser.get(f"/gatherings/{gathering.id}/edit"))
    factories.book(gathering, factories.user())
    response = organiser.post(f"/gatherings/{gathering.id}/edit", data=_gathering_form(page, title="Co-design day"))
    assert response.status_code == 303
    db.session.expire_all()
    assert db.session.get_one(Gathering, gathering.id).title == "Co-design day"


# --- directory entries ------------------------------------------------------------------------


def _entry_rows(user_id: int) -> tuple[dict[str, Any], list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    """Every column of the entry and every one of its interest and skill rows, read afresh."""
    db.session.expire_all()
    entry = db.session.get_one(DirectoryEntry, user_id)
    columns = {column.key: getattr(entry, column.key) for column in sa.inspect(DirectoryEntry).column_attrs}
    interests = db.session.execute(
        sa.select(DirectoryInterest.user_id, DirectoryInterest.value).order_by(DirectoryInterest.value)
    ).all()
    skills = db.session.execute(
        sa.select(DirectorySkill.user_id, DirectorySkill.key, DirectorySkill.name).order_by(DirectorySkill.key)
    ).all()
    return columns, [tuple(row) for row in interests], [tuple(row) for row in skills]


def _listed_entry(client: Any) -> None:
    response = client.post(
        "/people/me",
        data={
            "listed": "y",
            "display_name": "Sam",
            "show_bio": "y",
            "accepts_messages": "y",
            "interests": ["equality", "diversity"],
            "skills": "Co-design, British Sign Language, peer support",
        },
    )
    assert response.status_code == 303


def test_saving_an_unchanged_directory_entry_leaves_it_exactly_as_it_was(app: Any, users: dict[str, Any]) -> None:
    member = users["member"]
    client = client_for(app, member)
    _listed_entry(client)
    before = _entry_rows(member.id)
    assert [row[1] for row in before[1]] == ["diversity", "equality"]
    assert [row[2] for row in before[2]] == ["British Sign Language", "Co-design", "peer support"]
    audits = db.session.scalar(sa.select(sa.func.count(AuditEntry.id)))

    page = _text(client.get("/people/me"))
    sent = _as_sent(page, "/people/me")
    assert sent["skills"] == "British Sign Language, Co-design, peer support"  # the skills, not Python reprs
    assert sorted(sent.getlist("interests")) == ["diversity", "equality"]  # the interests ticked
    response = client.post("/people/me", data=sent)
    assert response.status_code == 303

    assert _entry_rows(member.id) == before  # every column (version, updated_at too) and every row
    assert db.session.scalar(sa.select(sa.func.count(AuditEntry.id))) == audits


def test_a_changed_skill_changes_only_that_row_and_moves_the_version_on(app: Any, users: dict[str, Any]) -> None:
    member = users["member"]
    client = client_for(app, member)
    _listed_entry(client)
    columns, interests, _skills = _entry_rows(member.id)
    sent = _as_sent(_text(client.get("/people/me")), "/people/me")
    sent["skills"] = "co-design, British Sign Language, facilitation"
    assert client.post("/people/me", data=sent).status_code == 303
    after_columns, after_interests, after_skills = _entry_rows(member.id)
    assert after_interests == interests
    assert [row[1:] for row in after_skills] == [
        ("british sign language", "British Sign Language"),
        ("co-design", "co-design"),
        ("facilitation", "facilitation"),
    ]
    assert after_columns["version"] == columns["version"] + 1 and after_columns["changed_by_id"] == member.id


def test_two_tabs_save_one_directory_entry_and_the_second_is_refused(app: Any, users: dict[str, Any]) -> None:
    member = users["member"]
    first, second = client_for(app, member), client_for(app, member)
    _listed_entry(first)
    in_first = _as_sent(_text(first.get("/people/me")), "/people/me")
    in_second = _as_sent(_text(second.get("/people/me")), "/people/me")
    in_first["display_name"] = "Sam B"
    assert first.post("/people/me", data=in_first).status_code == 303
    in_second["skills"] = "Co-design, drawing"
    in_second.setlist("interests", ["equality"])
    refused = second.post("/people/me", data=in_second)
    page = _text(refused)
    assert refused.status_code == 422
    panel = _conflict(page)
    assert "changed by you, in another window or tab" in panel
    assert "Sam B" in panel and "Sam" in panel  # the saved name beside the one in this form
    assert "Co-design, drawing" in panel and "British Sign Language, Co-design, peer support" in panel
    assert "Equality and shifts in power" in panel  # interests in words
    assert _form_value(page, "skills") == "Co-design, drawing"  # their own typing stays in the form

    columns, interests, skills = _entry_rows(member.id)
    assert columns["display_name"] == "Sam B"
    assert [row[1] for row in interests] == ["diversity", "equality"]
    assert [row[2] for row in skills] == ["British Sign Language", "Co-design", "peer support"]


# --- the rate card ----------------------------------------------------------------------------


def test_two_admins_set_a_rate_and_the_second_is_refused_with_both(app: Any, users: dict[str, Any]) -> None:
    meeting = factories.rate_card()["Meeting"]
    other_admin = factories.user(role=Role.ADMIN, name="Alex Admin")
    first, second = client_for(app, other_admin), client_for(app, users["admin"])
    field = f"rate-{meeting.id}"
    seen_first = _version(_text(first.get("/admin/rates")), f"{field}-version")
    seen_second = _version(_text(second.get("/admin/rates")), f"{field}-version")
    assert seen_first == seen_second

    later = london_today() + timedelta(days=30)
    saved = first.post(
        f"/admin/rates/{meeting.id}",
        data={f"{field}-amount": "25.00", f"{field}-effective_from": later.isoformat(), f"{field}-version": seen_first},
    )
    assert saved.status_code == 303
    refused = second.post(
        f"/admin/rates/{meeting.id}",
        data={
            f"{field}-amount": "30.00",
            f"{field}-effective_from": (later + timedelta(days=1)).isoformat(),
            f"{field}-version": seen_second,
        },
    )
    page = _text(refused)
    assert refused.status_code == 422
    panel = _conflict(page)
    assert "changed by Alex Admin" in panel
    assert "£25.00 from" in panel and "£20.00 from 1 January 2025" in panel  # the rates as saved now
    assert "£30.00 from" in panel and "your new rate" in panel  # beside the one this admin typed
    assert _form_value(page, f"{field}-amount") == "30.00"  # still in the form, to save again
    db.session.expire_all()
    amounts = db.session.scalars(
        sa.select(Rate.amount_pence).where(Rate.activity_type_id == meeting.id).order_by(Rate.effective_from)
    ).all()
    assert amounts == [2000, 2500]

    again = second.post(
        f"/admin/rates/{meeting.id}",
        data={
            f"{field}-amount": "30.00",
            f"{field}-effective_from": (later + timedelta(days=1)).isoformat(),
            f"{field}-version": _version(page, f"{field}-version"),
        },
    )
    assert again.status_code == 303
    assert len(db.session.scalars(sa.select(Rate).where(Rate.activity_type_id == meeting.id)).all()) == 3


def test_a_changed_rate_keeps_the_old_one_for_claims_already_priced(app: Any, users: dict[str, Any]) -> None:
    meeting = factories.rate_card()["Meeting"]
    claim = factories.submitted(factories.user(), meeting, units="2")
    priced = (claim.rate_pence, claim.full_fee_pence)
    assert priced == (2000, 4000)
    admin = client_for(app, users["admin"])
    field = f"rate-{meeting.id}"
    seen = _version(_text(admin.get("/admin/rates")), f"{field}-version")
    starts = factories.CLAIM_DAY - timedelta(days=1)  # in force before the claim's activity date
    response = admin.post(
        f"/admin/rates/{meeting.id}",
        data={f"{field}-amount": "27.50", f"{field}-effective_from": starts.isoformat(), f"{field}-version": seen},
    )
    assert response.status_code == 303
    db.session.expire_all()
    kept = db.session.get_one(Claim, claim.id)
    assert (kept.rate_pence, kept.full_fee_pence) == priced  # the claim keeps the rate it was priced at
    in_force = rates.rate_in_force(meeting.id, factories.CLAIM_DAY)
    assert in_force is not None and in_force.amount_pence == 2750  # new claims for that day get the new one
    before = rates.rate_in_force(meeting.id, starts - timedelta(days=1))
    assert before is not None and before.amount_pence == 2000  # earlier days keep the old one


def test_a_post_restored_while_its_form_was_open_names_the_moderator(app: Any, users: dict[str, Any]) -> None:
    post = make_post(users["member"], body="Words before.")
    client = client_for(app, users["member"])
    seen = _version(_text(client.get(f"/learning/{post.id}/edit")))
    moderation.decide(post, by=users["staff"], decision="hide", reason="Checking a name.")
    moderation.decide(post, by=users["staff"], decision="restore")
    db.session.commit()
    refused = client.post(f"/learning/{post.id}/edit", data={**_post_form(post), "body": "New words", "version": seen})
    assert refused.status_code == 422
    assert f"changed by {users['staff'].name}" in _conflict(_text(refused))
    db.session.expire_all()
    assert db.session.get_one(LearningPost, post.id).body == "Words before."

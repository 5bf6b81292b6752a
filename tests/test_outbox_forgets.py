"""Withdrawn means gone from email too: a digest queued before a story is withdrawn (or a post
hidden) never carries it when it leaves, and a sent email keeps no words or links."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from flask import Flask
from sqlalchemy.orm import selectinload

from portal import digest
from portal.core import outbox
from portal.core.extensions import db
from portal.core.outbox import OutboxMention, OutboxMessage
from portal.core.search.models import SearchDocument
from portal.learning import moderation as post_moderation
from portal.notifications import inbox
from portal.stories import withdrawal
from portal.stories.models import Story
from tests import factories
from tests import stories_factories as make
from tests.factories import make_post

CANARY = "Quillwort Thimbleberry"  # words that appear nowhere else


def _subscriber() -> Any:
    person = factories.user()
    inbox.save_choices(person, {"digest": "weekly"})
    db.session.commit()
    return person


def _digest() -> OutboxMessage:
    [message] = db.session.scalars(sa.select(OutboxMessage).where(OutboxMessage.kind == "digest"))
    return message


def _story(staff: Any, title: str) -> Any:
    teller = make.storyteller(by=staff)
    return make.story(teller, by=staff, title=title)


def test_a_story_withdrawn_after_the_digest_is_queued_is_cut_from_it(app: Flask, users: dict[str, Any]) -> None:
    _subscriber()
    story = _story(users["staff"], f"{CANARY} at the café")
    make_post(users["member"], title="Paying people promptly")
    assert digest.send_digest(now=datetime.now(UTC) + timedelta(minutes=1)) == 1
    db.session.commit()
    assert CANARY in _digest().body

    db.session.expire_all()
    story = db.session.get(Story, story.id, options=[selectinload(Story.tags)], populate_existing=True)
    withdrawal.withdraw(story, by=users["staff"])
    db.session.commit()
    db.session.expire_all()
    message = _digest()
    assert CANARY not in message.body and f"/stories/{story.id}" not in message.body
    assert "Paying people promptly" in message.body  # the rest of the digest still goes
    assert message.withheld_at is None


def test_the_last_check_cuts_what_left_the_public_index_since(app: Flask, users: dict[str, Any], caplog: Any) -> None:
    _subscriber()
    story = _story(users["staff"], f"{CANARY} and the bus pass")
    post = make_post(users["member"], title="Co-design sessions that worked")
    digest.send_digest(now=datetime.now(UTC) + timedelta(minutes=1))
    db.session.commit()
    # The story leaves the index without anyone telling the outbox (as a bug, or a raw delete would).
    db.session.execute(
        sa.delete(SearchDocument).where(SearchDocument.kind == "story", SearchDocument.object_id == story.id)
    )
    db.session.commit()
    assert CANARY in _digest().body
    caplog.set_level("INFO", logger="portal.outbox")
    assert outbox.deliver_pending(app.config) == (1, 0)
    assert CANARY not in caplog.text and "Co-design sessions that worked" in caplog.text
    assert post.id  # the post's line went out


def test_a_digest_with_nothing_left_is_not_sent(app: Flask, users: dict[str, Any], caplog: Any) -> None:
    _subscriber()
    post = make_post(users["member"], title=f"{CANARY} in the garden")
    digest.send_digest(now=datetime.now(UTC) + timedelta(minutes=1))
    db.session.commit()
    post_moderation.decide(post, by=users["staff"], decision="hide", reason="Names a person")
    db.session.commit()
    db.session.expire_all()
    message = _digest()
    assert message.withheld_at is not None and message.body == "" and CANARY not in message.subject
    assert db.session.scalar(sa.select(sa.func.count()).select_from(OutboxMention)) == 0
    caplog.set_level("INFO", logger="portal.outbox")
    outbox.deliver_pending(app.config)  # the author is told about their own post; the digest stays
    db.session.expire_all()
    assert _digest().sent_at is None and "what is new" not in caplog.text
    assert outbox.queue_summary().waiting == 0


def test_a_retitled_story_is_cut_from_waiting_digests(app: Flask, users: dict[str, Any]) -> None:
    """A moderator edits a name out of a published story's title: the old title never leaves."""
    _subscriber()
    story = _story(users["staff"], f"{CANARY}'s story")
    digest.send_digest(now=datetime.now(UTC) + timedelta(minutes=1))
    db.session.commit()
    from portal.stories import indexing

    story.title = "A story about recovery"
    indexing.published(story)
    db.session.commit()
    assert CANARY not in _digest().body


def test_a_sent_email_keeps_no_words_or_links(app: Flask) -> None:
    outbox.enqueue("account.password_reset", "a@example.test", "Reset your password", "https://x.test/reset/SECRET")
    db.session.commit()
    assert outbox.deliver_pending(app.config) == (1, 0)
    db.session.expire_all()
    [message] = db.session.scalars(sa.select(OutboxMessage))
    assert message.sent_at is not None and message.kind == "account.password_reset"
    assert message.to_email == "a@example.test"
    assert message.body == "" and message.subject == ""


def test_without_smtp_production_logs_only_kind_and_recipient(app: Flask, caplog: Any) -> None:
    outbox.enqueue("account.password_reset", "a@example.test", "Reset your password", "https://x.test/reset/SECRET")
    db.session.commit()
    caplog.set_level("INFO", logger="portal.outbox")
    config = {**app.config, "ENV": "production"}
    assert outbox.deliver_pending(config) == (1, 0)
    assert "account.password_reset" in caplog.text and "a@example.test" in caplog.text
    assert "SECRET" not in caplog.text and "Reset your password" not in caplog.text


def test_cutting_one_line_keeps_the_others_in_place(app: Flask) -> None:
    body = "Hello\n* one\n* two\n* three\nBye"
    lines = {
        name: (body.index(f"* {name}\n"), body.index(f"* {name}\n") + len(f"* {name}\n"))
        for name in ("one", "two", "three")
    }
    mentions = [outbox.Mention("story", number, *lines[name]) for number, name in enumerate(("one", "two", "three"), 1)]
    outbox.enqueue("digest", "a@example.test", "Digest", body, mentions=mentions)
    db.session.commit()
    outbox.forget("story", 2)
    outbox.forget("story", 1)
    db.session.commit()
    db.session.expire_all()
    message = db.session.scalars(sa.select(OutboxMessage)).one()
    assert message.body == "Hello\n* three\nBye"
    [kept] = db.session.scalars(sa.select(OutboxMention))
    assert message.body[kept.cut_from : kept.cut_to] == "* three\n"

"""A small database with a row in every table (for tests/test_backup_restore.py and
tests/test_migrations_roundtrip.py): two people with a record of every kind
(``my_data_factories.world``), a sealed story with its media, a receipt, a waiting email, and one
plain row in each table nothing above wrote to (built from the table's own columns, so a table
added later is covered without a change here)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from portal.accounts import erasure
from portal.core import keystore, outbox, uploads
from portal.core.db import utcnow
from portal.core.extensions import db
from portal.remuneration.models import ExpenseCategory, ExpenseLine
from portal.stories import media, withdrawal
from portal.stories.models import Story
from portal.stories.telling import Upload
from tests import media_samples, my_data_factories
from tests import stories_factories as make
from tests.helpers import Stream

STORY_TITLE = "Quillwhistle by the harbour"
STORY_BODY = "The Quillwhistle story, sealed with a key of its own."
EMAIL_SUBJECT = "Your Quillwhistle claim"
MEDIA = media_samples.ogg()


@dataclass(frozen=True)
class Filled:
    story_id: int
    media_bytes: bytes  # the story's media as a listener hears it (after the portal cleaned it)
    message_id: int
    generic: list[str]  # tables filled with a plain row


def fill() -> Filled:
    """Fill the database of the current app; needs an app context."""
    world = my_data_factories.world()
    alice = world["alice"]
    staff = world["staff"]
    key_id = keystore.create()
    stored, kind, content_type = media.store(Stream(MEDIA), max_bytes=100_000, key_id=key_id)
    story = make.story(
        alice.storyteller,
        by=alice.person,
        staff=staff,
        title=STORY_TITLE,
        body=STORY_BODY,
        transcript="Quillwhistle transcript.",
        upload=Upload(stored, kind, content_type, key_id=key_id),
    )
    receipt = uploads.store(
        Stream(media_samples.png()), "bus ticket.png", kind="receipts", max_bytes=100_000, field="receipt"
    )
    db.session.add(
        ExpenseLine(
            claim_id=alice.paid_claim.id,
            category=ExpenseCategory.TRAVEL,
            description="Bus",
            amount_pence=480,
            receipt_stored_name=receipt.stored_name,
            receipt_filename=receipt.filename,
            receipt_content_type=receipt.content_type,
        )
    )
    # A withdrawn story (its key destroyed) and an erased person, as a portal in use has.
    withdrawn = db.session.scalars(
        sa.select(Story).where(Story.id == world["bob"].story.id).options(sa.orm.selectinload(Story.tags))
    ).one()
    media.remove(withdrawal.withdraw(withdrawn, by=staff))
    _, erased_files = erasure.erase(world["bob"].person, by=world["admin"])
    db.session.commit()
    for kind, stored_name in erased_files:  # as the erase pages do, once it committed
        uploads.remove(kind, stored_name)
    message = outbox.enqueue("claim.paid", alice.person.email, EMAIL_SUBJECT, "It was paid today.")
    db.session.commit()
    heard = media.read(story.media_stored_name or "", story.key_id)
    return Filled(story.id, heard, message.id, fill_every_table())


def read_story(story_id: int) -> tuple[str, str, bytes]:
    story = db.session.get(Story, story_id)
    assert story is not None
    return story.title, story.body, media.read(story.media_stored_name or "", story.key_id)


# --- a plain row for each empty table ---------------------------------------------------------------


def _value(table: sa.Table, column: sa.Column[Any], references: dict[str, int]) -> Any:
    kind = column.type
    if isinstance(kind, sa.types.TypeDecorator):
        kind = kind.impl_instance
    if column.foreign_keys:
        (key,) = column.foreign_keys
        target = key.column
        taken = references.get(target.table.name, 0)
        references[target.table.name] = taken + 1  # two keys to one table (blocker, blocked) differ
        found = db.session.execute(sa.select(target).order_by(target).offset(taken).limit(1)).scalar_one_or_none()
        if found is None:
            raise AssertionError(f"{table.name}.{column.name}: no row in {target.table.name} to point at")
        return found
    if isinstance(kind, sa.Enum):
        return kind.enums[0]
    if isinstance(kind, sa.Boolean):
        return False
    if isinstance(kind, (sa.Integer, sa.Numeric, sa.Float)):
        return 1
    if isinstance(kind, sa.DateTime):
        return utcnow()
    if isinstance(kind, sa.Date):
        return dt.date(2026, 1, 5)
    if isinstance(kind, sa.JSON):
        return {}
    if isinstance(kind, sa.LargeBinary):
        return b"\x01"
    if isinstance(kind, sa.String):
        return f"{table.name[:20]}-{column.name}"[: kind.length or 200]
    raise AssertionError(f"{table.name}.{column.name}: no plain value for {kind!r}; add one to tests/full_dataset.py")


def _plain_row(table: sa.Table) -> dict[str, Any]:
    references: dict[str, int] = {}
    row: dict[str, Any] = {}
    for column in table.columns:
        if column.primary_key and column.autoincrement in (True, "auto") and isinstance(column.type, sa.Integer):
            if len(table.primary_key.columns) == 1:
                continue
        if column.nullable and not column.primary_key:
            continue
        if (column.default is not None or column.server_default is not None) and not column.foreign_keys:
            continue
        row[column.name] = _value(table, column, references)
    return row


def fill_every_table() -> list[str]:
    """One plain row in each table still empty; returns their names."""
    filled = []
    for table in db.metadata.sorted_tables:
        if db.session.execute(sa.select(sa.func.count()).select_from(table)).scalar_one():
            continue
        db.session.execute(table.insert().values(_plain_row(table)))
        filled.append(table.name)
    db.session.commit()
    return filled

"""Revision history: every saved version of a record people write (who, when, what it said).

Applications, progress reports and stories keep each saved version as a row of ``revisions``:
the record's kind (its table) and id, its version number, who saved it and when, and the
values of the fields the model names in ``__revised__`` (attribute -> label), as JSON. The
team and staff read the list (``history``) and a comparison of any two (``compare``), word by
word, as ``templates/_macros/edits.html`` shows it.

Why a table of our own, not SQLAlchemy-Continuum: Continuum keeps a shadow table per versioned
model and a transaction table, written by global flush hooks for every change, including
state moves nobody needs in a history. One table, written by the service when a person saves,
holds only what people wrote, is read with one indexed query per page, and can be erased with
one DELETE when a storyteller withdraws (``erase``): erasure is harder to get right when copies
sit in tables generated for you.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, ClassVar, Protocol

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.core.db import UTCDateTime, utcnow
from portal.core.edits import shown
from portal.core.extensions import Model, db


class Revision(Model):
    __tablename__ = "revisions"
    __table_args__ = (sa.UniqueConstraint("kind", "record_id", "version", name="uq_revisions_kind_record_version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(sa.String(60))
    record_id: Mapped[int]
    version: Mapped[int]
    by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"), index=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    fields: Mapped[dict[str, Any]] = mapped_column(sa.JSON, default=dict)

    # The accounts package (above this one) owns User; the relationship names it.
    by: Mapped[Any] = relationship("User", lazy="raise_on_sql")


class Revised(Protocol):
    """A model whose saved versions are kept: it has an id, a version and ``__revised__``."""

    __tablename__: str
    __revised__: ClassVar[dict[str, str]]
    id: int
    version: int


@dataclass(frozen=True)
class Sealing:
    """How one kind of record seals its saved versions (a story's, with the story's own key)."""

    seal: Callable[[Any, dict[str, str]], dict[str, Any]]
    open: Callable[[Any, dict[str, Any]], dict[str, Any]]


_sealing: dict[str, Sealing] = {}


def register_sealing(
    kind: str,
    *,
    seal: Callable[[Any, dict[str, str]], dict[str, Any]],
    open: Callable[[Any, dict[str, Any]], dict[str, Any]],
) -> None:
    """Store ``kind``'s versions as ``seal(record, fields)`` returns them, read back with ``open``
    (registered by the domain that owns the table, so this module imports none)."""
    _sealing[kind] = Sealing(seal, open)


def fields_of(record: Revised, revision: Revision) -> dict[str, Any]:
    """What a saved version of ``record`` said, opened when its kind seals its versions."""
    sealing = _sealing.get(revision.kind)
    return sealing.open(record, revision.fields) if sealing else revision.fields


def keep(record: Revised, *, by: Any) -> Revision:
    """Keep ``record`` as it is now as a revision saved by ``by``. Call it after the change, in the
    same transaction; it flushes first so the version is the one the change is saved as."""
    db.session.flush()
    fields: dict[str, Any] = {name: shown(getattr(record, name)) for name in record.__revised__}
    sealing = _sealing.get(record.__tablename__)
    revision = Revision(
        kind=record.__tablename__,
        record_id=record.id,
        version=record.version,
        by_id=by.id if by is not None else None,
        fields=sealing.seal(record, fields) if sealing else fields,
    )
    db.session.add(revision)
    return revision


def history(kind: str, record_id: int) -> sa.Select[Any]:
    """The revisions of one record, newest first, with who saved each (for ``paginate``)."""
    return (
        sa.select(Revision)
        .where(Revision.kind == kind, Revision.record_id == record_id)
        .options(sa.orm.joinedload(Revision.by))
        .order_by(Revision.version.desc())
    )


def revision(kind: str, record_id: int, revision_id: int) -> Revision | None:
    return db.session.scalar(
        sa.select(Revision)
        .where(Revision.id == revision_id, Revision.kind == kind, Revision.record_id == record_id)
        .options(sa.orm.joinedload(Revision.by))
    )


def erase(kind: str, record_id: int) -> int:
    """Delete every revision of one record (a withdrawn story's words go with it)."""
    result = db.session.execute(sa.delete(Revision).where(Revision.kind == kind, Revision.record_id == record_id))
    return int(getattr(result, "rowcount", 0) or 0)


# --- comparing two versions ------------------------------------------------------------------------

_WORDS = re.compile(r"\s+|[^\s]+")


@dataclass(frozen=True)
class Piece:
    """A run of text in a comparison: ``kind`` is "same", "removed" or "added"."""

    kind: str
    text: str


@dataclass(frozen=True)
class FieldChange:
    label: str
    pieces: list[Piece]

    @property
    def changed(self) -> bool:
        return any(piece.kind != "same" for piece in self.pieces)


def word_diff(old: str, new: str) -> list[Piece]:
    """``old`` to ``new`` word by word (spaces kept), as runs of same, removed and added text."""
    before, after = _WORDS.findall(old), _WORDS.findall(new)
    pieces: list[Piece] = []
    matcher = difflib.SequenceMatcher(a=before, b=after, autojunk=False)
    for op, a1, a2, b1, b2 in matcher.get_opcodes():
        if op == "equal":
            pieces.append(Piece("same", "".join(before[a1:a2])))
            continue
        if a2 > a1:
            pieces.append(Piece("removed", "".join(before[a1:a2])))
        if b2 > b1:
            pieces.append(Piece("added", "".join(after[b1:b2])))
    return pieces


def compare(labels: dict[str, str], old: dict[str, Any], new: dict[str, Any]) -> list[FieldChange]:
    """Each field of ``labels`` from the ``old`` values to the ``new`` (changed fields first is
    the reader's choice: the template shows unchanged ones folded)."""
    return [
        FieldChange(label, word_diff(str(old.get(name, "")), str(new.get(name, "")))) for name, label in labels.items()
    ]

"""Records several people edit: a version each save, and no save from a stale form.

A model that more than one person edits takes the ``Edited`` mixin: a ``version`` the ORM raises
on every UPDATE (``version_id_col``, so two saves racing between load and commit fail with
``StaleDataError``) and who changed it last and when. Its form carries the version it was opened
at (``core.form_fields.VersionField``), and the service applies the typed values with ``edit``:

    edits.edit(application, details.as_dict(), by=person, seen=form.version.data, labels=LABELS)

When the record has moved on since the form was opened, ``edit`` changes nothing and raises
``EditConflict``: who changed it and when, and, for each field where the saved text differs from
what this person typed, both. ``core.changes.apply`` rolls back, leaves the conflict in
``outcome.conflict``, and moves the form's version on, so the person keeps their own text in the
form, sees the other version beside it (``templates/_macros/edits.html``: ``conflict_panel``),
merges, and saves again. Nothing either person typed is overwritten without them knowing.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, declared_attr, mapped_column, object_session, relationship

from portal.core.db import UTCDateTime, utcnow
from portal.core.errors import RuleBroken
from portal.core.formatting import local_datetime


class Edited:
    """Mixin: ``version`` (raised by the ORM on every UPDATE), ``changed_at`` and ``changed_by``.

    List it before ``Model``: ``class Gathering(Edited, Model)``. A model that needs more mapper
    arguments of its own adds them to ``{"version_id_col": cls.version}``."""

    version: Mapped[int] = mapped_column(default=1, server_default="1")
    changed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    @declared_attr.directive
    def __mapper_args__(cls) -> dict[str, Any]:
        return {"version_id_col": cls.version}

    @declared_attr
    def changed_by_id(cls) -> Mapped[int | None]:
        return mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))

    @declared_attr
    def changed_by(cls) -> Mapped[Any]:
        # The accounts package (above this one) owns User; the relationship names it.
        return relationship("User", foreign_keys=[cls.changed_by_id], lazy="raise_on_sql")  # type: ignore[list-item]


@dataclass(frozen=True)
class Difference:
    """One field where the saved version and the person's own differ."""

    field: str
    label: str
    theirs: str
    yours: str


class EditConflict(RuleBroken):
    """The record changed since the form was opened; nothing of this save was kept."""

    def __init__(self, *, version: int, by: str, at: datetime | None, differences: list[Difference]) -> None:
        when = f" on {local_datetime(at)}" if at else ""
        super().__init__("", f"This was changed by {by}{when}, since you opened it.")
        self.version = version
        self.by = by
        self.at = at
        self.differences = differences


def shown(value: Any) -> str:
    """A value as the comparison shows it."""
    if value is None:
        return ""
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, list | tuple | set | frozenset):
        return ", ".join(shown(item) for item in value)
    if hasattr(value, "label"):
        return str(value.label)
    return str(value)


def _humanised(name: str) -> str:
    return name.replace("_", " ").capitalize()


def conflict(
    record: Edited,
    changes: Mapping[str, Any],
    *,
    viewer: Any = None,
    labels: Mapping[str, str] | None = None,
    display: Callable[[str, Any], str] | None = None,
) -> EditConflict:
    """The conflict between ``record`` as saved now and ``changes`` (what the person typed)."""
    labels = labels or {}
    show = display or (lambda _name, value: shown(value))
    differences = [
        Difference(name, labels.get(name, _humanised(name)), show(name, getattr(record, name)), show(name, value))
        for name, value in changes.items()
        if getattr(record, name) != value
    ]
    return EditConflict(version=record.version, by=_who(record, viewer), at=record.changed_at, differences=differences)


def _who(record: Edited, viewer: Any) -> str:
    """The name of whoever saved ``record`` last, as ``viewer`` reads it."""
    if record.changed_by_id is None:
        return "someone else"
    if viewer is not None and record.changed_by_id == viewer.id:
        return "you, in another window or tab"
    person_class = sa.inspect(type(record)).relationships["changed_by"].mapper.class_
    session = object_session(record)
    person = session.get(person_class, record.changed_by_id) if session is not None else None
    return person.name if person is not None else "someone else"


def check_fresh(
    record: Edited,
    seen: int | None,
    changes: Mapping[str, Any],
    *,
    by: Any = None,
    labels: Mapping[str, str] | None = None,
    display: Callable[[str, Any], str] | None = None,
) -> None:
    """Raise ``EditConflict`` when ``record`` moved on from version ``seen`` (None: no check, as for
    a change made by a service, not a form)."""
    if seen is not None and seen != record.version:
        raise conflict(record, changes, viewer=by, labels=labels, display=display)


def stamp(record: Edited, *, by: Any) -> None:
    """Record who changed ``record`` and when (the ORM raises its version at the flush)."""
    record.changed_by_id = by.id if by is not None else None
    record.changed_at = utcnow()


def edit(
    record: Edited,
    changes: Mapping[str, Any],
    *,
    by: Any,
    seen: int | None,
    labels: Mapping[str, str] | None = None,
    display: Callable[[str, Any], str] | None = None,
) -> bool:
    """Apply ``changes`` (attribute -> new value) to ``record`` as ``by``, unless it changed since
    version ``seen``. True when anything changed; saving an unchanged form changes nothing at all
    (not even the version), so it can never conflict with anyone."""
    check_fresh(record, seen, changes, by=by, labels=labels, display=display)
    changed = {name: value for name, value in changes.items() if getattr(record, name) != value}
    for name, value in changed.items():
        setattr(record, name, value)
    if changed:
        stamp(record, by=by)
    return bool(changed)

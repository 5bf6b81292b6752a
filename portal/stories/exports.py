"""Staff CSV exports: consented, published stories, and the storyteller summary.

Only published public and network stories are exported: research-only stories (never shown)
and withdrawn ones (erased) cannot appear. Anonymous stories carry the pseudonym only.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import joinedload, selectinload

from portal.core import vocabulary
from portal.core.csv_export import key_batches, text_cell
from portal.core.extensions import db
from portal.stories.markdown import plain_text
from portal.stories.models import Scope, Story, StoryState
from portal.stories.summary import Summary

STORY_HEADER = [
    "id",
    "title",
    "summary",
    "story",
    "transcript",
    "storyteller",
    "anonymous",
    "scope",
    "project",
    "themes",
    "values",
    "featured",
    "published_at",
]
SUMMARY_HEADER = ["section", "category", "count", "percent", "public_count", "public_percent"]
BATCH = 500
EXPORTED_SCOPES = (Scope.PUBLIC, Scope.NETWORK)


def _exported(state: StoryState, scope: Scope) -> bool:
    return state == StoryState.PUBLISHED and scope in EXPORTED_SCOPES


def _exported_row(row: sa.Row[Any]) -> bool:
    return _exported(row.state, row.scope)


def story_rows() -> Iterator[list[str]]:
    """Every exported story once, in id order; the primary key walked BATCH rows a step."""
    for ids in key_batches(Story.id, (Story.state, Story.scope), keep=_exported_row, size=BATCH):
        batch = db.session.scalars(
            sa.select(Story)
            .options(joinedload(Story.storyteller), joinedload(Story.project), selectinload(Story.tags))
            .where(Story.id.in_(ids))
            .order_by(Story.id)
        ).unique()
        for story in batch:
            if not _exported(story.state, story.scope) or story.unreadable:  # changed meanwhile, or its key is gone
                continue
            yield [
                str(story.id),
                text_cell(story.title),
                text_cell(story.summary),
                text_cell(plain_text(story.body)),
                text_cell(story.transcript),
                text_cell(story.author_label),
                "yes" if story.anonymous else "no",
                story.scope.value,
                text_cell(story.project.title) if story.project else "",
                "; ".join(vocabulary.labels(vocabulary.THEMES, story.themes)),
                "; ".join(vocabulary.labels(vocabulary.VALUES, story.values)),
                "yes" if story.featured else "no",
                story.published_at.isoformat() if story.published_at else "",
            ]


def _text(value: int | None, hidden: str = "hidden") -> str:
    return hidden if value is None else str(value)


def summary_rows(exact: Summary, grouped: Summary, public: Summary) -> Iterator[list[str]]:
    """Exact figures beside the published ones, in the public's rows (``grouped``: exact counts in
    those rows); then the exact rows the public sees grouped (own-words answers), marked so."""
    hidden = "not published" if public.total is None else f"fewer than {public.threshold}"
    published_total = _text(public.total, hidden)
    yield ["storytellers", "total", _text(exact.total), "100", published_total, "100" if public.total else hidden]
    for section, in_rows, shown in zip(exact.sections, grouped.sections, public.sections, strict=True):
        for cell, shown_cell in zip(in_rows.cells, shown.cells, strict=True):
            yield [
                section.title,
                text_cell(cell.label),
                _text(cell.count),
                _text(cell.percent),
                _text(shown_cell.count, hidden),
                _text(shown_cell.percent, "not shown"),
            ]
        public_labels = {cell.label for cell in in_rows.cells}
        for cell in section.cells:
            if cell.label not in public_labels:
                yield [section.title, text_cell(cell.label), _text(cell.count), _text(cell.percent), "grouped", ""]
    yield ["age", "youngest", _text(exact.age_min, ""), "", _text(public.age_min, "not shown"), ""]
    yield ["age", "oldest", _text(exact.age_max, ""), "", _text(public.age_max, "not shown"), ""]
    yield ["stories", "published", str(exact.stories_published), "", str(public.stories_published), ""]
    for cell in exact.stories_by_theme:
        yield ["stories by theme", cell.label, _text(cell.count), "", _text(cell.count), ""]

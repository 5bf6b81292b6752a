"""Public pilot pages in the search index, kept in step with the grants records.

A pilot page (``grants.pilot``) shows a funded project's title, summary and the learning its
team published. Rather than asking every grants service to remember the index, a session hook
notes which projects were touched in a flush and re-indexes them just after it.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from portal.core.extensions import db
from portal.core.search import documents
from portal.grants.models import ProgressReport, ReportState
from portal.teams.models import Project

_PENDING = "search.pilots_to_index"


def reindex_pilot(project_id: int, session: Any = None) -> None:
    session = session or db.session
    with session.no_autoflush:
        project = session.get(Project, project_id)
        if project is None or project.phase_id is None:
            documents._remove(session, kind="pilot", object_id=project_id)
            return
        learning = session.scalars(
            sa.select(ProgressReport.what_we_learned)
            .where(
                ProgressReport.project_id == project_id,
                ProgressReport.state == ReportState.ACCEPTED,
                ProgressReport.learning_published.is_(True),
            )
            .order_by(ProgressReport.due_on)
        )
        body = "\n\n".join([project.summary or "", *[text for text in learning if text]])
        documents._upsert(
            session,
            kind="pilot",
            object_id=project_id,
            title=project.title,
            body=body,
            audience="public",
            url_path=f"/pilots/{project_id}",
            flush=False,
        )


def reindex_all_pilots() -> int:
    ids = list(db.session.scalars(sa.select(Project.id).where(Project.phase_id.is_not(None))))
    for project_id in ids:
        reindex_pilot(project_id)
    db.session.flush()
    return len(ids)


@sa.event.listens_for(Session, "before_flush")
def _note_touched_pilots(session: Session, flush_context: Any, instances: Any) -> None:
    touched = session.info.setdefault(_PENDING, set())
    for obj in list(session.new) + list(session.dirty):
        if isinstance(obj, Project) and (obj in session.new or session.is_modified(obj)):
            touched.add(obj)
        elif isinstance(obj, ProgressReport) and (obj in session.new or session.is_modified(obj)):
            touched.add(obj.project_id)
    for obj in session.deleted:
        if isinstance(obj, Project):
            touched.add(("deleted", obj.id))


@sa.event.listens_for(Session, "after_flush_postexec")
def _index_touched_pilots(session: Session, flush_context: Any) -> None:
    touched = session.info.pop(_PENDING, set())
    for item in touched:
        if isinstance(item, tuple):
            documents._remove(session, kind="pilot", object_id=item[1])
        elif isinstance(item, Project):
            if item.id is not None:
                reindex_pilot(item.id, session)
        elif item is not None:
            reindex_pilot(item, session)


@sa.event.listens_for(Session, "after_soft_rollback")
def _forget_touched_pilots(session: Session, previous_transaction: Any) -> None:
    session.info.pop(_PENDING, None)  # a flush that failed indexes nothing

"""The learning demo data: posts across the 18 values, threads with replies and validations,
and one flagged comment waiting for a moderator."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from portal.core import vocabulary
from portal.core.extensions import db
from portal.core.search.models import SearchDocument
from portal.learning.models import Comment, Flag, LearningPost, PostTag, Validation


def test_seed_demo_learning(app: Any, as_role: Any) -> None:
    runner = app.test_cli_runner()
    assert runner.invoke(args=["seed-demo"]).exit_code == 0
    posts = db.session.scalar(sa.select(sa.func.count(LearningPost.id)))
    tags = set(db.session.scalars(sa.select(PostTag.tag).where(PostTag.tag.startswith("value:"))))
    assert {t.removeprefix("value:") for t in tags} == set(vocabulary.VALUES)
    assert db.session.scalar(sa.select(sa.func.count(Comment.id)).where(Comment.parent_id.is_not(None))) >= 2
    assert db.session.scalar(sa.select(sa.func.count(Validation.id))) >= 4
    [flag] = db.session.scalars(sa.select(Flag).where(Flag.resolved_at.is_(None)))
    assert flag.comment_id is not None
    assert db.session.scalar(sa.select(sa.func.count(SearchDocument.id)).where(SearchDocument.kind == "post")) == posts
    assert runner.invoke(args=["seed-demo"]).exit_code == 0
    assert db.session.scalar(sa.select(sa.func.count(LearningPost.id))) == posts  # idempotent
    queue = as_role("staff").get("/learning/moderation").get_data(as_text=True)
    assert "Buy cheap followers" in queue and "Looks like an advert." in queue

"""Partial indexes for each audience's story library and the members' learning feed

Revision ID: 0031
Revises: 0030
Create Date: 2026-12-07 03:00:00

A member's library shows published stories of two scopes (public and network) featured first,
then newest first; no index on (state, scope, ...) gives that order across two scopes, so every
page sorted every published story (870 ms at 100,000). Each audience now has a partial index that
holds exactly its stories in the library's order, (featured, published_at, id), so a page, and a
keyset page far down the list, is one index range read. The members' learning feed (every
visible post, newest first, whatever its audience) gets one too, on (created_at, id).

The conditions use literal values, as the queries do (``stories.models.library_condition``,
``learning.models.members_feed_condition``), so both SQLite's and PostgreSQL's planners can use
them; on SQLite each column is written ``+column``, as in the queries, so that the planner does
not prefer an index on (state, scope, ...) and sort.
"""
from alembic import op


# revision identifiers, used by Alembic.
revision = "0031"
down_revision = "0030"
branch_labels = None
depends_on = None



def _conditions(dialect):
    """As ``stories.models.library_condition`` and ``learning.models.members_feed_condition``
    write them: on SQLite ``+column`` (a no-op the queries repeat, so that the planner uses these
    indexes rather than sort), plain on PostgreSQL."""
    mark = "+" if dialect == "sqlite" else ""
    return (
        f"{mark}state = 'published' AND {mark}scope = 'public'",
        f"{mark}state = 'published' AND {mark}scope IN ('public', 'network')",
        f"{mark}state = 'visible'",
    )


def upgrade():
    public, members, feed = _conditions(op.get_bind().dialect.name)
    op.execute(f"CREATE INDEX ix_stories_library_public ON stories (featured, published_at, id) WHERE {public}")
    op.execute(f"CREATE INDEX ix_stories_library_members ON stories (featured, published_at, id) WHERE {members}")
    op.execute(f"CREATE INDEX ix_learning_posts_feed_members ON learning_posts (created_at, id) WHERE {feed}")


def downgrade():
    op.execute("DROP INDEX IF EXISTS ix_learning_posts_feed_members")
    op.execute("DROP INDEX IF EXISTS ix_stories_library_members")
    op.execute("DROP INDEX IF EXISTS ix_stories_library_public")

"""Partial indexes for each audience's story library and the members' learning feed

Revision ID: 0029
Revises: 0028
Create Date: 2026-12-07 03:00:00

A member's library shows published stories of two scopes (public and network) featured first,
then newest first; no index on (state, scope, ...) gives that order across two scopes, so every
page sorted every published story (870 ms at 100,000). Each audience now has a partial index that
holds exactly its stories in the library's order, (featured, published_at, id), so a page, and a
keyset page far down the list, is one index range read. The members' learning feed (every
visible post, newest first, whatever its audience) gets one too, on (created_at, id).

The conditions use literal values, as the queries do (``stories.models.LIBRARY_*``,
``learning.models.FEED_MEMBERS``), so both SQLite's and PostgreSQL's planners can use them.
"""
from alembic import op


# revision identifiers, used by Alembic.
revision = '0029'
down_revision = '0028'
branch_labels = None
depends_on = None

LIBRARY_PUBLIC = "state = 'published' AND scope = 'public'"
LIBRARY_MEMBERS = "state = 'published' AND scope IN ('public', 'network')"
FEED_MEMBERS = "state = 'visible'"


def upgrade():
    op.execute(f"CREATE INDEX ix_stories_library_public ON stories (featured, published_at, id) WHERE {LIBRARY_PUBLIC}")
    op.execute(
        f"CREATE INDEX ix_stories_library_members ON stories (featured, published_at, id) WHERE {LIBRARY_MEMBERS}"
    )
    op.execute(f"CREATE INDEX ix_learning_posts_feed_members ON learning_posts (created_at, id) WHERE {FEED_MEMBERS}")


def downgrade():
    op.execute("DROP INDEX IF EXISTS ix_learning_posts_feed_members")
    op.execute("DROP INDEX IF EXISTS ix_stories_library_members")
    op.execute("DROP INDEX IF EXISTS ix_stories_library_public")

"""Search on PostgreSQL: a stored, GIN-indexed tsvector column instead of an expression index

With the index on an expression, ranking (ts_rank over the same expression) and the index
recheck computed to_tsvector again for every matching document: 8 s for a word found in nearly
every one of 60,000 documents. The generated column computes the vector once, when the row is
written. SQLite keeps its FTS5 table (revision 0005); this revision changes nothing there.

The column and its index are not in the model (they are PostgreSQL-only);
portal.core.search.models.not_full_text_index tells Alembic comparisons to leave them alone.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-23 12:20:00

"""
from alembic import op


# revision identifiers, used by Alembic.
revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None

# Titles weigh more than bodies (portal/search/service.py ranks with these weights).
PG_DOCUMENT_VECTOR = (
    "setweight(to_tsvector('english'::regconfig, title), 'A') || "
    "setweight(to_tsvector('english'::regconfig, body), 'B')"
)


def upgrade():
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("DROP INDEX IF EXISTS ix_search_documents_fts")
    op.execute(f"ALTER TABLE search_documents ADD COLUMN search_vector tsvector "
               f"GENERATED ALWAYS AS ({PG_DOCUMENT_VECTOR}) STORED")
    op.execute("CREATE INDEX ix_search_documents_fts ON search_documents USING gin (search_vector)")


def downgrade():
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("DROP INDEX IF EXISTS ix_search_documents_fts")
    op.execute("ALTER TABLE search_documents DROP COLUMN IF EXISTS search_vector")
    op.execute(f"CREATE INDEX ix_search_documents_fts ON search_documents USING gin (({PG_DOCUMENT_VECTOR}))")

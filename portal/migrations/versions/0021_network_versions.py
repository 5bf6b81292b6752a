"""Learning posts, gatherings, directory entries and rate card lines: a version per save

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-04 19:00:00

Each takes the ``Edited`` columns (``version``, raised on every save, and who changed it last and
when), so a save from a page opened before someone else's (or one's own, in another tab) is
refused and shown both versions instead of overwriting. Existing rows start at version 1.
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0021'
down_revision = '0020'
branch_labels = None
depends_on = None

TABLES = ('learning_posts', 'gatherings', 'directory_entries', 'activity_types')


def upgrade():
    for table in TABLES:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(sa.Column('version', sa.Integer(), server_default='1', nullable=False))
            batch_op.add_column(sa.Column('changed_at', sa.DateTime(timezone=True), nullable=True))
            batch_op.add_column(sa.Column('changed_by_id', sa.Integer(), nullable=True))
            batch_op.create_foreign_key(
                batch_op.f(f'fk_{table}_changed_by_id_users'), 'users', ['changed_by_id'], ['id'], ondelete='SET NULL'
            )


def downgrade():
    for table in reversed(TABLES):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_constraint(batch_op.f(f'fk_{table}_changed_by_id_users'), type_='foreignkey')
            batch_op.drop_column('changed_by_id')
            batch_op.drop_column('changed_at')
            batch_op.drop_column('version')

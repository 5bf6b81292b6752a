"""Progress reports, projects, milestones and phases: a version per save, and who saved it

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-04 19:00:00

Projects, milestones and phases take the ``Edited`` columns (``version``, raised on every save,
and who changed it last and when), so a save from a page opened before someone else's is refused
instead of overwriting it. Progress reports already had a ``version``; they gain who changed them
last and when. Existing rows start at version 1, changed by nobody yet.
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0020'
down_revision = '0019'
branch_labels = None
depends_on = None

VERSIONED = ('projects', 'milestones', 'phases')


def upgrade():
    for table in VERSIONED:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(sa.Column('version', sa.Integer(), server_default='1', nullable=False))
    for table in (*VERSIONED, 'progress_reports'):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(sa.Column('changed_at', sa.DateTime(timezone=True), nullable=True))
            batch_op.add_column(sa.Column('changed_by_id', sa.Integer(), nullable=True))
            batch_op.create_foreign_key(
                batch_op.f(f'fk_{table}_changed_by_id_users'), 'users', ['changed_by_id'], ['id'], ondelete='SET NULL'
            )


def downgrade():
    for table in ('progress_reports', *VERSIONED):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_constraint(batch_op.f(f'fk_{table}_changed_by_id_users'), type_='foreignkey')
            batch_op.drop_column('changed_by_id')
            batch_op.drop_column('changed_at')
    for table in VERSIONED:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_column('version')

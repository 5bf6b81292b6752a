"""Applications: who changed a draft last and when, beside its version

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-04 18:55:00

An application takes the ``Edited`` columns: it already had ``version`` (raised on every save,
now with a server default like the other edited tables), and gains who changed it last and when,
so a team member saving from a stale page is told who saved first. The version covers the
application's budget lines too: adding or removing a line raises it.
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0022'
down_revision = '0021'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('applications', schema=None) as batch_op:
        batch_op.alter_column('version', existing_type=sa.Integer(), server_default='1', existing_nullable=False)
        batch_op.add_column(sa.Column('changed_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('changed_by_id', sa.Integer(), nullable=True))
        batch_op.create_foreign_key(batch_op.f('fk_applications_changed_by_id_users'), 'users', ['changed_by_id'], ['id'], ondelete='SET NULL')


def downgrade():
    with op.batch_alter_table('applications', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_applications_changed_by_id_users'), type_='foreignkey')
        batch_op.drop_column('changed_by_id')
        batch_op.drop_column('changed_at')
        batch_op.alter_column('version', existing_type=sa.Integer(), server_default=None, existing_nullable=False)

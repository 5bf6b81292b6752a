"""Notifications: grouping, in-portal switches and digest frequency

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-03 08:30:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('notifications', schema=None) as batch_op:
        batch_op.add_column(sa.Column('group_key', sa.String(length=120), server_default='', nullable=False))
        batch_op.add_column(sa.Column('count', sa.Integer(), server_default='1', nullable=False))
        batch_op.add_column(sa.Column('items', sa.Text(), server_default='[]', nullable=False))
        batch_op.create_index('ix_notifications_recipient_created', ['recipient_id', 'created_at', 'id'], unique=False)
        batch_op.create_index(
            'ix_notifications_recipient_group', ['recipient_id', 'kind', 'group_key', 'read_at'], unique=False
        )
    with op.batch_alter_table('notification_settings', schema=None) as batch_op:
        batch_op.add_column(sa.Column('enabled', sa.Boolean(), server_default=sa.true(), nullable=False))
        batch_op.add_column(sa.Column('frequency', sa.String(length=10), server_default='weekly', nullable=False))


def downgrade():
    with op.batch_alter_table('notification_settings', schema=None) as batch_op:
        batch_op.drop_column('frequency')
        batch_op.drop_column('enabled')
    with op.batch_alter_table('notifications', schema=None) as batch_op:
        batch_op.drop_index('ix_notifications_recipient_group')
        batch_op.drop_index('ix_notifications_recipient_created')
        batch_op.drop_column('items')
        batch_op.drop_column('count')
        batch_op.drop_column('group_key')

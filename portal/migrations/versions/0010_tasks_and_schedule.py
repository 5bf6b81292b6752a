"""Tasks and schedule: task runs, worker heartbeats, outbox claims, phase times and review deadlines, sent reminders

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-03 08:30:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('phases', schema=None) as batch_op:
        batch_op.add_column(sa.Column('opens_time', sa.Time(), server_default='00:00:00', nullable=False))
        batch_op.add_column(sa.Column('closes_time', sa.Time(), server_default='23:59:00', nullable=False))
        batch_op.add_column(sa.Column('reviews_close_on', sa.Date(), nullable=True))
    # TASKS


def downgrade():
    # TASKS-DOWN
    with op.batch_alter_table('phases', schema=None) as batch_op:
        batch_op.drop_column('reviews_close_on')
        batch_op.drop_column('closes_time')
        batch_op.drop_column('opens_time')

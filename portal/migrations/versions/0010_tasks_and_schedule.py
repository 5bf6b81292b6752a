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
    op.create_table('task_runs',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('job', sa.String(length=80), nullable=False),
        sa.Column('slot', sa.String(length=40), nullable=False),
        sa.Column('state', sa.Enum('queued', 'running', 'retrying', 'succeeded', 'failed', name='task_run_state', native_enum=False, create_constraint=True, length=9), nullable=False),
        sa.Column('attempts', sa.Integer(), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('started_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('result', sa.String(length=500), nullable=False),
        sa.Column('error', sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_task_runs')),
        sa.UniqueConstraint('job', 'slot', name=op.f('uq_task_runs_job_slot'))
    )
    with op.batch_alter_table('task_runs', schema=None) as batch_op:
        batch_op.create_index('ix_task_runs_job_id', ['job', 'id'], unique=False)
    op.create_table('worker_heartbeats',
        sa.Column('name', sa.String(length=200), nullable=False),
        sa.Column('seen_at', sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('name', name=op.f('pk_worker_heartbeats'))
    )
    op.create_table('sent_reminders',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('kind', sa.String(length=30), nullable=False),
        sa.Column('subject_key', sa.String(length=80), nullable=False),
        sa.Column('recipient_key', sa.String(length=80), nullable=False),
        sa.Column('occasion', sa.String(length=40), nullable=False),
        sa.Column('sent_at', sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_sent_reminders')),
        sa.UniqueConstraint('kind', 'subject_key', 'recipient_key', 'occasion', name=op.f('uq_sent_reminders_kind_subject_key_recipient_key_occasion'))
    )
    with op.batch_alter_table('outbox_messages', schema=None) as batch_op:
        batch_op.add_column(sa.Column('claimed_until', sa.DateTime(timezone=True), nullable=True))


def downgrade():
    with op.batch_alter_table('outbox_messages', schema=None) as batch_op:
        batch_op.drop_column('claimed_until')
    op.drop_table('sent_reminders')
    op.drop_table('worker_heartbeats')
    with op.batch_alter_table('task_runs', schema=None) as batch_op:
        batch_op.drop_index('ix_task_runs_job_id')
    op.drop_table('task_runs')
    with op.batch_alter_table('phases', schema=None) as batch_op:
        batch_op.drop_column('reviews_close_on')
        batch_op.drop_column('closes_time')
        batch_op.drop_column('opens_time')

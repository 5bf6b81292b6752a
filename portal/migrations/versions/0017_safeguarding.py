"""Safeguarding: members block and report each other; staff suspend accounts

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-03 13:30:00

Accounts get ``suspended_at`` (indexed, for the list of suspended accounts) and the reason the
person was told. ``member_blocks`` is read both ways (who I blocked, who blocked me), so it is
indexed both ways; ``member_reports`` is indexed for the staff queue (state, safety concerns
first, oldest first) and for each person's reports.
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0017'
down_revision = '0016'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('suspended_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('suspension_note', sa.String(length=500), server_default='', nullable=False))
        batch_op.create_index(batch_op.f('ix_users_suspended_at'), ['suspended_at'], unique=False)

    op.create_table('member_blocks',
    sa.Column('blocker_id', sa.Integer(), nullable=False),
    sa.Column('blocked_id', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint('blocker_id <> blocked_id', name=op.f('ck_member_blocks_not_self')),
    sa.ForeignKeyConstraint(['blocked_id'], ['users.id'], name=op.f('fk_member_blocks_blocked_id_users'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['blocker_id'], ['users.id'], name=op.f('fk_member_blocks_blocker_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('blocker_id', 'blocked_id', name=op.f('pk_member_blocks'))
    )
    with op.batch_alter_table('member_blocks', schema=None) as batch_op:
        batch_op.create_index('ix_member_blocks_blocked_id', ['blocked_id', 'blocker_id'], unique=False)
        batch_op.create_index('ix_member_blocks_blocker_created', ['blocker_id', 'created_at'], unique=False)

    op.create_table('member_reports',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('reporter_id', sa.Integer(), nullable=True),
    sa.Column('subject_id', sa.Integer(), nullable=False),
    sa.Column('message_id', sa.Integer(), nullable=True),
    sa.Column('message_text', sa.Text(), nullable=False),
    sa.Column('message_sent_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('reason', sa.Enum('safety', 'harassment', 'hate', 'impersonation', 'spam', 'other', name='report_reason', native_enum=False, create_constraint=True), nullable=False),
    sa.Column('details', sa.String(length=1000), nullable=False),
    sa.Column('priority', sa.Integer(), nullable=False),
    sa.Column('state', sa.Enum('open', 'dismissed', 'suspended', name='report_state', native_enum=False, create_constraint=True), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('decided_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('decided_by_id', sa.Integer(), nullable=True),
    sa.Column('decision_note', sa.String(length=500), nullable=False),
    sa.ForeignKeyConstraint(['decided_by_id'], ['users.id'], name=op.f('fk_member_reports_decided_by_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['message_id'], ['peer_messages.id'], name=op.f('fk_member_reports_message_id_peer_messages'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['reporter_id'], ['users.id'], name=op.f('fk_member_reports_reporter_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['subject_id'], ['users.id'], name=op.f('fk_member_reports_subject_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_member_reports'))
    )
    with op.batch_alter_table('member_reports', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_member_reports_message_id'), ['message_id'], unique=False)
        batch_op.create_index('ix_member_reports_queue', ['state', 'priority', 'created_at', 'id'], unique=False)
        batch_op.create_index('ix_member_reports_reporter_id', ['reporter_id', 'id'], unique=False)
        batch_op.create_index('ix_member_reports_subject_id', ['subject_id', 'id'], unique=False)


def downgrade():
    with op.batch_alter_table('member_reports', schema=None) as batch_op:
        batch_op.drop_index('ix_member_reports_subject_id')
        batch_op.drop_index('ix_member_reports_reporter_id')
        batch_op.drop_index('ix_member_reports_queue')
        batch_op.drop_index(batch_op.f('ix_member_reports_message_id'))
    op.drop_table('member_reports')

    with op.batch_alter_table('member_blocks', schema=None) as batch_op:
        batch_op.drop_index('ix_member_blocks_blocker_created')
        batch_op.drop_index('ix_member_blocks_blocked_id')
    op.drop_table('member_blocks')

    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_users_suspended_at'))
        batch_op.drop_column('suspension_note')
        batch_op.drop_column('suspended_at')

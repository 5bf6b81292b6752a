"""Outbox: what a waiting email is about or mentions, and emails withheld

Revision ID: 0023
Revises: 0022
Create Date: 2026-12-04 19:20:00

``outbox_mentions`` says which story or post a waiting email names and where (so withdrawing or
hiding it cuts that line before the email leaves); ``withheld_at`` marks an email that was not
sent because everything it said went. Sent emails keep no subject or body from now on; those
already sent are erased here too.
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0023'
down_revision = '0022'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('outbox_mentions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('message_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=30), nullable=False),
    sa.Column('record_id', sa.Integer(), nullable=False),
    sa.Column('cut_from', sa.Integer(), nullable=True),
    sa.Column('cut_to', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['message_id'], ['outbox_messages.id'], name=op.f('fk_outbox_mentions_message_id_outbox_messages'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_outbox_mentions'))
    )
    with op.batch_alter_table('outbox_mentions', schema=None) as batch_op:
        batch_op.create_index('ix_outbox_mentions_kind_record', ['kind', 'record_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_outbox_mentions_message_id'), ['message_id'], unique=False)

    with op.batch_alter_table('outbox_messages', schema=None) as batch_op:
        batch_op.add_column(sa.Column('withheld_at', sa.DateTime(timezone=True), nullable=True))
    # What was sent before keeps its kind, recipient and times only.
    op.execute("UPDATE outbox_messages SET subject = '', body = '' WHERE sent_at IS NOT NULL")


def downgrade():
    with op.batch_alter_table('outbox_messages', schema=None) as batch_op:
        batch_op.drop_column('withheld_at')

    with op.batch_alter_table('outbox_mentions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_outbox_mentions_message_id'))
        batch_op.drop_index('ix_outbox_mentions_kind_record')

    op.drop_table('outbox_mentions')

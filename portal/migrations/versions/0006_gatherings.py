"""Gatherings with bookings and a waiting list; the member directory and messages between members

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-23 10:50:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('directory_entries',
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('listed', sa.Boolean(), nullable=False),
    sa.Column('display_name', sa.String(length=120), nullable=False),
    sa.Column('show_pronouns', sa.Boolean(), nullable=False),
    sa.Column('show_bio', sa.Boolean(), nullable=False),
    sa.Column('show_projects', sa.Boolean(), nullable=False),
    sa.Column('accepts_messages', sa.Boolean(), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_directory_entries_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('user_id', name=op.f('pk_directory_entries'))
    )
    with op.batch_alter_table('directory_entries', schema=None) as batch_op:
        batch_op.create_index('ix_directory_entries_listed_name', ['listed', 'display_name', 'user_id'], unique=False)

    op.create_table('peer_messages',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('sender_id', sa.Integer(), nullable=False),
    sa.Column('recipient_id', sa.Integer(), nullable=False),
    sa.Column('reply_to_id', sa.Integer(), nullable=True),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('read_at', sa.DateTime(timezone=True), nullable=True),
    sa.CheckConstraint('sender_id <> recipient_id', name=op.f('ck_peer_messages_not_to_self')),
    sa.ForeignKeyConstraint(['recipient_id'], ['users.id'], name=op.f('fk_peer_messages_recipient_id_users'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['reply_to_id'], ['peer_messages.id'], name=op.f('fk_peer_messages_reply_to_id_peer_messages'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['sender_id'], ['users.id'], name=op.f('fk_peer_messages_sender_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_peer_messages'))
    )
    with op.batch_alter_table('peer_messages', schema=None) as batch_op:
        batch_op.create_index('ix_peer_messages_recipient_id', ['recipient_id', 'id'], unique=False)
        batch_op.create_index(batch_op.f('ix_peer_messages_reply_to_id'), ['reply_to_id'], unique=False)
        batch_op.create_index('ix_peer_messages_sender_created', ['sender_id', 'created_at'], unique=False)

    op.create_table('directory_interests',
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('value', sa.String(length=40), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['directory_entries.user_id'], name=op.f('fk_directory_interests_user_id_directory_entries'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('user_id', 'value', name=op.f('pk_directory_interests'))
    )
    with op.batch_alter_table('directory_interests', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_directory_interests_value'), ['value'], unique=False)

    op.create_table('directory_skills',
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('key', sa.String(length=40), nullable=False),
    sa.Column('name', sa.String(length=40), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['directory_entries.user_id'], name=op.f('fk_directory_skills_user_id_directory_entries'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('user_id', 'key', name=op.f('pk_directory_skills'))
    )
    with op.batch_alter_table('directory_skills', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_directory_skills_key'), ['key'], unique=False)

    op.create_table('gatherings',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('starts_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('ends_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('place', sa.String(length=300), nullable=False),
    sa.Column('online_link', sa.String(length=500), nullable=False),
    sa.Column('accessibility', sa.Text(), nullable=False),
    sa.Column('capacity', sa.Integer(), nullable=False),
    sa.Column('paid', sa.Boolean(), nullable=False),
    sa.Column('activity_type_id', sa.Integer(), nullable=True),
    sa.Column('units', sa.Numeric(precision=7, scale=2), nullable=True),
    sa.Column('project_id', sa.Integer(), nullable=True),
    sa.Column('organiser_id', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('sequence', sa.Integer(), nullable=False),
    sa.CheckConstraint('NOT paid OR (activity_type_id IS NOT NULL AND units > 0)', name=op.f('ck_gatherings_paid_has_activity')),
    sa.CheckConstraint('capacity > 0', name=op.f('ck_gatherings_capacity_positive')),
    sa.CheckConstraint('ends_at > starts_at', name=op.f('ck_gatherings_ends_after_start')),
    sa.ForeignKeyConstraint(['activity_type_id'], ['activity_types.id'], name=op.f('fk_gatherings_activity_type_id_activity_types')),
    sa.ForeignKeyConstraint(['organiser_id'], ['users.id'], name=op.f('fk_gatherings_organiser_id_users')),
    sa.ForeignKeyConstraint(['project_id'], ['projects.id'], name=op.f('fk_gatherings_project_id_projects'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_gatherings'))
    )
    with op.batch_alter_table('gatherings', schema=None) as batch_op:
        batch_op.create_index('ix_gatherings_created_at', ['created_at'], unique=False)
        batch_op.create_index('ix_gatherings_ends_at', ['ends_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_gatherings_organiser_id'), ['organiser_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_gatherings_project_id'), ['project_id'], unique=False)
        batch_op.create_index('ix_gatherings_starts_at', ['starts_at', 'id'], unique=False)

    op.create_table('rsvps',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('gathering_id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('state', sa.Enum('going', 'waiting', 'cancelled', name='rsvp_state', native_enum=False, create_constraint=True), nullable=False),
    sa.Column('access_needs', sa.Text(), nullable=False),
    sa.Column('lived_experience', sa.Boolean(), nullable=False),
    sa.Column('queued_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('attended_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('claim_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['claim_id'], ['claims.id'], name=op.f('fk_rsvps_claim_id_claims'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['gathering_id'], ['gatherings.id'], name=op.f('fk_rsvps_gathering_id_gatherings'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_rsvps_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_rsvps')),
    sa.UniqueConstraint('claim_id', name=op.f('uq_rsvps_claim_id')),
    sa.UniqueConstraint('gathering_id', 'user_id', name=op.f('uq_rsvps_gathering_id_user_id'))
    )
    with op.batch_alter_table('rsvps', schema=None) as batch_op:
        batch_op.create_index('ix_rsvps_gathering_state_queued', ['gathering_id', 'state', 'queued_at', 'id'], unique=False)
        batch_op.create_index(batch_op.f('ix_rsvps_user_id'), ['user_id'], unique=False)


def downgrade():
    with op.batch_alter_table('rsvps', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_rsvps_user_id'))
        batch_op.drop_index('ix_rsvps_gathering_state_queued')

    op.drop_table('rsvps')
    with op.batch_alter_table('gatherings', schema=None) as batch_op:
        batch_op.drop_index('ix_gatherings_starts_at')
        batch_op.drop_index(batch_op.f('ix_gatherings_project_id'))
        batch_op.drop_index(batch_op.f('ix_gatherings_organiser_id'))
        batch_op.drop_index('ix_gatherings_ends_at')
        batch_op.drop_index('ix_gatherings_created_at')

    op.drop_table('gatherings')
    with op.batch_alter_table('directory_skills', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_directory_skills_key'))

    op.drop_table('directory_skills')
    with op.batch_alter_table('directory_interests', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_directory_interests_value'))

    op.drop_table('directory_interests')
    with op.batch_alter_table('peer_messages', schema=None) as batch_op:
        batch_op.drop_index('ix_peer_messages_sender_created')
        batch_op.drop_index(batch_op.f('ix_peer_messages_reply_to_id'))
        batch_op.drop_index('ix_peer_messages_recipient_id')

    op.drop_table('peer_messages')
    with op.batch_alter_table('directory_entries', schema=None) as batch_op:
        batch_op.drop_index('ix_directory_entries_listed_name')

    op.drop_table('directory_entries')

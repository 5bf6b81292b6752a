"""Community storytellers: storytellers, their consented demographics, stories and story tags

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23 10:50:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('storytellers',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=True),
    sa.Column('display_name', sa.String(length=120), nullable=False),
    sa.Column('pseudonym', sa.String(length=120), nullable=False),
    sa.Column('email', sa.String(length=254), nullable=False),
    sa.Column('project_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('demographics_withdrawn_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('demographics_withdrawn_by_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], name=op.f('fk_storytellers_created_by_id_users')),
    sa.ForeignKeyConstraint(['demographics_withdrawn_by_id'], ['users.id'], name=op.f('fk_storytellers_demographics_withdrawn_by_id_users')),
    sa.ForeignKeyConstraint(['project_id'], ['projects.id'], name=op.f('fk_storytellers_project_id_projects')),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_storytellers_user_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_storytellers')),
    sa.UniqueConstraint('user_id', name=op.f('uq_storytellers_user_id'))
    )
    with op.batch_alter_table('storytellers', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_storytellers_display_name'), ['display_name'], unique=False)
        batch_op.create_index(batch_op.f('ix_storytellers_email'), ['email'], unique=False)
        batch_op.create_index(batch_op.f('ix_storytellers_project_id'), ['project_id'], unique=False)

    op.create_table('stories',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('storyteller_id', sa.Integer(), nullable=False),
    sa.Column('project_id', sa.Integer(), nullable=True),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('summary', sa.Text(), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('transcript', sa.Text(), nullable=False),
    sa.Column('media_kind', sa.Enum('none', 'audio', 'video', name='story_media_kind', native_enum=False, create_constraint=True), nullable=False),
    sa.Column('media_stored_name', sa.String(length=64), nullable=True),
    sa.Column('media_content_type', sa.String(length=80), nullable=False),
    sa.Column('media_link', sa.String(length=500), nullable=False),
    sa.Column('original_title', sa.String(length=200), nullable=False),
    sa.Column('original_summary', sa.Text(), nullable=False),
    sa.Column('original_body', sa.Text(), nullable=False),
    sa.Column('original_transcript', sa.Text(), nullable=False),
    sa.Column('edited_by_staff', sa.Boolean(), nullable=False),
    sa.Column('scope', sa.Enum('public', 'network', 'research', name='story_scope', native_enum=False, create_constraint=True), nullable=False),
    sa.Column('anonymous', sa.Boolean(), nullable=False),
    sa.Column('consent_method', sa.Enum('self', 'written', 'spoken_recorded', 'spoken_noted', name='story_consent_method', native_enum=False, create_constraint=True), nullable=False),
    sa.Column('consent_given_on', sa.DateTime(timezone=True), nullable=False),
    sa.Column('consent_recorded_by_id', sa.Integer(), nullable=False),
    sa.Column('consent_note', sa.String(length=300), nullable=False),
    sa.Column('state', sa.Enum('submitted', 'in_review', 'published', 'changes_requested', 'declined', 'withdrawn', name='story_state', native_enum=False, create_constraint=True), nullable=False),
    sa.Column('moderation_note', sa.Text(), nullable=False),
    sa.Column('featured', sa.Boolean(), nullable=False),
    sa.Column('entered_by_id', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('submitted_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('published_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('withdrawn_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('withdrawn_by_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['consent_recorded_by_id'], ['users.id'], name=op.f('fk_stories_consent_recorded_by_id_users')),
    sa.ForeignKeyConstraint(['entered_by_id'], ['users.id'], name=op.f('fk_stories_entered_by_id_users')),
    sa.ForeignKeyConstraint(['project_id'], ['projects.id'], name=op.f('fk_stories_project_id_projects')),
    sa.ForeignKeyConstraint(['storyteller_id'], ['storytellers.id'], name=op.f('fk_stories_storyteller_id_storytellers')),
    sa.ForeignKeyConstraint(['withdrawn_by_id'], ['users.id'], name=op.f('fk_stories_withdrawn_by_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_stories'))
    )
    with op.batch_alter_table('stories', schema=None) as batch_op:
        batch_op.create_index('ix_stories_feed', ['state', 'scope', 'published_at'], unique=False)
        batch_op.create_index('ix_stories_library', ['state', 'scope', 'featured', 'published_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_stories_project_id'), ['project_id'], unique=False)
        batch_op.create_index('ix_stories_state_submitted_at', ['state', 'submitted_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_stories_storyteller_id'), ['storyteller_id'], unique=False)

    op.create_table('storyteller_demographics',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('storyteller_id', sa.Integer(), nullable=False),
    sa.Column('consent_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('consent_recorded_by_id', sa.Integer(), nullable=False),
    sa.Column('roles', sa.JSON(), nullable=False),
    sa.Column('sectors', sa.JSON(), nullable=False),
    sa.Column('lived_experience_areas', sa.JSON(), nullable=False),
    sa.Column('gender', sa.String(length=60), nullable=False),
    sa.Column('lgbtqia', sa.String(length=20), nullable=False),
    sa.Column('disability', sa.String(length=20), nullable=False),
    sa.Column('ethnicity', sa.String(length=120), nullable=False),
    sa.Column('age', sa.Integer(), nullable=True),
    sa.Column('age_prefer_not_to_say', sa.Boolean(), nullable=False),
    sa.ForeignKeyConstraint(['consent_recorded_by_id'], ['users.id'], name=op.f('fk_storyteller_demographics_consent_recorded_by_id_users')),
    sa.ForeignKeyConstraint(['storyteller_id'], ['storytellers.id'], name=op.f('fk_storyteller_demographics_storyteller_id_storytellers'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_storyteller_demographics')),
    sa.UniqueConstraint('storyteller_id', name=op.f('uq_storyteller_demographics_storyteller_id'))
    )
    op.create_table('story_tags',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('story_id', sa.Integer(), nullable=False),
    sa.Column('vocabulary', sa.Enum('theme', 'value', name='story_tag_vocabulary', native_enum=False, create_constraint=True), nullable=False),
    sa.Column('key', sa.String(length=40), nullable=False),
    sa.ForeignKeyConstraint(['story_id'], ['stories.id'], name=op.f('fk_story_tags_story_id_stories'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_story_tags')),
    sa.UniqueConstraint('story_id', 'vocabulary', 'key', name=op.f('uq_story_tags_story_id_vocabulary_key'))
    )
    with op.batch_alter_table('story_tags', schema=None) as batch_op:
        batch_op.create_index('ix_story_tags_lookup', ['vocabulary', 'key', 'story_id'], unique=False)


def downgrade():
    with op.batch_alter_table('story_tags', schema=None) as batch_op:
        batch_op.drop_index('ix_story_tags_lookup')

    op.drop_table('story_tags')
    op.drop_table('storyteller_demographics')
    with op.batch_alter_table('stories', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_stories_storyteller_id'))
        batch_op.drop_index('ix_stories_state_submitted_at')
        batch_op.drop_index(batch_op.f('ix_stories_project_id'))
        batch_op.drop_index('ix_stories_library')
        batch_op.drop_index('ix_stories_feed')

    op.drop_table('stories')
    with op.batch_alter_table('storytellers', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_storytellers_project_id'))
        batch_op.drop_index(batch_op.f('ix_storytellers_email'))
        batch_op.drop_index(batch_op.f('ix_storytellers_display_name'))

    op.drop_table('storytellers')

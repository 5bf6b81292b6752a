"""Stories: a version per save, "ask me before publishing", and waiting for the storyteller

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-04 14:40:00

A story takes the ``Edited`` columns (``version``, raised on every save, and who changed it last
and when), so a moderator or storyteller saving from a stale page is refused. The storyteller can
ask to approve staff edits before publishing (``ask_before_publishing``); such a story then waits
in the new ``awaiting_approval`` state, and a storyteller who declines the edits says why in
``approval_note``. Existing stories keep today's behaviour (not asked).
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0019'
down_revision = '0018'
branch_labels = None
depends_on = None

OLD_STATES = ('submitted', 'in_review', 'published', 'changes_requested', 'declined', 'withdrawn')
NEW_STATES = ('submitted', 'in_review', 'published', 'changes_requested', 'awaiting_approval', 'declined', 'withdrawn')


def _states(values):
    return sa.Enum(*values, name='story_state', native_enum=False, create_constraint=True, length=17)


def upgrade():
    with op.batch_alter_table('stories', schema=None) as batch_op:
        batch_op.add_column(sa.Column('version', sa.Integer(), server_default='1', nullable=False))
        batch_op.add_column(sa.Column('changed_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('changed_by_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('ask_before_publishing', sa.Boolean(), server_default=sa.false(), nullable=False))
        batch_op.add_column(sa.Column('approval_note', sa.Text(), server_default='', nullable=False))
        batch_op.create_foreign_key(batch_op.f('fk_stories_changed_by_id_users'), 'users', ['changed_by_id'], ['id'], ondelete='SET NULL')
        batch_op.alter_column('state', existing_type=_states(OLD_STATES), type_=_states(NEW_STATES), existing_nullable=False)


def downgrade():
    # A story waiting for its storyteller goes back to review (the old schema has no such state).
    op.execute("UPDATE stories SET state = 'in_review' WHERE state = 'awaiting_approval'")
    with op.batch_alter_table('stories', schema=None) as batch_op:
        batch_op.alter_column('state', existing_type=_states(NEW_STATES), type_=_states(OLD_STATES), existing_nullable=False)
        batch_op.drop_constraint(batch_op.f('fk_stories_changed_by_id_users'), type_='foreignkey')
        batch_op.drop_column('approval_note')
        batch_op.drop_column('ask_before_publishing')
        batch_op.drop_column('changed_by_id')
        batch_op.drop_column('changed_at')
        batch_op.drop_column('version')

"""Grants: invitations are offers to answer, to an application's team or a project's

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-03 13:15:00

An invitation now has a state (pending, accepted, declined, withdrawn) and an expiry; it may be
to a project's team instead of an application's. The same address may be invited again once an
earlier invitation was declined, withdrawn or expired, so (application, email) is no longer
unique. Existing rows: accepted ones become accepted, the rest stay pending and expire 14 days
after they were sent (the default of INVITATION_EXPIRY_DAYS).
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0016'
down_revision = '0015'
branch_labels = None
depends_on = None

STATES = ('pending', 'accepted', 'declined', 'withdrawn')


def upgrade():
    with op.batch_alter_table('invitations', schema=None) as batch_op:
        batch_op.add_column(sa.Column('project_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('expires_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('state', sa.Enum(*STATES, name='invitation_state', native_enum=False, create_constraint=True, length=9), nullable=True))
        batch_op.add_column(sa.Column('closed_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('closed_by_id', sa.Integer(), nullable=True))
        batch_op.alter_column('application_id', existing_type=sa.Integer(), nullable=True)
        batch_op.drop_constraint(batch_op.f('uq_invitations_application_id_email'), type_='unique')
        batch_op.drop_index(batch_op.f('ix_invitations_email'))
        batch_op.create_index(batch_op.f('ix_invitations_project_id'), ['project_id'], unique=False)
        batch_op.create_index('ix_invitations_email_state', ['email', 'state'], unique=False)
        batch_op.create_foreign_key(batch_op.f('fk_invitations_project_id_projects'), 'projects', ['project_id'], ['id'], ondelete='CASCADE')
        batch_op.create_foreign_key(batch_op.f('fk_invitations_closed_by_id_users'), 'users', ['closed_by_id'], ['id'])

    invitations = sa.table(
        'invitations',
        sa.column('accepted_at', sa.DateTime(timezone=True)),
        sa.column('created_at', sa.DateTime(timezone=True)),
        sa.column('expires_at', sa.DateTime(timezone=True)),
        sa.column('state', sa.String(9)),
    )
    op.execute(invitations.update().where(invitations.c.accepted_at.isnot(None)).values(state='accepted'))
    op.execute(invitations.update().where(invitations.c.accepted_at.is_(None)).values(state='pending'))
    # Fourteen days after each was sent.
    if op.get_bind().dialect.name == 'sqlite':
        op.execute("UPDATE invitations SET expires_at = datetime(created_at, '+14 days')")
    else:
        op.execute("UPDATE invitations SET expires_at = created_at + interval '14 days'")

    with op.batch_alter_table('invitations', schema=None) as batch_op:
        batch_op.alter_column('expires_at', existing_type=sa.DateTime(timezone=True), nullable=False)
        batch_op.alter_column('state', existing_type=sa.Enum(*STATES, name='invitation_state', native_enum=False, create_constraint=True, length=9), nullable=False)
        batch_op.create_check_constraint(batch_op.f('ck_invitations_one_team'), '(application_id IS NULL) <> (project_id IS NULL)')


def downgrade():
    # Project invitations have no place in the old table; offers not accepted go back to waiting.
    op.execute("DELETE FROM invitations WHERE project_id IS NOT NULL")
    with op.batch_alter_table('invitations', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('ck_invitations_one_team'), type_='check')
        batch_op.drop_constraint(batch_op.f('ck_invitations_invitation_state'), type_='check')
        batch_op.drop_constraint(batch_op.f('fk_invitations_closed_by_id_users'), type_='foreignkey')
        batch_op.drop_constraint(batch_op.f('fk_invitations_project_id_projects'), type_='foreignkey')
        batch_op.drop_index('ix_invitations_email_state')
        batch_op.drop_index(batch_op.f('ix_invitations_project_id'))
        batch_op.create_index(batch_op.f('ix_invitations_email'), ['email'], unique=False)
        batch_op.alter_column('application_id', existing_type=sa.Integer(), nullable=False)
        batch_op.drop_column('closed_by_id')
        batch_op.drop_column('closed_at')
        batch_op.drop_column('state')
        batch_op.drop_column('expires_at')
        batch_op.drop_column('project_id')
    # Several invitations of one address to one team may now exist: keep the newest before the
    # unique constraint returns.
    op.execute(
        "DELETE FROM invitations WHERE id NOT IN "
        "(SELECT MAX(id) FROM invitations GROUP BY application_id, email)"
    )
    with op.batch_alter_table('invitations', schema=None) as batch_op:
        batch_op.create_unique_constraint(batch_op.f('uq_invitations_application_id_email'), ['application_id', 'email'])

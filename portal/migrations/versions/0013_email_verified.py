"""Accounts: when each person proved they own their email address

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-03 13:00:00

Accounts made before this revision start unverified: nothing proved that whoever signed up
owns the address, so they are asked to confirm it (the dashboard offers the link).
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0013'
down_revision = '0012'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('email_verified_at', sa.DateTime(timezone=True), nullable=True))


def downgrade():
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_column('email_verified_at')

"""Claims: an index by state and payment date, for the staff dashboard's days-to-payment figure

Without it the figure read every paid claim (613 ms at 375,000 paid claims; 19 ms with it).

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-23 12:40:00

"""
from alembic import op


# revision identifiers, used by Alembic.
revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('claims', schema=None) as batch_op:
        batch_op.create_index('ix_claims_state_paid_on', ['state', 'paid_on'], unique=False)


def downgrade():
    with op.batch_alter_table('claims', schema=None) as batch_op:
        batch_op.drop_index('ix_claims_state_paid_on')

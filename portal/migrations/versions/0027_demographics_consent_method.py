"""Demographics: how consent to store the answers was given

Revision ID: 0027
Revises: 0026
Create Date: 2026-12-06 22:20:00

``consent_method`` says how a storyteller agreed to their answers being stored (their own tick
online, in writing, spoken and recorded, spoken and written down), as stories already record.
Answers a person stored about themselves were given online; for the rest, how was never
recorded, and the column stays empty rather than guess.
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0027'
down_revision = '0026'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('storyteller_demographics', schema=None) as batch_op:
        batch_op.add_column(sa.Column('consent_method', sa.Enum('self', 'written', 'spoken_recorded', 'spoken_noted', name='demographics_consent_method', native_enum=False, create_constraint=True), nullable=True))
    op.execute(
        "UPDATE storyteller_demographics SET consent_method = 'self' WHERE consent_recorded_by_id = "
        "(SELECT storytellers.user_id FROM storytellers WHERE storytellers.id = storyteller_demographics.storyteller_id)"
    )


def downgrade():
    with op.batch_alter_table('storyteller_demographics', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('ck_storyteller_demographics_demographics_consent_method'), type_='check')
        batch_op.drop_column('consent_method')

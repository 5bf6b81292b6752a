"""Claims: a project's spend reads its own claims by (project, state)

The projects export and the grants dashboard sum each project's committed claims. With only an
index on the project and one on (state, ...), SQLite chose the state index and read every
committed claim for each project (the projects CSV of 5,011 projects never finished). The new
index replaces the one on the project alone (its prefix).

Revision ID: 0034
Revises: 0033
Create Date: 2026-12-07 04:10:00

"""
from alembic import op


# revision identifiers, used by Alembic.
revision = "0034"
down_revision = "0033"
branch_labels = None
depends_on = None


def upgrade():
    op.create_index("ix_claims_project_state", "claims", ["project_id", "state"], unique=False)
    op.drop_index("ix_claims_project_id", table_name="claims")


def downgrade():
    op.create_index("ix_claims_project_id", "claims", ["project_id"], unique=False)
    op.drop_index("ix_claims_project_state", table_name="claims")

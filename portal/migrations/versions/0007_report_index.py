"""Progress reports: one index by project, state and due date (replaces the project-only index)

Per-project report figures (due, overdue, next due) were answered from the state index, reading
every report in that state for each project: 10 s for the projects export at 5,000 projects.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-23 12:05:00

"""
from alembic import op


# revision identifiers, used by Alembic.
revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('progress_reports', schema=None) as batch_op:
        batch_op.create_index('ix_progress_reports_project_state_due', ['project_id', 'state', 'due_on'], unique=False)
        batch_op.drop_index('ix_progress_reports_project_id')


def downgrade():
    with op.batch_alter_table('progress_reports', schema=None) as batch_op:
        batch_op.create_index('ix_progress_reports_project_id', ['project_id'], unique=False)
        batch_op.drop_index('ix_progress_reports_project_state_due')

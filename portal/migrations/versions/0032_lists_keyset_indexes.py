"""Lists and dashboards at scale: indexes that fit each list's filter and keyset order (sort key, id)

The audit log (whole, or by action, actor or object), the claims queue and confirmations
(state, sent), the finance dashboard (state, approved), a claimant's claims (claimant, date),
a batch's claims (batch, id), the batches list (state, created) and projects by title. Each
replaces an index that was its prefix, where there was one.

Revision ID: 0032
Revises: 0031
Create Date: 2026-12-07 03:30:00

"""
from alembic import op


# revision identifiers, used by Alembic.
revision = "0032"
down_revision = "0031"
branch_labels = None
depends_on = None

NEW = [
    ('audit_entries', 'ix_audit_entries_created_id', ['created_at', 'id']),
    ('audit_entries', 'ix_audit_entries_action_created_id', ['action', 'created_at', 'id']),
    ('audit_entries', 'ix_audit_entries_actor_created_id', ['actor_id', 'created_at', 'id']),
    ('audit_entries', 'ix_audit_entries_type_created_id', ['object_type', 'created_at', 'id']),
    ('claims', 'ix_claims_state_submitted_id', ['state', 'submitted_at', 'id']),
    ('claims', 'ix_claims_state_approved_id', ['state', 'approved_at', 'id']),
    ('claims', 'ix_claims_claimant_activity_id', ['claimant_id', 'activity_date', 'id']),
    ('claims', 'ix_claims_batch_id_id', ['batch_id', 'id']),
    ('payment_batches', 'ix_payment_batches_created_id', ['created_at', 'id']),
    ('payment_batches', 'ix_payment_batches_state_created_id', ['state', 'created_at', 'id']),
    ('projects', 'ix_projects_title_id', ['title', 'id']),
]
# Prefixes of the new ones, no longer needed.
REPLACED = [
    ('claims', 'ix_claims_state_submitted_at', ['state', 'submitted_at']),
    ('claims', 'ix_claims_claimant_activity_date', ['claimant_id', 'activity_date']),
    ('claims', 'ix_claims_batch_id', ['batch_id']),
]


def upgrade():
    for table, name, columns in NEW:
        op.create_index(name, table, columns, unique=False)
    for table, name, _columns in REPLACED:
        op.drop_index(name, table_name=table)


def downgrade():
    for table, name, columns in REPLACED:
        op.create_index(name, table, columns, unique=False)
    for table, name, _columns in NEW:
        op.drop_index(name, table_name=table)

"""Erasures waiting for the files to be compacted; the retention schedule

Revision ID: 0025
Revises: 0024
Create Date: 2026-12-06 22:10:00

``pending_erasures`` records that something was erased, so the ``erasure-purge`` job vacuums the
tables that held it on PostgreSQL (core/compaction.py). ``claims.updated_at`` says when a claim
last changed, so a draft untouched for months can be deleted. The audit log stays append-only,
except that the retention schedule may delete entries older than an ``audit_purge_permits`` row
written in its own transaction (core/audit.py ``purge``).
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0025'
down_revision = '0024'
branch_labels = None
depends_on = None

REFUSE_SQLITE = "BEGIN SELECT RAISE(ABORT, 'audit entries are append-only'); END"
PERMITTED_SQLITE = (
    "CREATE TRIGGER audit_entries_no_delete BEFORE DELETE ON audit_entries "
    "WHEN NOT EXISTS (SELECT 1 FROM audit_purge_permits WHERE old.created_at < audit_purge_permits.before) "
    + REFUSE_SQLITE
)
ALWAYS_SQLITE = "CREATE TRIGGER audit_entries_no_delete BEFORE DELETE ON audit_entries " + REFUSE_SQLITE
PERMITTED_POSTGRESQL = (
    "CREATE OR REPLACE FUNCTION refuse_audit_change() RETURNS trigger LANGUAGE plpgsql AS $$ "
    "BEGIN "
    "IF TG_OP = 'DELETE' AND EXISTS (SELECT 1 FROM audit_purge_permits p WHERE OLD.created_at < p.before) THEN "
    "RETURN OLD; END IF; "
    "RAISE EXCEPTION 'audit entries are append-only'; END $$"
)
ALWAYS_POSTGRESQL = (
    "CREATE OR REPLACE FUNCTION refuse_audit_change() RETURNS trigger LANGUAGE plpgsql AS $$ "
    "BEGIN RAISE EXCEPTION 'audit entries are append-only'; END $$"
)


def upgrade():
    op.create_table('pending_erasures',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('reason', sa.String(length=40), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('vacuumed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('xid', sa.BigInteger(), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_pending_erasures'))
    )
    op.create_table('audit_purge_permits',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('before', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_audit_purge_permits'))
    )
    with op.batch_alter_table('claims', schema=None) as batch_op:
        batch_op.add_column(sa.Column('updated_at', sa.DateTime(timezone=True), nullable=True))
    op.execute("UPDATE claims SET updated_at = COALESCE(submitted_at, created_at)")
    with op.batch_alter_table('claims', schema=None) as batch_op:
        batch_op.alter_column('updated_at', existing_type=sa.DateTime(timezone=True), nullable=False)

    if op.get_bind().dialect.name == 'sqlite':
        op.execute("DROP TRIGGER audit_entries_no_delete")
        op.execute(PERMITTED_SQLITE)
    else:
        op.execute(PERMITTED_POSTGRESQL)


def downgrade():
    if op.get_bind().dialect.name == 'sqlite':
        op.execute("DROP TRIGGER audit_entries_no_delete")
        op.execute(ALWAYS_SQLITE)
    else:
        op.execute(ALWAYS_POSTGRESQL)
    with op.batch_alter_table('claims', schema=None) as batch_op:
        batch_op.drop_column('updated_at')
    op.drop_table('audit_purge_permits')
    op.drop_table('pending_erasures')

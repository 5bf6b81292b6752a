"""Erase me: when a person was erased, and the audit log's one permitted rewrite

Revision ID: 0026
Revises: 0025
Create Date: 2026-12-06 22:00:00

``users.erased_at`` marks a person erased ("Erase me"): their row stays, as a reference, for the
records the law keeps. ``audit_rewrites`` holds a permit for the length of one erasure's
transaction: the audit log's guard now lets that transaction replace the person's name and email
in an entry's before, after and note, and still refuses every other UPDATE and every DELETE.
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0026'
down_revision = '0025'
branch_labels = None
depends_on = None

SAME_ENTRY_SQLITE = (
    "NEW.id = OLD.id AND NEW.created_at IS OLD.created_at AND NEW.actor_id IS OLD.actor_id"
    " AND NEW.action = OLD.action AND NEW.object_type = OLD.object_type AND NEW.object_id = OLD.object_id"
)
SAME_ENTRY_POSTGRESQL = (
    "NEW.id = OLD.id AND NEW.created_at IS NOT DISTINCT FROM OLD.created_at"
    " AND NEW.actor_id IS NOT DISTINCT FROM OLD.actor_id AND NEW.action = OLD.action"
    " AND NEW.object_type = OLD.object_type AND NEW.object_id = OLD.object_id"
)
REFUSE_ALL_SQLITE = (
    "CREATE TRIGGER audit_entries_no_update BEFORE UPDATE ON audit_entries "
    "BEGIN SELECT RAISE(ABORT, 'audit entries are append-only'); END"
)
# 0025's guard: deletes only under a retention purge permit (kept here, going up and down).
PURGE_PERMITTED_POSTGRESQL = (
    "IF TG_OP = 'DELETE' AND EXISTS (SELECT 1 FROM audit_purge_permits p WHERE OLD.created_at < p.before) THEN "
    "RETURN OLD; END IF; "
)
REFUSE_ALL_POSTGRESQL = (
    "CREATE OR REPLACE FUNCTION refuse_audit_change() RETURNS trigger LANGUAGE plpgsql AS $$ "
    f"BEGIN {PURGE_PERMITTED_POSTGRESQL}RAISE EXCEPTION 'audit entries are append-only'; END $$"
)


def upgrade():
    op.create_table('audit_rewrites',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('reference', sa.String(length=40), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_audit_rewrites'))
    )
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('erased_at', sa.DateTime(timezone=True), nullable=True))

    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        op.execute("DROP TRIGGER IF EXISTS audit_entries_no_update")
        op.execute(
            "CREATE TRIGGER audit_entries_no_update BEFORE UPDATE ON audit_entries "
            f"WHEN NOT (EXISTS (SELECT 1 FROM audit_rewrites) AND {SAME_ENTRY_SQLITE}) "
            "BEGIN SELECT RAISE(ABORT, 'audit entries are append-only'); END"
        )
    elif dialect == "postgresql":
        op.execute(
            "CREATE OR REPLACE FUNCTION refuse_audit_change() RETURNS trigger LANGUAGE plpgsql AS $$ "
            f"BEGIN {PURGE_PERMITTED_POSTGRESQL}"
            f"IF TG_OP = 'UPDATE' AND EXISTS (SELECT 1 FROM audit_rewrites) AND {SAME_ENTRY_POSTGRESQL} "
            "THEN RETURN NEW; END IF; "
            "RAISE EXCEPTION 'audit entries are append-only'; END $$"
        )


def downgrade():
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        op.execute("DROP TRIGGER IF EXISTS audit_entries_no_update")
        op.execute(REFUSE_ALL_SQLITE)
    elif dialect == "postgresql":
        op.execute(REFUSE_ALL_POSTGRESQL)
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_column('erased_at')

    op.drop_table('audit_rewrites')

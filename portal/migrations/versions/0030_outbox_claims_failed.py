"""Emails: whose claim a message is under, and when it failed for good

Revision ID: 0030
Revises: 0029
Create Date: 2026-12-07 03:15:00

``claim_token`` says which sending run holds a message's claim, so a run whose claim ran out
can no longer record the message as sent or failed. ``failed_at`` marks a message that failed
its last attempt: staff see it on /admin/emails/failed and can send it again. Messages that
had already used every attempt are marked failed at the time they were written (the last
attempt's time was not kept).
"""

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = "0030"
down_revision = "0029"
branch_labels = None
depends_on = None

messages = sa.table(
    "outbox_messages",
    sa.column("attempts", sa.Integer),
    sa.column("created_at", sa.DateTime(timezone=True)),
    sa.column("sent_at", sa.DateTime(timezone=True)),
    sa.column("withheld_at", sa.DateTime(timezone=True)),
    sa.column("failed_at", sa.DateTime(timezone=True)),
)


def upgrade():
    with op.batch_alter_table("outbox_messages", schema=None) as batch_op:
        batch_op.add_column(sa.Column("claim_token", sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column("failed_at", sa.DateTime(timezone=True), nullable=True))
    op.execute(
        messages.update()
        .where(messages.c.sent_at.is_(None), messages.c.withheld_at.is_(None), messages.c.attempts >= 5)
        .values(failed_at=messages.c.created_at)
    )


def downgrade():
    with op.batch_alter_table("outbox_messages", schema=None) as batch_op:
        batch_op.drop_column("failed_at")
        batch_op.drop_column("claim_token")

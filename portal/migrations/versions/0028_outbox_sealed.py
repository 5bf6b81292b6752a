"""Emails waiting to be sent are sealed with a key of their own; the search index is not logged

Revision ID: 0028
Revises: 0027
Create Date: 2026-12-06 23:00:00

A waiting email can quote a story or a post (a digest's lines). Its subject and body are now
sealed with a key made for that message (``core.keystore``, outside the database), destroyed
when the message is sent, cut or withheld: the words then stay unreadable in every copy the
database kept. Subjects become text: sealed, they are longer than 200 characters.

On PostgreSQL the search index's table becomes UNLOGGED: it holds readable words, and a logged
table would copy each of them into the write-ahead log (and every replica and WAL archive), out
of reach of any erasure. The index is rebuilt from the records whenever it is found empty (after
a crash PostgreSQL empties an unlogged table), by the ``search-rebuild`` job.
"""
from alembic import op
import sqlalchemy as sa

from portal.core import keystore


# revision identifiers, used by Alembic.
revision = '0028'
down_revision = '0027'
branch_labels = None
depends_on = None

messages = sa.table(
    'outbox_messages', sa.column('id', sa.Integer), sa.column('key_id', sa.String),
    sa.column('subject', sa.Text), sa.column('body', sa.Text), sa.column('sent_at', sa.DateTime),
)


def upgrade():
    with op.batch_alter_table('outbox_messages', schema=None) as batch_op:
        batch_op.add_column(sa.Column('key_id', sa.String(length=32), nullable=True))
        batch_op.alter_column('subject', existing_type=sa.String(length=200), type_=sa.Text(), existing_nullable=False)
    connection = op.get_bind()
    for row in connection.execute(sa.select(messages).where(messages.c.sent_at.is_(None))).mappings().all():
        if not (row['subject'] or row['body']):
            continue
        key_id = keystore.create()
        key = keystore.data_key(key_id)
        connection.execute(messages.update().where(messages.c.id == row['id']).values(
            key_id=key_id,
            subject=keystore.seal_text(key, row['subject'] or '', purpose='outbox.subject'),
            body=keystore.seal_text(key, row['body'] or '', purpose='outbox.body'),
        ))
    if connection.dialect.name == 'postgresql':
        op.execute('ALTER TABLE search_documents SET UNLOGGED')


def downgrade():
    connection = op.get_bind()
    if connection.dialect.name == 'postgresql':
        op.execute('ALTER TABLE search_documents SET LOGGED')
    for row in connection.execute(sa.select(messages).where(messages.c.key_id.is_not(None))).mappings().all():
        try:
            key = keystore.data_key(row['key_id'])
            opened = {
                'subject': keystore.open_text(key, row['subject'] or '', purpose='outbox.subject')[:200],
                'body': keystore.open_text(key, row['body'] or '', purpose='outbox.body'),
            }
        except keystore.KeyGone:
            opened = {'subject': '', 'body': ''}
        connection.execute(messages.update().where(messages.c.id == row['id']).values(**opened))
        keystore.destroy(row['key_id'])
    with op.batch_alter_table('outbox_messages', schema=None) as batch_op:
        batch_op.alter_column('subject', existing_type=sa.Text(), type_=sa.String(length=200), existing_nullable=False)
        batch_op.drop_column('key_id')

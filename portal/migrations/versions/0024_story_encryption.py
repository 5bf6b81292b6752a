"""Stories: each story's words, saved versions and media sealed with a key of its own

Revision ID: 0024
Revises: 0023
Create Date: 2026-12-06 22:10:00

``key_id`` names the story's key file (``core.keystore``, outside the database). Every story
not withdrawn gets a key here, and its title, summary, body, transcript, the storyteller's
originals, its saved versions (``revisions``) and its media file are sealed with it in place.
The recording's link, the consent, moderation and approval notes
(which can quote the story or name the person) are sealed too. Titles and the consent note become text: sealed, they are longer than 200 characters. A withdrawn story's tombstone
keeps no words and no key. Going down opens everything again and destroys the keys.
"""
import json

from alembic import op
import sqlalchemy as sa

from portal.core import keystore, uploads


# revision identifiers, used by Alembic.
revision = '0024'
down_revision = '0023'
branch_labels = None
depends_on = None

FIELDS = ('title', 'summary', 'body', 'transcript',
          'original_title', 'original_summary', 'original_body', 'original_transcript',
          'media_link', 'consent_note', 'moderation_note', 'approval_note')
MEDIA = 'story-media'

stories = sa.table(
    'stories', sa.column('id', sa.Integer), sa.column('state', sa.String), sa.column('key_id', sa.String),
    sa.column('media_stored_name', sa.String), *(sa.column(name, sa.Text) for name in FIELDS),
)
revisions = sa.table(
    'revisions', sa.column('id', sa.Integer), sa.column('kind', sa.String),
    sa.column('record_id', sa.Integer), sa.column('fields', sa.JSON),
)


def _media_path(stored_name):
    try:
        path = uploads.path_of(MEDIA, stored_name)
    except FileNotFoundError:
        return None
    return path if path.is_file() else None


def _rewrite_media(stored_name, change):
    path = _media_path(stored_name) if stored_name else None
    if path is not None:
        temporary = path.with_name(path.name + '.tmp')
        temporary.write_bytes(change(path.read_bytes()))
        temporary.replace(path)


def upgrade():
    with op.batch_alter_table('stories', schema=None) as batch_op:
        batch_op.add_column(sa.Column('key_id', sa.String(length=32), nullable=True))
        batch_op.alter_column('title', existing_type=sa.String(length=200), type_=sa.Text(), existing_nullable=False)
        batch_op.alter_column('original_title', existing_type=sa.String(length=200), type_=sa.Text(),
                              existing_nullable=False)
        batch_op.alter_column('consent_note', existing_type=sa.String(length=300), type_=sa.Text(),
                              existing_nullable=False)
        batch_op.alter_column('media_link', existing_type=sa.String(length=500), type_=sa.Text(),
                              existing_nullable=False)

    connection = op.get_bind()
    for row in connection.execute(sa.select(stories)).mappings().all():
        if row['state'] == 'withdrawn':
            connection.execute(stories.update().where(stories.c.id == row['id']).values({name: '' for name in FIELDS}))
            continue
        key_id = keystore.create()
        key = keystore.data_key(key_id)
        sealed = {name: keystore.seal_text(key, row[name] or '', purpose=f'stories.{name}') for name in FIELDS}
        connection.execute(stories.update().where(stories.c.id == row['id']).values(key_id=key_id, **sealed))
        for kept in connection.execute(
            sa.select(revisions).where(revisions.c.kind == 'stories', revisions.c.record_id == row['id'])
        ).mappings().all():
            payload = keystore.seal_text(key, json.dumps(kept['fields'] or {}), purpose='stories.revision')
            connection.execute(revisions.update().where(revisions.c.id == kept['id']).values(fields={'sealed': payload}))
        _rewrite_media(row['media_stored_name'],
                       lambda data, key=key: keystore.seal_bytes(key, data, purpose='stories.media'))


def downgrade():
    connection = op.get_bind()
    for row in connection.execute(sa.select(stories)).mappings().all():
        if row['state'] == 'withdrawn':
            connection.execute(stories.update().where(stories.c.id == row['id']).values(title='Withdrawn story'))
            continue
        if not row['key_id']:
            continue
        try:
            key = keystore.data_key(row['key_id'])
        except keystore.KeyGone:
            # The key went in a withdrawal that never finished: nothing can be opened; blank it.
            connection.execute(stories.update().where(stories.c.id == row['id']).values({name: '' for name in FIELDS}))
            continue
        opened = {name: keystore.open_text(key, row[name] or '', purpose=f'stories.{name}') for name in FIELDS}
        connection.execute(stories.update().where(stories.c.id == row['id']).values(**opened))
        for kept in connection.execute(
            sa.select(revisions).where(revisions.c.kind == 'stories', revisions.c.record_id == row['id'])
        ).mappings().all():
            sealed = (kept['fields'] or {}).get('sealed', '')
            fields = json.loads(keystore.open_text(key, sealed, purpose='stories.revision')) if sealed else {}
            connection.execute(revisions.update().where(revisions.c.id == kept['id']).values(fields=fields))
        _rewrite_media(row['media_stored_name'],
                       lambda data, key=key: keystore.open_bytes(key, data, purpose='stories.media'))
        keystore.destroy(row['key_id'])

    with op.batch_alter_table('stories', schema=None) as batch_op:
        batch_op.alter_column('consent_note', existing_type=sa.Text(), type_=sa.String(length=300),
                              existing_nullable=False)
        batch_op.alter_column('media_link', existing_type=sa.Text(), type_=sa.String(length=500),
                              existing_nullable=False)
        batch_op.alter_column('original_title', existing_type=sa.Text(), type_=sa.String(length=200),
                              existing_nullable=False)
        batch_op.alter_column('title', existing_type=sa.Text(), type_=sa.String(length=200), existing_nullable=False)
        batch_op.drop_column('key_id')

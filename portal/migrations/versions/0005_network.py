"""network: learning posts, comments, validations, flags, notifications and the search index

The search index is created here by hand, because models cannot describe it portably:
on SQLite an external-content FTS5 table kept in step by triggers; on PostgreSQL a GIN index
on a weighted tsvector expression (titles weigh more than bodies). portal/search/service.py
queries exactly these.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-23 10:50:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None

# Must match portal.core.search.service.PG_DOCUMENT_VECTOR exactly, or PostgreSQL will not use the index.
PG_DOCUMENT_VECTOR = (
    "setweight(to_tsvector('english'::regconfig, title), 'A') || "
    "setweight(to_tsvector('english'::regconfig, body), 'B')"
)

SQLITE_FTS = [
    "CREATE VIRTUAL TABLE search_documents_fts USING fts5("
    "title, body, content='search_documents', content_rowid='id', tokenize='porter unicode61')",
    "CREATE TRIGGER search_documents_fts_insert AFTER INSERT ON search_documents BEGIN "
    "INSERT INTO search_documents_fts(rowid, title, body) VALUES (new.id, new.title, new.body); END",
    "CREATE TRIGGER search_documents_fts_delete AFTER DELETE ON search_documents BEGIN "
    "INSERT INTO search_documents_fts(search_documents_fts, rowid, title, body) "
    "VALUES ('delete', old.id, old.title, old.body); END",
    "CREATE TRIGGER search_documents_fts_update AFTER UPDATE ON search_documents BEGIN "
    "INSERT INTO search_documents_fts(search_documents_fts, rowid, title, body) "
    "VALUES ('delete', old.id, old.title, old.body); "
    "INSERT INTO search_documents_fts(rowid, title, body) VALUES (new.id, new.title, new.body); END",
]


def _create_full_text_index():
    dialect = op.get_bind().dialect.name
    if dialect == 'sqlite':
        for statement in SQLITE_FTS:
            op.execute(statement)
    elif dialect == 'postgresql':
        op.execute(f"CREATE INDEX ix_search_documents_fts ON search_documents USING gin (({PG_DOCUMENT_VECTOR}))")


def _drop_full_text_index():
    dialect = op.get_bind().dialect.name
    if dialect == 'sqlite':
        for name in ('insert', 'delete', 'update'):
            op.execute(f"DROP TRIGGER IF EXISTS search_documents_fts_{name}")
        op.execute("DROP TABLE IF EXISTS search_documents_fts")
    elif dialect == 'postgresql':
        op.execute("DROP INDEX IF EXISTS ix_search_documents_fts")


def upgrade():
    op.create_table('search_documents',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('object_id', sa.Integer(), nullable=False),
    sa.Column('title', sa.String(length=300), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('audience', sa.Enum('public', 'members', name='search_audience', native_enum=False, create_constraint=True), nullable=False),
    sa.Column('url_path', sa.String(length=300), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_search_documents')),
    sa.UniqueConstraint('kind', 'object_id', name=op.f('uq_search_documents_kind_object_id'))
    )
    with op.batch_alter_table('search_documents', schema=None) as batch_op:
        batch_op.create_index('ix_search_documents_audience_updated', ['audience', 'updated_at'], unique=False)

    op.create_table('moderation_settings',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('premoderate_first_posts', sa.Boolean(), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('updated_by_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['updated_by_id'], ['users.id'], name=op.f('fk_moderation_settings_updated_by_id_users'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_moderation_settings'))
    )
    op.create_table('notification_settings',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=30), nullable=False),
    sa.Column('email', sa.Boolean(), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_notification_settings_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_notification_settings')),
    sa.UniqueConstraint('user_id', 'kind', name=op.f('uq_notification_settings_user_id_kind'))
    )
    op.create_table('notifications',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('recipient_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=30), nullable=False),
    sa.Column('subject', sa.String(length=200), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('url_path', sa.String(length=300), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('read_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['recipient_id'], ['users.id'], name=op.f('fk_notifications_recipient_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_notifications'))
    )
    with op.batch_alter_table('notifications', schema=None) as batch_op:
        batch_op.create_index('ix_notifications_recipient_read', ['recipient_id', 'read_at', 'id'], unique=False)

    op.create_table('learning_posts',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('author_id', sa.Integer(), nullable=False),
    sa.Column('project_id', sa.Integer(), nullable=True),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('body_html', sa.Text(), nullable=False),
    sa.Column('visibility', sa.Enum('public', 'members', name='post_visibility', native_enum=False, create_constraint=True), nullable=False),
    sa.Column('state', sa.Enum('visible', 'pending', 'hidden', name='post_state', native_enum=False, create_constraint=True), nullable=False),
    sa.Column('moderation_reason', sa.String(length=500), nullable=False),
    sa.Column('source_report_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('edited_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['author_id'], ['users.id'], name=op.f('fk_learning_posts_author_id_users'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['project_id'], ['projects.id'], name=op.f('fk_learning_posts_project_id_projects'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['source_report_id'], ['progress_reports.id'], name=op.f('fk_learning_posts_source_report_id_progress_reports'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_learning_posts')),
    sa.UniqueConstraint('source_report_id', name=op.f('uq_learning_posts_source_report_id'))
    )
    with op.batch_alter_table('learning_posts', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_learning_posts_author_id'), ['author_id'], unique=False)
        batch_op.create_index('ix_learning_posts_feed', ['state', 'visibility', 'created_at', 'id'], unique=False)
        batch_op.create_index(batch_op.f('ix_learning_posts_project_id'), ['project_id'], unique=False)

    op.create_table('learning_comments',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('post_id', sa.Integer(), nullable=False),
    sa.Column('author_id', sa.Integer(), nullable=False),
    sa.Column('parent_id', sa.Integer(), nullable=True),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('body_html', sa.Text(), nullable=False),
    sa.Column('state', sa.Enum('visible', 'hidden', name='comment_state', native_enum=False, create_constraint=True), nullable=False),
    sa.Column('moderation_reason', sa.String(length=500), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('edited_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('deleted_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['author_id'], ['users.id'], name=op.f('fk_learning_comments_author_id_users'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['parent_id'], ['learning_comments.id'], name=op.f('fk_learning_comments_parent_id_learning_comments'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['post_id'], ['learning_posts.id'], name=op.f('fk_learning_comments_post_id_learning_posts'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_learning_comments'))
    )
    with op.batch_alter_table('learning_comments', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_learning_comments_author_id'), ['author_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_learning_comments_parent_id'), ['parent_id'], unique=False)
        batch_op.create_index('ix_learning_comments_thread', ['post_id', 'parent_id', 'id'], unique=False)

    op.create_table('learning_post_tags',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('post_id', sa.Integer(), nullable=False),
    sa.Column('tag', sa.String(length=40), nullable=False),
    sa.ForeignKeyConstraint(['post_id'], ['learning_posts.id'], name=op.f('fk_learning_post_tags_post_id_learning_posts'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_learning_post_tags')),
    sa.UniqueConstraint('post_id', 'tag', name=op.f('uq_learning_post_tags_post_id_tag'))
    )
    with op.batch_alter_table('learning_post_tags', schema=None) as batch_op:
        batch_op.create_index('ix_learning_post_tags_tag', ['tag', 'post_id'], unique=False)

    op.create_table('flags',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('reporter_id', sa.Integer(), nullable=False),
    sa.Column('post_id', sa.Integer(), nullable=True),
    sa.Column('comment_id', sa.Integer(), nullable=True),
    sa.Column('reason', sa.Enum('spam', 'offensive', 'personal_information', 'other', name='flag_reason', native_enum=False, create_constraint=True), nullable=False),
    sa.Column('note', sa.String(length=500), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('resolved_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('resolved_by_id', sa.Integer(), nullable=True),
    sa.Column('outcome', sa.Enum('upheld', 'dismissed', name='flag_outcome', native_enum=False, create_constraint=True), nullable=True),
    sa.CheckConstraint('(post_id IS NULL) <> (comment_id IS NULL)', name=op.f('ck_flags_one_target')),
    sa.ForeignKeyConstraint(['comment_id'], ['learning_comments.id'], name=op.f('fk_flags_comment_id_learning_comments'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['post_id'], ['learning_posts.id'], name=op.f('fk_flags_post_id_learning_posts'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['reporter_id'], ['users.id'], name=op.f('fk_flags_reporter_id_users'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['resolved_by_id'], ['users.id'], name=op.f('fk_flags_resolved_by_id_users'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_flags')),
    sa.UniqueConstraint('reporter_id', 'comment_id', name=op.f('uq_flags_reporter_id_comment_id')),
    sa.UniqueConstraint('reporter_id', 'post_id', name=op.f('uq_flags_reporter_id_post_id'))
    )
    with op.batch_alter_table('flags', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_flags_comment_id'), ['comment_id'], unique=False)
        batch_op.create_index('ix_flags_open', ['resolved_at', 'id'], unique=False)
        batch_op.create_index(batch_op.f('ix_flags_post_id'), ['post_id'], unique=False)

    op.create_table('validations',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('post_id', sa.Integer(), nullable=True),
    sa.Column('comment_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint('(post_id IS NULL) <> (comment_id IS NULL)', name=op.f('ck_validations_one_target')),
    sa.ForeignKeyConstraint(['comment_id'], ['learning_comments.id'], name=op.f('fk_validations_comment_id_learning_comments'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['post_id'], ['learning_posts.id'], name=op.f('fk_validations_post_id_learning_posts'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_validations_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_validations')),
    sa.UniqueConstraint('user_id', 'comment_id', name=op.f('uq_validations_user_id_comment_id')),
    sa.UniqueConstraint('user_id', 'post_id', name=op.f('uq_validations_user_id_post_id'))
    )
    with op.batch_alter_table('validations', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_validations_comment_id'), ['comment_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_validations_post_id'), ['post_id'], unique=False)

    _create_full_text_index()


def downgrade():
    with op.batch_alter_table('validations', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_validations_post_id'))
        batch_op.drop_index(batch_op.f('ix_validations_comment_id'))

    op.drop_table('validations')
    with op.batch_alter_table('flags', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_flags_post_id'))
        batch_op.drop_index('ix_flags_open')
        batch_op.drop_index(batch_op.f('ix_flags_comment_id'))

    op.drop_table('flags')
    with op.batch_alter_table('learning_post_tags', schema=None) as batch_op:
        batch_op.drop_index('ix_learning_post_tags_tag')

    op.drop_table('learning_post_tags')
    with op.batch_alter_table('learning_comments', schema=None) as batch_op:
        batch_op.drop_index('ix_learning_comments_thread')
        batch_op.drop_index(batch_op.f('ix_learning_comments_parent_id'))
        batch_op.drop_index(batch_op.f('ix_learning_comments_author_id'))

    op.drop_table('learning_comments')
    with op.batch_alter_table('learning_posts', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_learning_posts_project_id'))
        batch_op.drop_index('ix_learning_posts_feed')
        batch_op.drop_index(batch_op.f('ix_learning_posts_author_id'))

    op.drop_table('learning_posts')
    with op.batch_alter_table('notifications', schema=None) as batch_op:
        batch_op.drop_index('ix_notifications_recipient_read')

    op.drop_table('notifications')
    op.drop_table('notification_settings')
    op.drop_table('moderation_settings')
    _drop_full_text_index()
    with op.batch_alter_table('search_documents', schema=None) as batch_op:
        batch_op.drop_index('ix_search_documents_audience_updated')

    op.drop_table('search_documents')

"""messaging: secure messaging (threads, messages, attachments, read state)

Revision ID: 0013_messaging
Revises: 0012_video
"""
from alembic import op
import sqlalchemy as sa
import engine.db


revision = '0013_messaging'
down_revision = '0012_video'
branch_labels = None
depends_on = None

TABLES = ("messaging_attachment", "messaging_read_state", "messaging_message",
          "messaging_thread", "messaging_preference")


def upgrade() -> None:
    op.create_table('messaging_preference',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('email_notifications', sa.Boolean(), nullable=False),
    sa.Column('updated_at', engine.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('brand_id', sa.String(length=63), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['identity_user.id'], name=op.f('fk_messaging_preference_user_id_identity_user'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_messaging_preference')),
    sa.UniqueConstraint('brand_id', 'user_id', name=op.f('uq_messaging_preference_brand_id_user_id'))
    )
    op.create_index(op.f('ix_messaging_preference_brand_id'), 'messaging_preference', ['brand_id'], unique=False)
    op.create_table('messaging_thread',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=12), nullable=False),
    sa.Column('patient_id', sa.Integer(), nullable=False),
    sa.Column('specialist_id', sa.Integer(), nullable=True),
    sa.Column('counterpart', sa.String(length=40), nullable=False),
    sa.Column('created_at', engine.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('last_message_at', engine.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('brand_id', sa.String(length=63), nullable=False),
    sa.CheckConstraint("(kind = 'specialist' AND specialist_id IS NOT NULL) OR (kind = 'care_team' AND specialist_id IS NULL)", name=op.f('ck_messaging_thread_counterpart')),
    sa.CheckConstraint("kind IN ('specialist','care_team')", name=op.f('ck_messaging_thread_kind')),
    sa.ForeignKeyConstraint(['patient_id'], ['identity_user.id'], name=op.f('fk_messaging_thread_patient_id_identity_user'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['specialist_id'], ['identity_user.id'], name=op.f('fk_messaging_thread_specialist_id_identity_user'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_messaging_thread')),
    sa.UniqueConstraint('brand_id', 'patient_id', 'counterpart', name=op.f('uq_messaging_thread_brand_id_patient_id_counterpart'))
    )
    op.create_index(op.f('ix_messaging_thread_brand_id'), 'messaging_thread', ['brand_id'], unique=False)
    op.create_index(op.f('ix_messaging_thread_patient_id'), 'messaging_thread', ['patient_id'], unique=False)
    op.create_index('ix_messaging_thread_specialist', 'messaging_thread', ['specialist_id', 'brand_id'], unique=False)
    op.create_table('messaging_message',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('thread_id', sa.Integer(), nullable=False),
    sa.Column('sender_id', sa.Integer(), nullable=True),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('created_at', engine.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('seal', sa.String(length=32), nullable=False),
    sa.Column('brand_id', sa.String(length=63), nullable=False),
    sa.ForeignKeyConstraint(['sender_id'], ['identity_user.id'], name=op.f('fk_messaging_message_sender_id_identity_user'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['thread_id'], ['messaging_thread.id'], name=op.f('fk_messaging_message_thread_id_messaging_thread'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_messaging_message'))
    )
    op.create_index(op.f('ix_messaging_message_brand_id'), 'messaging_message', ['brand_id'], unique=False)
    op.create_index(op.f('ix_messaging_message_created_at'), 'messaging_message', ['created_at'], unique=False)
    op.create_index(op.f('ix_messaging_message_sender_id'), 'messaging_message', ['sender_id'], unique=False)
    op.create_index('ix_messaging_message_thread', 'messaging_message', ['thread_id', 'id'], unique=False)
    op.create_table('messaging_read_state',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('thread_id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('last_read_message_id', sa.Integer(), nullable=False),
    sa.Column('read_at', engine.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('brand_id', sa.String(length=63), nullable=False),
    sa.ForeignKeyConstraint(['thread_id'], ['messaging_thread.id'], name=op.f('fk_messaging_read_state_thread_id_messaging_thread'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['identity_user.id'], name=op.f('fk_messaging_read_state_user_id_identity_user'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_messaging_read_state')),
    sa.UniqueConstraint('thread_id', 'user_id', name=op.f('uq_messaging_read_state_thread_id_user_id'))
    )
    op.create_index(op.f('ix_messaging_read_state_brand_id'), 'messaging_read_state', ['brand_id'], unique=False)
    op.create_index(op.f('ix_messaging_read_state_user_id'), 'messaging_read_state', ['user_id'], unique=False)
    op.create_table('messaging_attachment',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('message_id', sa.Integer(), nullable=False),
    sa.Column('uploader_id', sa.Integer(), nullable=True),
    sa.Column('filename', sa.String(length=200), nullable=False),
    sa.Column('kind', sa.String(length=10), nullable=False),
    sa.Column('content_type', sa.String(length=100), nullable=False),
    sa.Column('size_bytes', sa.Integer(), nullable=False),
    sa.Column('storage_name', sa.String(length=64), nullable=False),
    sa.Column('key_id', sa.String(length=8), nullable=False),
    sa.Column('created_at', engine.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('seal', sa.String(length=32), nullable=False),
    sa.Column('brand_id', sa.String(length=63), nullable=False),
    sa.CheckConstraint('size_bytes >= 0', name=op.f('ck_messaging_attachment_size_not_negative')),
    sa.ForeignKeyConstraint(['message_id'], ['messaging_message.id'], name=op.f('fk_messaging_attachment_message_id_messaging_message'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['uploader_id'], ['identity_user.id'], name=op.f('fk_messaging_attachment_uploader_id_identity_user'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_messaging_attachment')),
    sa.UniqueConstraint('storage_name', name=op.f('uq_messaging_attachment_storage_name'))
    )
    op.create_index(op.f('ix_messaging_attachment_brand_id'), 'messaging_attachment', ['brand_id'], unique=False)
    op.create_index(op.f('ix_messaging_attachment_key_id'), 'messaging_attachment', ['key_id'], unique=False)
    op.create_index(op.f('ix_messaging_attachment_message_id'), 'messaging_attachment', ['message_id'], unique=False)
    op.create_index(op.f('ix_messaging_attachment_uploader_id'), 'messaging_attachment', ['uploader_id'], unique=False)


def downgrade() -> None:
    # indexes go with their tables; children before parents
    for table in TABLES:
        op.drop_table(table)

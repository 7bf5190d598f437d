"""privacy: privacy (consent records, legal holds, exports, deletion requests, retention runs)

Revision ID: 0018_privacy
Revises: 0017_audit
"""
from alembic import op
import sqlalchemy as sa

from engine.db import UTCDateTime

revision = '0018_privacy'
down_revision = '0017_audit'
branch_labels = None
depends_on = None


def _fk(table: str, column: str, ondelete: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint([column], ['identity_user.id'], ondelete=ondelete,
                                   name=f'fk_{table}_{column}_identity_user')


def upgrade() -> None:
    op.create_table(
        'privacy_consent_document',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('key', sa.String(length=63), nullable=False),
        sa.Column('version', sa.Integer(), nullable=False),
        sa.Column('locale', sa.String(length=8), nullable=False),
        sa.Column('type', sa.String(length=20), nullable=False),
        sa.Column('sha256', sa.String(length=64), nullable=False),
        sa.Column('published_at', UTCDateTime(), nullable=False),
        sa.Column('brand_id', sa.String(length=63), nullable=False),
        sa.PrimaryKeyConstraint('id', name='pk_privacy_consent_document'),
        sa.UniqueConstraint('brand_id', 'key', 'version', 'locale',
                            name='uq_privacy_consent_document_brand_id_key_version_locale'),
    )
    op.create_index('ix_privacy_consent_document_brand_id', 'privacy_consent_document',
                    ['brand_id'])

    t = 'privacy_consent_record'
    op.create_table(
        t,
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('user_id', sa.Integer(), nullable=False),
        sa.Column('document_key', sa.String(length=63), nullable=False),
        sa.Column('version', sa.Integer(), nullable=False),
        sa.Column('granted', sa.Boolean(), nullable=False),
        sa.Column('method', sa.String(length=10), nullable=False),
        sa.Column('recorded_at', UTCDateTime(), nullable=False),
        sa.Column('brand_id', sa.String(length=63), nullable=False),
        sa.CheckConstraint("method IN ('web','signup','api')", name=f'ck_{t}_method'),
        _fk(t, 'user_id', 'CASCADE'),
        sa.PrimaryKeyConstraint('id', name=f'pk_{t}'),
    )
    op.create_index(f'ix_{t}_brand_id', t, ['brand_id'])
    op.create_index(f'ix_{t}_user_key', t, ['user_id', 'document_key', 'id'])

    t = 'privacy_legal_hold'
    op.create_table(
        t,
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('user_id', sa.Integer(), nullable=True),
        sa.Column('reason', sa.String(length=500), nullable=False),
        sa.Column('placed_by_id', sa.Integer(), nullable=True),
        sa.Column('placed_at', UTCDateTime(), nullable=False),
        sa.Column('released_at', UTCDateTime(), nullable=True),
        sa.Column('released_by_id', sa.Integer(), nullable=True),
        sa.Column('brand_id', sa.String(length=63), nullable=False),
        sa.CheckConstraint('length(reason) > 0', name=f'ck_{t}_reason'),
        _fk(t, 'user_id', 'RESTRICT'),
        _fk(t, 'placed_by_id', 'SET NULL'),
        _fk(t, 'released_by_id', 'SET NULL'),
        sa.PrimaryKeyConstraint('id', name=f'pk_{t}'),
    )
    op.create_index(f'ix_{t}_brand_id', t, ['brand_id'])
    op.create_index(f'ix_{t}_user_id', t, ['user_id'])

    t = 'privacy_export'
    op.create_table(
        t,
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('user_id', sa.Integer(), nullable=False),
        sa.Column('status', sa.String(length=10), nullable=False),
        sa.Column('file_name', sa.String(length=80), nullable=True),
        sa.Column('sha256', sa.String(length=64), nullable=True),
        sa.Column('size_bytes', sa.Integer(), nullable=True),
        sa.Column('link_hash', sa.String(length=64), nullable=True),
        sa.Column('link_expires_at', UTCDateTime(), nullable=True),
        sa.Column('requested_at', UTCDateTime(), nullable=False),
        sa.Column('ready_at', UTCDateTime(), nullable=True),
        sa.Column('expires_at', UTCDateTime(), nullable=True),
        sa.Column('downloaded_at', UTCDateTime(), nullable=True),
        sa.Column('error', sa.String(length=200), nullable=True),
        sa.Column('brand_id', sa.String(length=63), nullable=False),
        sa.CheckConstraint("status IN ('pending','ready','failed','expired')",
                           name=f'ck_{t}_status'),
        _fk(t, 'user_id', 'CASCADE'),
        sa.PrimaryKeyConstraint('id', name=f'pk_{t}'),
        sa.UniqueConstraint('link_hash', name=f'uq_{t}_link_hash'),
    )
    op.create_index(f'ix_{t}_brand_id', t, ['brand_id'])
    op.create_index(f'ix_{t}_user_id', t, ['user_id'])

    t = 'privacy_deletion_request'
    op.create_table(
        t,
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('user_id', sa.Integer(), nullable=False),
        sa.Column('scope', sa.String(length=12), nullable=False),
        sa.Column('status', sa.String(length=10), nullable=False),
        sa.Column('confirm_hash', sa.String(length=64), nullable=True),
        sa.Column('requested_at', UTCDateTime(), nullable=False),
        sa.Column('confirmed_at', UTCDateTime(), nullable=True),
        sa.Column('execute_after', UTCDateTime(), nullable=True),
        sa.Column('executed_at', UTCDateTime(), nullable=True),
        sa.Column('cancelled_at', UTCDateTime(), nullable=True),
        sa.Column('result', sa.JSON(), nullable=True),
        sa.Column('brand_id', sa.String(length=63), nullable=False),
        sa.CheckConstraint("scope IN ('all','messages','marketing')", name=f'ck_{t}_scope'),
        sa.CheckConstraint("status IN ('requested','scheduled','cancelled','executed')",
                           name=f'ck_{t}_status'),
        _fk(t, 'user_id', 'CASCADE'),
        sa.PrimaryKeyConstraint('id', name=f'pk_{t}'),
        sa.UniqueConstraint('confirm_hash', name=f'uq_{t}_confirm_hash'),
    )
    op.create_index(f'ix_{t}_brand_id', t, ['brand_id'])
    op.create_index(f'ix_{t}_user_id', t, ['user_id'])
    op.create_index(f'ix_{t}_due', t, ['status', 'execute_after'])


def downgrade() -> None:
    for t in ('privacy_deletion_request', 'privacy_export', 'privacy_legal_hold',
              'privacy_consent_record', 'privacy_consent_document'):
        op.drop_table(t)

"""api: per-user API tokens (only a hash of each token is stored), scoped to one brand.

Revision ID: 4758ef9dfae5
Revises: fec579e62ff7
Create Date: 2026-11-25 22:13:59.079543
"""
from alembic import op
import sqlalchemy as sa
import engine.db


revision = '4758ef9dfae5'
down_revision = 'fec579e62ff7'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('api_token',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=80), nullable=False),
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('prefix', sa.String(length=12), nullable=False),
    sa.Column('created_at', engine.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('expires_at', engine.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('last_used_at', engine.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('revoked_at', engine.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('brand_id', sa.String(length=63), nullable=False),
    sa.CheckConstraint('expires_at > created_at', name=op.f('ck_api_token_expires_after_creation')),
    sa.CheckConstraint('length(token_hash) = 64', name=op.f('ck_api_token_token_hash')),
    sa.ForeignKeyConstraint(['user_id'], ['identity_user.id'], name=op.f('fk_api_token_user_id_identity_user'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_api_token')),
    sa.UniqueConstraint('token_hash', name=op.f('uq_api_token_token_hash'))
    )
    with op.batch_alter_table('api_token', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_api_token_brand_id'), ['brand_id'], unique=False)
        batch_op.create_index('ix_api_token_user_brand', ['user_id', 'brand_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('api_token', schema=None) as batch_op:
        batch_op.drop_index('ix_api_token_user_brand')
        batch_op.drop_index(batch_op.f('ix_api_token_brand_id'))

    op.drop_table('api_token')

"""identity sign-in throttle

Revision ID: 53de7deaac91
Revises: 439fe5dc8547
Create Date: 2026-11-25 21:39:32.027543
"""
from alembic import op
import sqlalchemy as sa
import engine.db


revision = '53de7deaac91'
down_revision = '439fe5dc8547'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('identity_sign_in_throttle',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('scope', sa.String(length=10), nullable=False),
    sa.Column('key_hash', sa.String(length=64), nullable=False),
    sa.Column('failures', sa.Integer(), nullable=False),
    sa.Column('window_started_at', engine.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('locked_until', engine.db.UTCDateTime(timezone=True), nullable=True),
    sa.CheckConstraint("scope IN ('account','ip')", name=op.f('ck_identity_sign_in_throttle_scope')),
    sa.CheckConstraint('failures >= 0', name=op.f('ck_identity_sign_in_throttle_failures_not_negative')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_identity_sign_in_throttle')),
    sa.UniqueConstraint('key_hash', name=op.f('uq_identity_sign_in_throttle_key_hash'))
    )


def downgrade() -> None:
    op.drop_table('identity_sign_in_throttle')

"""security: security hardening (TOTP second factor, session timeouts)

Revision ID: 0019_security
Revises: 0018_privacy
"""
from alembic import op
import sqlalchemy as sa
import engine.db


revision = '0019_security'
down_revision = '0018_privacy'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('identity_second_factor',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('secret', sa.Text(), nullable=False),
    sa.Column('confirmed_at', engine.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('last_step', sa.Integer(), nullable=True),
    sa.Column('created_at', engine.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('seal', sa.String(length=32), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['identity_user.id'], name=op.f('fk_identity_second_factor_user_id_identity_user'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_identity_second_factor')),
    sa.UniqueConstraint('user_id', name=op.f('uq_identity_second_factor_user_id'))
    )
    op.create_table('identity_recovery_code',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('code_hash', sa.String(length=255), nullable=False),
    sa.Column('used_at', engine.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('created_at', engine.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['identity_user.id'], name=op.f('fk_identity_recovery_code_user_id_identity_user'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_identity_recovery_code'))
    )
    op.create_index(op.f('ix_identity_recovery_code_user_id'), 'identity_recovery_code', ['user_id'], unique=False)
    with op.batch_alter_table('identity_sign_in_throttle') as batch:
        batch.add_column(sa.Column('lockouts', sa.Integer(), server_default='0', nullable=False))


def downgrade() -> None:
    with op.batch_alter_table('identity_sign_in_throttle') as batch:
        batch.drop_column('lockouts')
    op.drop_index(op.f('ix_identity_recovery_code_user_id'), table_name='identity_recovery_code')
    op.drop_table('identity_recovery_code')
    op.drop_table('identity_second_factor')

"""payments_stripe: payments via Stripe (connected accounts, webhook events)

Revision ID: 0015_payments_stripe
Revises: 0014_payments
"""
from alembic import op
import sqlalchemy as sa
import engine.db


revision = '0015_payments_stripe'
down_revision = '0014_payments'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('payments_stripe_account',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('specialist_id', sa.Integer(), nullable=False),
    sa.Column('account_id', sa.String(length=64), nullable=False),
    sa.Column('status', sa.String(length=12), nullable=False),
    sa.Column('charges_enabled', sa.Boolean(), nullable=False),
    sa.Column('payouts_enabled', sa.Boolean(), nullable=False),
    sa.Column('details_submitted', sa.Boolean(), nullable=False),
    sa.Column('merchant_of_record', sa.Boolean(), nullable=False),
    sa.Column('requirements_due', sa.String(length=2000), nullable=False),
    sa.Column('status_as_of', sa.Integer(), nullable=False),
    sa.Column('created_at', engine.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', engine.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('brand_id', sa.String(length=63), nullable=False),
    sa.CheckConstraint("status IN ('pending','restricted','enabled','rejected')",
                       name=op.f('ck_payments_stripe_account_status')),
    sa.ForeignKeyConstraint(['specialist_id'], ['identity_user.id'],
                            name=op.f('fk_payments_stripe_account_specialist_id_identity_user'),
                            ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_payments_stripe_account')),
    sa.UniqueConstraint('account_id', name=op.f('uq_payments_stripe_account_account_id')),
    sa.UniqueConstraint('brand_id', 'specialist_id',
                        name=op.f('uq_payments_stripe_account_brand_id_specialist_id'))
    )
    with op.batch_alter_table('payments_stripe_account', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_payments_stripe_account_brand_id'), ['brand_id'],
                              unique=False)

    op.create_table('payments_stripe_event',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('event_id', sa.String(length=255), nullable=False),
    sa.Column('type', sa.String(length=80), nullable=False),
    sa.Column('account_id', sa.String(length=64), nullable=True),
    sa.Column('object_id', sa.String(length=255), nullable=True),
    sa.Column('outcome', sa.String(length=10), nullable=False),
    sa.Column('event_created_at', engine.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('processed_at', engine.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('brand_id', sa.String(length=63), nullable=False),
    sa.CheckConstraint("outcome IN ('processed','ignored')",
                       name=op.f('ck_payments_stripe_event_outcome')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_payments_stripe_event')),
    sa.UniqueConstraint('event_id', name=op.f('uq_payments_stripe_event_event_id'))
    )
    with op.batch_alter_table('payments_stripe_event', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_payments_stripe_event_brand_id'), ['brand_id'],
                              unique=False)


def downgrade() -> None:
    with op.batch_alter_table('payments_stripe_event', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_payments_stripe_event_brand_id'))
    op.drop_table('payments_stripe_event')
    with op.batch_alter_table('payments_stripe_account', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_payments_stripe_account_brand_id'))
    op.drop_table('payments_stripe_account')

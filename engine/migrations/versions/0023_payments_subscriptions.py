"""payments subscriptions: each patient's Stripe subscription as its webhook events describe it

Revision ID: 0023_payments_subscriptions
Revises: 0022_audit_key_ids
"""
import sqlalchemy as sa
from alembic import op

from engine.db import UTCDateTime

revision = '0023_payments_subscriptions'
down_revision = '0022_audit_key_ids'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'payments_subscription',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('patient_id', sa.Integer(), nullable=False),
        sa.Column('plan_key', sa.String(length=63), nullable=False),
        sa.Column('subscription_id', sa.String(length=255), nullable=False),
        sa.Column('account_id', sa.String(length=64), nullable=True),
        sa.Column('status', sa.String(length=40), nullable=False),
        sa.Column('current_period_end', UTCDateTime(), nullable=True),
        sa.Column('cancel_at_period_end', sa.Boolean(), nullable=False),
        sa.Column('ended_at', UTCDateTime(), nullable=True),
        sa.Column('cancel_requested_at', UTCDateTime(), nullable=True),
        sa.Column('last_event_at', UTCDateTime(), nullable=False),
        sa.Column('created_at', UTCDateTime(), nullable=False),
        sa.Column('updated_at', UTCDateTime(), nullable=False),
        sa.Column('brand_id', sa.String(length=63), nullable=False),
        sa.ForeignKeyConstraint(['patient_id'], ['identity_user.id'],
                                name=op.f('fk_payments_subscription_patient_id_identity_user'),
                                ondelete='RESTRICT'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_payments_subscription')),
        sa.UniqueConstraint('brand_id', 'subscription_id',
                            name=op.f('uq_payments_subscription_brand_id_subscription_id')),
    )
    op.create_index(op.f('ix_payments_subscription_brand_id'), 'payments_subscription',
                    ['brand_id'], unique=False)
    op.create_index(op.f('ix_payments_subscription_patient_id'), 'payments_subscription',
                    ['patient_id'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_payments_subscription_patient_id'),
                  table_name='payments_subscription')
    op.drop_index(op.f('ix_payments_subscription_brand_id'), table_name='payments_subscription')
    op.drop_table('payments_subscription')

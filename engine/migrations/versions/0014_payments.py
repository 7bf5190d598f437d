"""payments: payments (pricing applications, payments, ledger, packages, subscriptions, sponsorship usage)

Revision ID: 0014_payments
Revises: 0013_messaging
"""
from alembic import op
import sqlalchemy as sa

import engine.db


revision = '0014_payments'
down_revision = '0013_messaging'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('payments_credit',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('patient_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=12), nullable=False),
    sa.Column('offer_key', sa.String(length=63), nullable=False),
    sa.Column('sessions_total', sa.Integer(), nullable=False),
    sa.Column('sessions_used', sa.Integer(), nullable=False),
    sa.Column('starts_at', engine.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('expires_at', engine.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('source_key', sa.String(length=120), nullable=False),
    sa.Column('created_at', engine.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('brand_id', sa.String(length=63), nullable=False),
    sa.CheckConstraint("kind IN ('package','subscription')", name=op.f('ck_payments_credit_kind')),
    sa.CheckConstraint('sessions_total >= 1 AND sessions_used >= 0 AND sessions_used <= sessions_total', name=op.f('ck_payments_credit_sessions')),
    sa.CheckConstraint('starts_at < expires_at', name=op.f('ck_payments_credit_period')),
    sa.ForeignKeyConstraint(['patient_id'], ['identity_user.id'], name=op.f('fk_payments_credit_patient_id_identity_user'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_payments_credit')),
    sa.UniqueConstraint('source_key', name=op.f('uq_payments_credit_source_key'))
    )
    op.create_index(op.f('ix_payments_credit_brand_id'), 'payments_credit', ['brand_id'], unique=False)
    op.create_index('ix_payments_credit_patient', 'payments_credit', ['patient_id', 'expires_at'], unique=False)
    op.create_table('payments_sponsored_usage',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('organization', sa.String(length=63), nullable=False),
    sa.Column('patient_id', sa.Integer(), nullable=False),
    sa.Column('year', sa.Integer(), nullable=False),
    sa.Column('used', sa.Integer(), nullable=False),
    sa.Column('brand_id', sa.String(length=63), nullable=False),
    sa.CheckConstraint('used >= 0', name=op.f('ck_payments_sponsored_usage_used_not_negative')),
    sa.ForeignKeyConstraint(['patient_id'], ['identity_user.id'], name=op.f('fk_payments_sponsored_usage_patient_id_identity_user'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_payments_sponsored_usage')),
    sa.UniqueConstraint('brand_id', 'organization', 'patient_id', 'year', name=op.f('uq_payments_sponsored_usage_brand_id_organization_patient_id_year'))
    )
    op.create_index(op.f('ix_payments_sponsored_usage_brand_id'), 'payments_sponsored_usage', ['brand_id'], unique=False)
    op.create_table('payments_payment',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('purpose', sa.String(length=12), nullable=False),
    sa.Column('appointment_id', sa.Integer(), nullable=True),
    sa.Column('patient_id', sa.Integer(), nullable=False),
    sa.Column('specialist_id', sa.Integer(), nullable=True),
    sa.Column('payer', sa.String(length=12), nullable=False),
    sa.Column('organization', sa.String(length=63), nullable=True),
    sa.Column('amount_minor', sa.Integer(), nullable=False),
    sa.Column('list_price_minor', sa.Integer(), nullable=False),
    sa.Column('platform_fee_minor', sa.Integer(), nullable=False),
    sa.Column('refunded_minor', sa.Integer(), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('pricing_rule', sa.String(length=24), nullable=False),
    sa.Column('offer_key', sa.String(length=63), nullable=True),
    sa.Column('credit_id', sa.Integer(), nullable=True),
    sa.Column('provider', sa.String(length=10), nullable=False),
    sa.Column('provider_mode', sa.String(length=10), nullable=True),
    sa.Column('provider_account', sa.String(length=64), nullable=True),
    sa.Column('checkout_session_id', sa.String(length=255), nullable=True),
    sa.Column('payment_intent_id', sa.String(length=255), nullable=True),
    sa.Column('charge_id', sa.String(length=255), nullable=True),
    sa.Column('idempotency_key', sa.String(length=64), nullable=False),
    sa.Column('hold_expires_at', engine.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('paid_at', engine.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('restricted_at', engine.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('created_at', engine.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', engine.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('brand_id', sa.String(length=63), nullable=False),
    sa.CheckConstraint("(purpose = 'appointment') = (appointment_id IS NOT NULL)", name=op.f('ck_payments_payment_appointment_purpose')),
    sa.CheckConstraint("payer = 'patient' OR organization IS NOT NULL", name=op.f('ck_payments_payment_org_payer')),
    sa.CheckConstraint("payer IN ('patient','organization')", name=op.f('ck_payments_payment_payer')),
    sa.CheckConstraint("pricing_rule IN ('fixed','specialist_defined','first_session','sponsored','member_price','package','subscription','package_purchase','subscription_purchase')", name=op.f('ck_payments_payment_pricing_rule')),
    sa.CheckConstraint("provider IN ('manual','stripe','none')", name=op.f('ck_payments_payment_provider')),
    sa.CheckConstraint("purpose IN ('appointment','package','subscription')", name=op.f('ck_payments_payment_purpose')),
    sa.CheckConstraint("status IN ('pending','held','paid','refunded','partially_refunded','disputed','failed','expired','cancelled')", name=op.f('ck_payments_payment_status')),
    sa.CheckConstraint('amount_minor >= 0 AND list_price_minor >= 0', name=op.f('ck_payments_payment_amounts')),
    sa.CheckConstraint('length(currency) = 3', name=op.f('ck_payments_payment_currency')),
    sa.CheckConstraint('platform_fee_minor >= 0 AND platform_fee_minor <= amount_minor', name=op.f('ck_payments_payment_fee')),
    sa.CheckConstraint('refunded_minor >= 0 AND refunded_minor <= amount_minor', name=op.f('ck_payments_payment_refunded')),
    sa.ForeignKeyConstraint(['appointment_id'], ['booking_appointment.id'], name=op.f('fk_payments_payment_appointment_id_booking_appointment'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['credit_id'], ['payments_credit.id'], name=op.f('fk_payments_payment_credit_id_payments_credit'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['patient_id'], ['identity_user.id'], name=op.f('fk_payments_payment_patient_id_identity_user'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['specialist_id'], ['identity_user.id'], name=op.f('fk_payments_payment_specialist_id_identity_user'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_payments_payment')),
    sa.UniqueConstraint('appointment_id', name=op.f('uq_payments_payment_appointment_id')),
    sa.UniqueConstraint('checkout_session_id', name=op.f('uq_payments_payment_checkout_session_id')),
    sa.UniqueConstraint('idempotency_key', name=op.f('uq_payments_payment_idempotency_key')),
    sa.UniqueConstraint('payment_intent_id', name=op.f('uq_payments_payment_payment_intent_id'))
    )
    op.create_index('ix_payments_payment_brand_created', 'payments_payment', ['brand_id', 'created_at'], unique=False)
    op.create_index(op.f('ix_payments_payment_brand_id'), 'payments_payment', ['brand_id'], unique=False)
    op.create_index(op.f('ix_payments_payment_patient_id'), 'payments_payment', ['patient_id'], unique=False)
    op.create_index(op.f('ix_payments_payment_specialist_id'), 'payments_payment', ['specialist_id'], unique=False)
    op.create_index('ix_payments_payment_status_hold', 'payments_payment', ['status', 'hold_expires_at'], unique=False)
    op.create_table('payments_promotion_use',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('patient_id', sa.Integer(), nullable=False),
    sa.Column('appointment_id', sa.Integer(), nullable=False),
    sa.Column('created_at', engine.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('brand_id', sa.String(length=63), nullable=False),
    sa.ForeignKeyConstraint(['appointment_id'], ['booking_appointment.id'], name=op.f('fk_payments_promotion_use_appointment_id_booking_appointment'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['patient_id'], ['identity_user.id'], name=op.f('fk_payments_promotion_use_patient_id_identity_user'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_payments_promotion_use')),
    sa.UniqueConstraint('appointment_id', name=op.f('uq_payments_promotion_use_appointment_id')),
    sa.UniqueConstraint('brand_id', 'patient_id', name=op.f('uq_payments_promotion_use_brand_id_patient_id'))
    )
    op.create_index(op.f('ix_payments_promotion_use_brand_id'), 'payments_promotion_use', ['brand_id'], unique=False)
    op.create_table('payments_ledger_entry',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('payment_id', sa.Integer(), nullable=True),
    sa.Column('transaction_key', sa.String(length=120), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('account_type', sa.String(length=12), nullable=False),
    sa.Column('account_id', sa.String(length=80), nullable=False),
    sa.Column('amount_minor', sa.Integer(), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('created_at', engine.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('brand_id', sa.String(length=63), nullable=False),
    sa.CheckConstraint("account_type IN ('brand','platform','specialist','organization','patient','external')", name=op.f('ck_payments_ledger_entry_account_type')),
    sa.CheckConstraint("kind IN ('charge','platform_fee','specialist_share','refund','dispute','payout','sponsored')", name=op.f('ck_payments_ledger_entry_kind')),
    sa.CheckConstraint('amount_minor <> 0', name=op.f('ck_payments_ledger_entry_amount_not_zero')),
    sa.CheckConstraint('length(currency) = 3', name=op.f('ck_payments_ledger_entry_currency')),
    sa.ForeignKeyConstraint(['payment_id'], ['payments_payment.id'], name=op.f('fk_payments_ledger_entry_payment_id_payments_payment'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_payments_ledger_entry')),
    sa.UniqueConstraint('transaction_key', 'kind', 'account_type', 'account_id', name='uq_payments_ledger_entry_movement')
    )
    op.create_index('ix_payments_ledger_entry_account', 'payments_ledger_entry', ['account_type', 'account_id'], unique=False)
    op.create_index('ix_payments_ledger_entry_brand_created', 'payments_ledger_entry', ['brand_id', 'created_at'], unique=False)
    op.create_index(op.f('ix_payments_ledger_entry_brand_id'), 'payments_ledger_entry', ['brand_id'], unique=False)
    op.create_index(op.f('ix_payments_ledger_entry_payment_id'), 'payments_ledger_entry', ['payment_id'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_payments_ledger_entry_payment_id'), table_name='payments_ledger_entry')
    op.drop_index(op.f('ix_payments_ledger_entry_brand_id'), table_name='payments_ledger_entry')
    op.drop_index('ix_payments_ledger_entry_brand_created', table_name='payments_ledger_entry')
    op.drop_index('ix_payments_ledger_entry_account', table_name='payments_ledger_entry')
    op.drop_index(op.f('ix_payments_promotion_use_brand_id'), table_name='payments_promotion_use')
    op.drop_index('ix_payments_payment_status_hold', table_name='payments_payment')
    op.drop_index(op.f('ix_payments_payment_specialist_id'), table_name='payments_payment')
    op.drop_index(op.f('ix_payments_payment_patient_id'), table_name='payments_payment')
    op.drop_index(op.f('ix_payments_payment_brand_id'), table_name='payments_payment')
    op.drop_index('ix_payments_payment_brand_created', table_name='payments_payment')
    op.drop_index(op.f('ix_payments_sponsored_usage_brand_id'), table_name='payments_sponsored_usage')
    op.drop_index('ix_payments_credit_patient', table_name='payments_credit')
    op.drop_index(op.f('ix_payments_credit_brand_id'), table_name='payments_credit')
    op.drop_table('payments_ledger_entry')
    op.drop_table('payments_promotion_use')
    op.drop_table('payments_payment')
    op.drop_table('payments_sponsored_usage')
    op.drop_table('payments_credit')

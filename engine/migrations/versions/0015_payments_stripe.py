"""payments_stripe: payments via Stripe (connected accounts, webhook events)

Revision ID: 0015_payments_stripe
Revises: 0014_payments
"""
from alembic import op
import sqlalchemy as sa


revision = '0015_payments_stripe'
down_revision = '0014_payments'
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass

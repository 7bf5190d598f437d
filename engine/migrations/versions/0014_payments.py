"""payments: payments (pricing applications, payments, ledger, packages, subscriptions, sponsorship usage)

Revision ID: 0014_payments
Revises: 0013_messaging
"""
from alembic import op
import sqlalchemy as sa


revision = '0014_payments'
down_revision = '0013_messaging'
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass

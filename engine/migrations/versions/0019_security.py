"""security: security hardening (TOTP second factor, session timeouts)

Revision ID: 0019_security
Revises: 0018_privacy
"""
from alembic import op
import sqlalchemy as sa


revision = '0019_security'
down_revision = '0018_privacy'
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass

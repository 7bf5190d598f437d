"""privacy: privacy (consent records, legal holds, exports, deletion requests, retention runs)

Revision ID: 0018_privacy
Revises: 0017_audit
"""
from alembic import op
import sqlalchemy as sa


revision = '0018_privacy'
down_revision = '0017_audit'
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass

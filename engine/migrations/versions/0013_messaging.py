"""messaging: secure messaging (threads, messages, attachments, read state)

Revision ID: 0013_messaging
Revises: 0012_video
"""
from alembic import op
import sqlalchemy as sa


revision = '0013_messaging'
down_revision = '0012_video'
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass

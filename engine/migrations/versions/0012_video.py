"""video: video visits (visits, participants, events)

Revision ID: 0012_video
Revises: 34ded83715b0
"""
from alembic import op
import sqlalchemy as sa


revision = '0012_video'
down_revision = '34ded83715b0'
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass

"""identity: a user's mobile phone number (E.164) for SMS reminders

Revision ID: 34ded83715b0
Revises: 9a51c0ad7e10
Create Date: 2026-11-25 22:44:29.611329
"""
from alembic import op
import sqlalchemy as sa


revision = '34ded83715b0'
down_revision = '9a51c0ad7e10'
branch_labels = None
depends_on = None


# Plain ALTER TABLE (no batch copy): on SQLite a batch copy of identity_user would drop the
# table, and with foreign keys on its implicit DELETE would cascade into every table that
# references users. SQLite adds and (since 3.35) drops a column in place.


def upgrade() -> None:
    op.add_column('identity_user', sa.Column('phone', sa.String(length=32), nullable=True))


def downgrade() -> None:
    op.drop_column('identity_user', 'phone')

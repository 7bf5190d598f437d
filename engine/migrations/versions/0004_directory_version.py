"""directory version: one row whose token changes with every write that changes a directory
page (modules/directory/versioning.py); the row is created by the first such write.

Revision ID: 60478cb0932a
Revises: 4a27f2cc48bd
Create Date: 2026-11-25 22:04:18.841939
"""
from alembic import op
import sqlalchemy as sa
import engine.db


revision = '60478cb0932a'
down_revision = '4a27f2cc48bd'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('directory_version',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('token', sa.String(length=32), nullable=False),
    sa.Column('changed_at', engine.db.UTCDateTime(timezone=True), nullable=False),
    sa.CheckConstraint('id = 1', name=op.f('ck_directory_version_one_row')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_directory_version'))
    )


def downgrade() -> None:
    op.drop_table('directory_version')

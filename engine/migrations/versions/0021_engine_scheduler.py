"""engine scheduler: the last claimed period of each periodic job (engine/scheduler.py)

Revision ID: 0021_engine_scheduler
Revises: 0020_booking_slots_token
"""
from alembic import op
import sqlalchemy as sa

from engine.db import UTCDateTime

revision = '0021_engine_scheduler'
down_revision = '0020_booking_slots_token'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'scheduler_periodic_run',
        sa.Column('name', sa.String(length=100), nullable=False),
        sa.Column('period_start', UTCDateTime(), nullable=True),
        sa.Column('started_at', UTCDateTime(), nullable=True),
        sa.Column('finished_at', UTCDateTime(), nullable=True),
        sa.Column('outcome', sa.String(length=12), nullable=True),
        sa.Column('detail', sa.String(length=200), nullable=True),
        sa.Column('runner', sa.String(length=100), nullable=True),
        sa.CheckConstraint("outcome IN ('running','ok','failed','queued','interrupted')",
                           name=op.f('ck_scheduler_periodic_run_outcome')),
        sa.PrimaryKeyConstraint('name', name=op.f('pk_scheduler_periodic_run')),
    )


def downgrade() -> None:
    op.drop_table('scheduler_periodic_run')

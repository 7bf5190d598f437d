"""booking: a per-calendar slots token and a platform-wide epoch, the keys of the cached next
free slots of directory pages (modules/booking/slot_cache.py)

Revision ID: 0020_booking_slots_token
Revises: 0019_security
"""
from alembic import op
import sqlalchemy as sa


revision = '0020_booking_slots_token'
down_revision = '0019_security'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # plain ADD COLUMN (no batch copy of a table others reference, as 0011 explains)
    op.add_column('booking_calendar', sa.Column('slots_token', sa.String(length=32),
                                                server_default=sa.text("''"), nullable=False))
    op.create_table('booking_slots_epoch',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('token', sa.String(length=32), nullable=False),
    sa.CheckConstraint('id = 1', name=op.f('ck_booking_slots_epoch_one_row')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_booking_slots_epoch'))
    )


def downgrade() -> None:
    op.drop_table('booking_slots_epoch')
    op.drop_column('booking_calendar', 'slots_token')

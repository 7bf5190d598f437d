"""reminders: the sent-reminders ledger and the SMS outbox

Revision ID: b4c1e2d3a5f6
Revises: 4758ef9dfae5
Create Date: 2026-11-25 22:14:04.938454
"""
from alembic import op
import sqlalchemy as sa
import engine.db


revision = 'b4c1e2d3a5f6'
down_revision = '4758ef9dfae5'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('notify_sms',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('brand_id', sa.String(length=63), nullable=True),
    sa.Column('recipient', sa.String(length=32), nullable=False),
    sa.Column('body', sa.Text(), nullable=True),
    sa.Column('template', sa.String(length=80), nullable=False),
    sa.Column('status', sa.String(length=10), nullable=False),
    sa.Column('provider', sa.String(length=20), nullable=True),
    sa.Column('provider_id', sa.String(length=64), nullable=True),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('error', sa.String(length=500), nullable=True),
    sa.Column('created_at', engine.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('sent_at', engine.db.UTCDateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_notify_sms'))
    )
    with op.batch_alter_table('notify_sms', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_notify_sms_brand_id'), ['brand_id'], unique=False)

    op.create_table('booking_reminder_sent',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('appointment_id', sa.Integer(), nullable=False),
    sa.Column('channel', sa.String(length=5), nullable=False),
    sa.Column('offset_hours', sa.Integer(), nullable=False),
    sa.Column('start_at', engine.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('sent_at', engine.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('brand_id', sa.String(length=63), nullable=False),
    sa.CheckConstraint("channel IN ('email','sms')", name=op.f('ck_booking_reminder_sent_channel')),
    sa.CheckConstraint('offset_hours > 0', name=op.f('ck_booking_reminder_sent_offset_positive')),
    sa.ForeignKeyConstraint(['appointment_id'], ['booking_appointment.id'], name=op.f('fk_booking_reminder_sent_appointment_id_booking_appointment'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_booking_reminder_sent')),
    # a reminder is sent once per appointment, channel, offset and start (see reminders.py)
    sa.UniqueConstraint('appointment_id', 'channel', 'offset_hours', 'start_at', name='uq_booking_reminder_sent_once')
    )
    with op.batch_alter_table('booking_reminder_sent', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_booking_reminder_sent_brand_id'), ['brand_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('booking_reminder_sent', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_booking_reminder_sent_brand_id'))
    op.drop_table('booking_reminder_sent')
    with op.batch_alter_table('notify_sms', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_notify_sms_brand_id'))
    op.drop_table('notify_sms')

"""booking: recurring series and the waitlist (entries, freed slots, held offers)

Revision ID: b945f6f80dc4
Revises: b4c1e2d3a5f6
Create Date: 2026-11-25 22:14:34.679283
"""
from alembic import op
import sqlalchemy as sa
import engine.db


revision = 'b945f6f80dc4'
down_revision = 'b4c1e2d3a5f6'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('booking_series',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('patient_id', sa.Integer(), nullable=False),
    sa.Column('specialist_id', sa.Integer(), nullable=False),
    sa.Column('appointment_type_id', sa.Integer(), nullable=False),
    sa.Column('first_start_at', engine.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('frequency', sa.String(length=10), nullable=False),
    sa.Column('occurrences', sa.Integer(), nullable=True),
    sa.Column('until', sa.Date(), nullable=True),
    sa.Column('created_at', engine.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('brand_id', sa.String(length=63), nullable=False),
    sa.CheckConstraint("frequency IN ('weekly','biweekly')", name=op.f('ck_booking_series_frequency')),
    sa.CheckConstraint('(occurrences IS NULL) <> (until IS NULL)', name=op.f('ck_booking_series_count_or_until')),
    sa.ForeignKeyConstraint(['appointment_type_id'], ['booking_appointment_type.id'], name=op.f('fk_booking_series_appointment_type_id_booking_appointment_type'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['patient_id'], ['identity_user.id'], name=op.f('fk_booking_series_patient_id_identity_user'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['specialist_id'], ['identity_user.id'], name=op.f('fk_booking_series_specialist_id_identity_user'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_booking_series'))
    )
    with op.batch_alter_table('booking_series', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_booking_series_brand_id'), ['brand_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_booking_series_patient_id'), ['patient_id'], unique=False)

    op.create_table('booking_waitlist_entry',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('patient_id', sa.Integer(), nullable=False),
    sa.Column('specialist_id', sa.Integer(), nullable=False),
    sa.Column('appointment_type_id', sa.Integer(), nullable=False),
    sa.Column('before', sa.Date(), nullable=True),
    sa.Column('status', sa.String(length=8), nullable=False),
    sa.Column('created_at', engine.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('brand_id', sa.String(length=63), nullable=False),
    sa.CheckConstraint("status IN ('waiting','booked','left')", name=op.f('ck_booking_waitlist_entry_status')),
    sa.ForeignKeyConstraint(['appointment_type_id'], ['booking_appointment_type.id'], name=op.f('fk_booking_waitlist_entry_appointment_type_id_booking_appointment_type'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['patient_id'], ['identity_user.id'], name=op.f('fk_booking_waitlist_entry_patient_id_identity_user'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['specialist_id'], ['identity_user.id'], name=op.f('fk_booking_waitlist_entry_specialist_id_identity_user'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_booking_waitlist_entry'))
    )
    with op.batch_alter_table('booking_waitlist_entry', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_booking_waitlist_entry_brand_id'), ['brand_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_booking_waitlist_entry_patient_id'), ['patient_id'], unique=False)
        batch_op.create_index('ix_booking_waitlist_entry_queue', ['specialist_id', 'appointment_type_id', 'status', 'id'], unique=False)

    op.create_table('booking_freed_slot',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('appointment_id', sa.Integer(), nullable=False),
    sa.Column('specialist_id', sa.Integer(), nullable=False),
    sa.Column('appointment_type_id', sa.Integer(), nullable=False),
    sa.Column('start_at', engine.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('end_at', engine.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('blocked_start_at', engine.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('blocked_end_at', engine.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('closed', sa.Boolean(), nullable=False),
    sa.Column('created_at', engine.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('brand_id', sa.String(length=63), nullable=False),
    sa.ForeignKeyConstraint(['appointment_id'], ['booking_appointment.id'], name=op.f('fk_booking_freed_slot_appointment_id_booking_appointment'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['appointment_type_id'], ['booking_appointment_type.id'], name=op.f('fk_booking_freed_slot_appointment_type_id_booking_appointment_type'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['specialist_id'], ['identity_user.id'], name=op.f('fk_booking_freed_slot_specialist_id_identity_user'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_booking_freed_slot')),
    sa.UniqueConstraint('appointment_id', name=op.f('uq_booking_freed_slot_appointment_id'))
    )
    with op.batch_alter_table('booking_freed_slot', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_booking_freed_slot_brand_id'), ['brand_id'], unique=False)

    op.create_table('booking_series_member',
    sa.Column('series_id', sa.Integer(), nullable=False),
    sa.Column('appointment_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['appointment_id'], ['booking_appointment.id'], name=op.f('fk_booking_series_member_appointment_id_booking_appointment'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['series_id'], ['booking_series.id'], name=op.f('fk_booking_series_member_series_id_booking_series'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('series_id', 'appointment_id', name=op.f('pk_booking_series_member')),
    sa.UniqueConstraint('appointment_id', name=op.f('uq_booking_series_member_appointment_id'))
    )
    op.create_table('booking_waitlist_offer',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('freed_slot_id', sa.Integer(), nullable=False),
    sa.Column('entry_id', sa.Integer(), nullable=False),
    sa.Column('patient_id', sa.Integer(), nullable=False),
    sa.Column('specialist_id', sa.Integer(), nullable=False),
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('status', sa.String(length=8), nullable=False),
    sa.Column('offered_at', engine.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('expires_at', engine.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('appointment_id', sa.Integer(), nullable=True),
    sa.Column('brand_id', sa.String(length=63), nullable=False),
    sa.CheckConstraint("status IN ('held','accepted','expired')", name=op.f('ck_booking_waitlist_offer_status')),
    sa.ForeignKeyConstraint(['appointment_id'], ['booking_appointment.id'], name=op.f('fk_booking_waitlist_offer_appointment_id_booking_appointment'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['entry_id'], ['booking_waitlist_entry.id'], name=op.f('fk_booking_waitlist_offer_entry_id_booking_waitlist_entry'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['freed_slot_id'], ['booking_freed_slot.id'], name=op.f('fk_booking_waitlist_offer_freed_slot_id_booking_freed_slot'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['patient_id'], ['identity_user.id'], name=op.f('fk_booking_waitlist_offer_patient_id_identity_user'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['specialist_id'], ['identity_user.id'], name=op.f('fk_booking_waitlist_offer_specialist_id_identity_user'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_booking_waitlist_offer')),
    sa.UniqueConstraint('freed_slot_id', 'entry_id', name='one_offer_per_entry'),
    sa.UniqueConstraint('token_hash', name=op.f('uq_booking_waitlist_offer_token_hash'))
    )
    with op.batch_alter_table('booking_waitlist_offer', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_booking_waitlist_offer_brand_id'), ['brand_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_booking_waitlist_offer_freed_slot_id'), ['freed_slot_id'], unique=False)
        batch_op.create_index('ix_booking_waitlist_offer_specialist_hold', ['specialist_id', 'status', 'expires_at'], unique=False)


def downgrade() -> None:
    op.drop_table('booking_waitlist_offer')
    op.drop_table('booking_freed_slot')
    op.drop_table('booking_waitlist_entry')
    op.drop_table('booking_series_member')
    op.drop_table('booking_series')

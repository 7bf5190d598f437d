"""booking intake: the answers stored with an appointment (from matching or an intake form),
and the intake form an appointment type asks patients to fill.

Revision ID: fec579e62ff7
Revises: d61d55167768
Create Date: 2026-11-25 22:13:07.055337
"""
from alembic import op
import sqlalchemy as sa
import engine.db


revision = 'fec579e62ff7'
down_revision = 'd61d55167768'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('booking_intake_answers',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('appointment_id', sa.Integer(), nullable=False),
    sa.Column('source', sa.String(length=12), nullable=False),
    sa.Column('form_key', sa.String(length=63), nullable=False),
    sa.Column('answers', sa.JSON(), nullable=False),
    sa.Column('created_at', engine.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('brand_id', sa.String(length=63), nullable=False),
    sa.CheckConstraint("source IN ('matching','intake_form')", name=op.f('ck_booking_intake_answers_source')),
    sa.ForeignKeyConstraint(['appointment_id'], ['booking_appointment.id'], name=op.f('fk_booking_intake_answers_appointment_id_booking_appointment'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_booking_intake_answers')),
    sa.UniqueConstraint('appointment_id', name=op.f('uq_booking_intake_answers_appointment_id'))
    )
    with op.batch_alter_table('booking_intake_answers', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_booking_intake_answers_brand_id'), ['brand_id'], unique=False)

    with op.batch_alter_table('booking_appointment_type', schema=None) as batch_op:
        batch_op.add_column(sa.Column('intake_form', sa.String(length=63), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('booking_appointment_type', schema=None) as batch_op:
        batch_op.drop_column('intake_form')

    with op.batch_alter_table('booking_intake_answers', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_booking_intake_answers_brand_id'))

    op.drop_table('booking_intake_answers')

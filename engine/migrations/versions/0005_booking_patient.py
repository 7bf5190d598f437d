"""booking, patient side: an appointment's iCalendar SEQUENCE (bumped on every change, so a
patient's calendar updates the one event), and small text attachments (an .ics) on emails.

Revision ID: d61d55167768
Revises: 60478cb0932a
Create Date: 2026-11-25 22:12:59.393930
"""
from alembic import op
import sqlalchemy as sa


revision = 'd61d55167768'
down_revision = '60478cb0932a'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('booking_appointment', schema=None) as batch_op:
        batch_op.add_column(sa.Column('ics_sequence', sa.Integer(), nullable=False,
                                      server_default='0'))

    with op.batch_alter_table('notify_email', schema=None) as batch_op:
        batch_op.add_column(sa.Column('attachments', sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('notify_email', schema=None) as batch_op:
        batch_op.drop_column('attachments')

    with op.batch_alter_table('booking_appointment', schema=None) as batch_op:
        batch_op.drop_column('ics_sequence')

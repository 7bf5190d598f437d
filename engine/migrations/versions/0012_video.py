"""video: video visits (visits, participants, events)

Revision ID: 0012_video
Revises: 34ded83715b0
"""
from alembic import op
import sqlalchemy as sa

import engine.db

revision = '0012_video'
down_revision = '34ded83715b0'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('video_visit',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('appointment_id', sa.Integer(), nullable=False),
    sa.Column('admitted_at', engine.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('ended_at', engine.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('created_at', engine.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('brand_id', sa.String(length=63), nullable=False),
    sa.ForeignKeyConstraint(['appointment_id'], ['booking_appointment.id'], name=op.f('fk_video_visit_appointment_id_booking_appointment'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_video_visit')),
    sa.UniqueConstraint('appointment_id', name=op.f('uq_video_visit_appointment_id'))
    )
    with op.batch_alter_table('video_visit', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_video_visit_brand_id'), ['brand_id'], unique=False)

    op.create_table('video_event',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('visit_id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=True),
    sa.Column('role', sa.String(length=10), nullable=False),
    sa.Column('kind', sa.String(length=10), nullable=False),
    sa.Column('at', engine.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('duration_seconds', sa.Integer(), nullable=True),
    sa.Column('brand_id', sa.String(length=63), nullable=False),
    sa.CheckConstraint("kind IN ('joined','admitted','left','ended')", name=op.f('ck_video_event_kind')),
    sa.CheckConstraint("role IN ('specialist','patient')", name=op.f('ck_video_event_role')),
    sa.CheckConstraint('duration_seconds IS NULL OR duration_seconds >= 0', name=op.f('ck_video_event_duration')),
    sa.ForeignKeyConstraint(['user_id'], ['identity_user.id'], name=op.f('fk_video_event_user_id_identity_user'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['visit_id'], ['video_visit.id'], name=op.f('fk_video_event_visit_id_video_visit'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_video_event'))
    )
    with op.batch_alter_table('video_event', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_video_event_brand_id'), ['brand_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_video_event_user_id'), ['user_id'], unique=False)
        batch_op.create_index('ix_video_event_visit_at', ['visit_id', 'at'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('video_event', schema=None) as batch_op:
        batch_op.drop_index('ix_video_event_visit_at')
        batch_op.drop_index(batch_op.f('ix_video_event_user_id'))
        batch_op.drop_index(batch_op.f('ix_video_event_brand_id'))
    op.drop_table('video_event')
    with op.batch_alter_table('video_visit', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_video_visit_brand_id'))
    op.drop_table('video_visit')

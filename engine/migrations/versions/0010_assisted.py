"""assisted: requests and allocations; the coordinator role

Revision ID: 9a51c0ad7e10
Revises: b945f6f80dc4
Create Date: 2026-11-25 22:14:13.895929
"""
from alembic import op
import sqlalchemy as sa
import engine.db


revision = '9a51c0ad7e10'
down_revision = 'b945f6f80dc4'
branch_labels = None
depends_on = None

OLD_ROLE = "role IN ('patient','specialist','org_admin','affiliate','operator')"
NEW_ROLE = "role IN ('patient','specialist','org_admin','coordinator','affiliate','operator')"
OLD_REALM = "role IN ('patient','org_admin','affiliate') AND brand_id IS NOT NULL"
NEW_REALM = "role IN ('patient','org_admin','coordinator','affiliate') AND brand_id IS NOT NULL"
REALM_REST = ("(role = 'specialist' AND network IS NOT NULL AND brand_id IS NULL) OR "
              "(role = 'operator' AND brand_id IS NULL AND network IS NULL)")


def _role_checks(old_role: str, new_role: str, old_realm: str, new_realm: str) -> None:
    bind = op.get_bind()
    if bind.dialect.name == "sqlite":
        # A batch copy of identity_user would DROP the table with foreign keys on (they cannot
        # be switched off inside the migration's transaction): its implicit DELETE would cascade
        # into every table referencing users. The checks only widen (or, going down, narrow
        # back) the allowed roles, so the table's stored definition is edited in place, the
        # procedure SQLite documents for changing constraints ("other kinds of table schema
        # changes").
        sql = bind.exec_driver_sql(
            "SELECT sql FROM sqlite_master WHERE type='table' AND name='identity_user'"
        ).scalar_one()
        assert old_role in sql and old_realm in sql, "identity_user checks are not as expected"
        version = bind.exec_driver_sql("PRAGMA schema_version").scalar_one()
        bind.exec_driver_sql("PRAGMA writable_schema=ON")
        bind.exec_driver_sql(
            "UPDATE sqlite_master SET sql=? WHERE type='table' AND name='identity_user'",
            (sql.replace(old_role, new_role).replace(old_realm, new_realm),))
        bind.exec_driver_sql(f"PRAGMA schema_version={version + 1}")
        bind.exec_driver_sql("PRAGMA writable_schema=OFF")
        return
    op.drop_constraint(op.f("ck_identity_user_role"), "identity_user", type_="check")
    op.drop_constraint(op.f("ck_identity_user_realm_matches_role"), "identity_user",
                       type_="check")
    op.create_check_constraint(op.f("ck_identity_user_role"), "identity_user", new_role)
    op.create_check_constraint(op.f("ck_identity_user_realm_matches_role"), "identity_user",
                               f"({new_realm}) OR {REALM_REST}")


def upgrade() -> None:
    _role_checks(OLD_ROLE, NEW_ROLE, OLD_REALM, NEW_REALM)
    op.create_table('assisted_request',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('patient_id', sa.Integer(), nullable=False),
    sa.Column('submitted_by_id', sa.Integer(), nullable=False),
    sa.Column('needs', sa.Text(), nullable=False),
    sa.Column('language', sa.String(length=8), nullable=True),
    sa.Column('modality', sa.String(length=10), nullable=False),
    sa.Column('time_windows', sa.JSON(), nullable=False),
    sa.Column('timezone', sa.String(length=64), nullable=False),
    sa.Column('urgency', sa.String(length=10), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('created_at', engine.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', engine.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('brand_id', sa.String(length=63), nullable=False),
    sa.CheckConstraint("modality IN ('any','video','in_person')", name=op.f('ck_assisted_request_modality')),
    sa.CheckConstraint("status IN ('submitted','proposed','accepted','another_time','cancelled')", name=op.f('ck_assisted_request_status')),
    sa.CheckConstraint("urgency IN ('routine','soon','urgent')", name=op.f('ck_assisted_request_urgency')),
    sa.ForeignKeyConstraint(['patient_id'], ['identity_user.id'], name=op.f('fk_assisted_request_patient_id_identity_user'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['submitted_by_id'], ['identity_user.id'], name=op.f('fk_assisted_request_submitted_by_id_identity_user'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_assisted_request'))
    )
    with op.batch_alter_table('assisted_request', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_assisted_request_brand_id'), ['brand_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_assisted_request_patient_id'), ['patient_id'], unique=False)
        batch_op.create_index('ix_assisted_request_queue', ['brand_id', 'status', 'created_at'], unique=False)

    op.create_table('assisted_allocation',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('request_id', sa.Integer(), nullable=False),
    sa.Column('appointment_id', sa.Integer(), nullable=False),
    sa.Column('coordinator_id', sa.Integer(), nullable=False),
    sa.Column('specialist_id', sa.Integer(), nullable=False),
    sa.Column('reason', sa.String(length=500), nullable=False),
    sa.Column('outcome', sa.String(length=16), nullable=False),
    sa.Column('patient_note', sa.String(length=500), nullable=True),
    sa.Column('created_at', engine.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('answered_at', engine.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('brand_id', sa.String(length=63), nullable=False),
    sa.CheckConstraint("outcome IN ('proposed','accepted','another_time','cancelled')", name=op.f('ck_assisted_allocation_outcome')),
    sa.CheckConstraint('length(reason) > 0', name=op.f('ck_assisted_allocation_reason')),
    sa.ForeignKeyConstraint(['appointment_id'], ['booking_appointment.id'], name=op.f('fk_assisted_allocation_appointment_id_booking_appointment'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['coordinator_id'], ['identity_user.id'], name=op.f('fk_assisted_allocation_coordinator_id_identity_user'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['request_id'], ['assisted_request.id'], name=op.f('fk_assisted_allocation_request_id_assisted_request'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['specialist_id'], ['identity_user.id'], name=op.f('fk_assisted_allocation_specialist_id_identity_user'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_assisted_allocation'))
    )
    with op.batch_alter_table('assisted_allocation', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_assisted_allocation_brand_id'), ['brand_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_assisted_allocation_request_id'), ['request_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('assisted_allocation', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_assisted_allocation_request_id'))
        batch_op.drop_index(batch_op.f('ix_assisted_allocation_brand_id'))

    op.drop_table('assisted_allocation')
    with op.batch_alter_table('assisted_request', schema=None) as batch_op:
        batch_op.drop_index('ix_assisted_request_queue')
        batch_op.drop_index(batch_op.f('ix_assisted_request_patient_id'))
        batch_op.drop_index(batch_op.f('ix_assisted_request_brand_id'))

    op.drop_table('assisted_request')
    # coordinators cannot stay under the narrower checks
    op.execute("DELETE FROM identity_user WHERE role = 'coordinator'")
    _role_checks(NEW_ROLE, OLD_ROLE, NEW_REALM, OLD_REALM)

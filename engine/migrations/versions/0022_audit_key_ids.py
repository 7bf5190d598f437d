"""audit key ids: the id of the HMAC key that signed each audit event and checkpoint

Revision ID: 0022_audit_key_ids
Revises: 0021_engine_scheduler

Adds a nullable ``key_id`` to ``audit_event`` and ``audit_checkpoint`` (engine/audit_keys.py).
Existing rows keep NULL, meaning the original key (id "1"): nothing is rewritten. On PostgreSQL
``ADD COLUMN`` without a default changes the catalogue only and fires no row trigger, so the
append-only trigger of 0017 is left as it is and still refuses UPDATE, DELETE and TRUNCATE (it
guards whole rows, the new column included).
"""
import sqlalchemy as sa
from alembic import op

revision = '0022_audit_key_ids'
down_revision = '0021_engine_scheduler'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column('audit_event', sa.Column('key_id', sa.String(length=16), nullable=True))
    op.add_column('audit_checkpoint', sa.Column('key_id', sa.String(length=16), nullable=True))


def downgrade() -> None:
    # events signed by a later key cannot be verified once their key id is gone
    with op.batch_alter_table('audit_checkpoint', schema=None) as batch_op:
        batch_op.drop_column('key_id')
    with op.batch_alter_table('audit_event', schema=None) as batch_op:
        batch_op.drop_column('key_id')

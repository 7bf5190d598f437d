"""crypto: field encryption (encrypted health columns, key rotation progress)

Upgrade encrypts the existing plaintext of ``booking_intake_answers.answers`` (JSON) and
``assisted_request.needs`` (text) with the keyring (``engine.crypto``: DARAPORT_KEYRING,
DARAPORT_KEY_FILE or the development key file), giving each row its ``seal``; downgrade
decrypts them back to plaintext. The keyring is read only when there are rows to convert.

Revision ID: 0016_crypto
Revises: 0015_payments_stripe
"""
import json

import sqlalchemy as sa
from alembic import op

from engine import crypto
from engine.crypto import EncryptedColumn

revision = '0016_crypto'
down_revision = '0015_payments_stripe'
branch_labels = None
depends_on = None

# (table, column, kind): the health data columns this revision encrypts
COLUMNS = (("booking_intake_answers", "answers", "json"), ("assisted_request", "needs", "text"))
BATCH = 500


def _rows(table: str, column: str, *extra: str) -> list[tuple]:
    cols = ", ".join(("id", column, *extra))
    return list(op.get_bind().execute(sa.text(f"SELECT {cols} FROM {table} ORDER BY id")))


def _write(table: str, column: str, values: list[dict]) -> None:
    if values:
        op.get_bind().execute(sa.text(
            f"UPDATE {table} SET {column} = :v, seal = :s WHERE id = :i"), values)


def upgrade() -> None:
    op.create_table(
        "crypto_key_rotation",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("target_kid", sa.String(length=8), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("rows_done", sa.Integer(), nullable=False),
        sa.Column("batches", sa.Integer(), nullable=False),
        sa.Column("started_by_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["started_by_id"], ["identity_user.id"],
                                name=op.f("fk_crypto_key_rotation_started_by_id_identity_user"),
                                ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_crypto_key_rotation")),
    )
    op.create_index(op.f("ix_crypto_key_rotation_target_kid"), "crypto_key_rotation",
                    ["target_kid"], unique=False)
    for table, column, kind in COLUMNS:
        with op.batch_alter_table(table) as batch:
            batch.add_column(sa.Column("seal", sa.String(length=32), nullable=True))
            if kind == "json":
                batch.alter_column(column, existing_type=sa.JSON(), type_=sa.Text(),
                                   postgresql_using=f"{column}::text")
        spec = EncryptedColumn(table, column, kind)
        pending = []
        for row_id, value in _rows(table, column):
            seal = crypto.new_seal()
            plain = json.loads(value) if kind == "json" and isinstance(value, str) else value
            pending.append({"i": row_id, "s": seal, "v": spec.seal(plain, seal)})
            if len(pending) >= BATCH:
                _write(table, column, pending)
                pending = []
        _write(table, column, pending)
        with op.batch_alter_table(table) as batch:
            batch.alter_column("seal", existing_type=sa.String(length=32), nullable=False)


def downgrade() -> None:
    for table, column, kind in COLUMNS:
        spec = EncryptedColumn(table, column, kind)
        pending = []
        for row_id, token, seal in _rows(table, column, "seal"):
            plain = spec.open(token, seal)
            value = json.dumps(plain, ensure_ascii=False) if kind == "json" else plain
            pending.append({"i": row_id, "s": seal, "v": value})
            if len(pending) >= BATCH:
                _write(table, column, pending)
                pending = []
        _write(table, column, pending)
        with op.batch_alter_table(table) as batch:
            if kind == "json":
                batch.alter_column(column, existing_type=sa.Text(), type_=sa.JSON(),
                                   postgresql_using=f"{column}::json")
            batch.drop_column("seal")
    op.drop_index(op.f("ix_crypto_key_rotation_target_kid"), table_name="crypto_key_rotation")
    op.drop_table("crypto_key_rotation")

"""llm_batches and llm_batch_requests: what was submitted to the Batch API

Revision ID: 0004_llm_batches
Revises: 0003_notifications_ledger
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0004_llm_batches"
down_revision: str | None = "0003_notifications_ledger"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "llm_batches",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("batch_id", sqlmodel.sql.sqltypes.AutoString(length=128), nullable=True),
        sa.Column("input_file_id", sqlmodel.sql.sqltypes.AutoString(length=128), nullable=False),
        sa.Column("output_file_id", sqlmodel.sql.sqltypes.AutoString(length=128), nullable=True),
        sa.Column("error_file_id", sqlmodel.sql.sqltypes.AutoString(length=128), nullable=True),
        sa.Column("status", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("base_url", sqlmodel.sql.sqltypes.AutoString(length=255), nullable=False),
        sa.Column("model", sqlmodel.sql.sqltypes.AutoString(length=128), nullable=False),
        sa.Column("requests", sa.Integer(), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("checked_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.Column("collected_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_llm_batches_batch_id", "llm_batches", ["batch_id"])
    op.create_table(
        "llm_batch_requests",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("batch", sa.Integer(), nullable=False),
        sa.Column("custom_id", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("profile", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("question", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("prompt_hash", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("profile_hash", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("arxiv_ids", sa.JSON(), nullable=False),
        sa.Column("cache_keys", sa.JSON(), nullable=False),
        sa.Column("text_hashes", sa.JSON(), nullable=False),
        sa.Column("status", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_llm_batch_requests_batch", "llm_batch_requests", ["batch"])
    op.create_index("ix_llm_batch_requests_status", "llm_batch_requests", ["status"])


def downgrade() -> None:
    op.drop_index("ix_llm_batch_requests_status", "llm_batch_requests")
    op.drop_index("ix_llm_batch_requests_batch", "llm_batch_requests")
    op.drop_table("llm_batch_requests")
    op.drop_index("ix_llm_batches_batch_id", "llm_batches")
    op.drop_table("llm_batches")

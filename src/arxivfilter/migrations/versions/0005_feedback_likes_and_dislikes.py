"""feedback: a reader's like/dislike per profile and paper

Revision ID: 0005_feedback
Revises: 0004_llm_batches
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0005_feedback"
down_revision: str | None = "0004_llm_batches"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "feedback",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("profile", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("arxiv_id", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("verdict", sqlmodel.sql.sqltypes.AutoString(length=8), nullable=False),
        sa.Column("date", sa.Date(), nullable=False),
        sa.Column("created_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("profile", "arxiv_id", name="uq_feedback"),
    )
    op.create_index("ix_feedback_profile", "feedback", ["profile"])


def downgrade() -> None:
    op.drop_index("ix_feedback_profile", "feedback")
    op.drop_table("feedback")

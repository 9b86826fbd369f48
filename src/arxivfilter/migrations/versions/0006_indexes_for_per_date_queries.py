"""indexes for per-date queries: covering indexes so a date's work never grows with history

The feed's and log's candidates are tested per announcement of the window against the
paper's ok judgements at the threshold (``judgements (arxiv_id, profile, status,
relevance)``), and a date's papers are counted from the index alone (``announcements
(date, category, arxiv_id)``). Each replaces the index it extends (a prefix of it).

Revision ID: 0006_indexes
Revises: 0005_feedback
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0006_indexes"
down_revision: str | None = "0005_feedback"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index(
        "ix_judgements_paper_profile_status",
        "judgements",
        ["arxiv_id", "profile", "status", "relevance"],
    )
    op.drop_index("ix_judgements_paper_profile", table_name="judgements")
    op.create_index(
        "ix_announcements_date_category_paper",
        "announcements",
        ["date", "category", "arxiv_id"],
    )
    op.drop_index("ix_announcements_date_category", table_name="announcements")


def downgrade() -> None:
    op.create_index("ix_announcements_date_category", "announcements", ["date", "category"])
    op.drop_index("ix_announcements_date_category_paper", table_name="announcements")
    op.create_index("ix_judgements_paper_profile", "judgements", ["arxiv_id", "profile"])
    op.drop_index("ix_judgements_paper_profile_status", table_name="judgements")

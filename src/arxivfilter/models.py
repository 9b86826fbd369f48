"""Records that cross stage boundaries (value types) and the database tables (SQLModel).

Value types:
  * :class:`Entry` -- one paper as one source lists it on one announcement date. Every
    parser in ``fetch/`` returns these; ``store`` turns them into rows.
  * :class:`JudgementResult` -- what a scorer says about one paper for one profile.

Tables: :class:`Paper` (one row per arXiv id, latest version), :class:`Announcement`
(one row per date x configured category the paper carries), :class:`Judgement`
(keyed by the cache key), :class:`LlmCall` (every call, for audit and cost),
:class:`Run` (every command that changes state), :class:`LlmMode` (the structured
output mode a server accepted), :class:`Notification` (the delivery ledger: one row per
recipient x announcement date x channel, so nothing is sent twice), :class:`Feedback` (a
reader's like/dislike per profile and paper).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal, Protocol

from pydantic import BaseModel
from pydantic import Field as PydField
from sqlalchemy import JSON, Column, Index, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

AnnounceType = Literal["new", "cross", "replace", "replace-cross"]
#: every announcement type, strongest first (``ingest.type_rank``: a paper listed as new
#: and cross on one day is listed as new)
ANNOUNCE_TYPES: tuple[str, ...] = ("new", "cross", "replace", "replace-cross")
REPLACEMENTS = frozenset({"replace", "replace-cross"})
SourceKind = Literal["rss", "api", "listing", "oai", "jsonl", "export", "archive"]
JudgementStatus = Literal["ok", "failed"]


def utcnow() -> dt.datetime:
    """Timezone-aware now, for bookkeeping columns only (never rendered)."""
    return dt.datetime.now(dt.UTC)


# --------------------------------------------------------------------------- values


class PaperRecord(SQLModel):
    """One paper, as arXiv describes it: the record every stage passes on.

    A source's listing of it is an :class:`Entry`, its stored row a :class:`Paper`, a
    digest line a :class:`ListedPaper` (the stored record with its judgement): each *is*
    or *holds* this record, so nothing copies it field by field. Two descriptions of one
    paper combine by one rule, ``ingest.merge``.
    """

    arxiv_id: str = Field(max_length=32)
    version: int | None = None
    title: str = Field(sa_column=Column(Text, nullable=False))
    authors: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    abstract: str = Field(default="", sa_column=Column(Text, nullable=False))
    categories: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    primary_category: str | None = Field(default=None, max_length=32)
    comment: str | None = Field(default=None, sa_column=Column(Text))
    journal_ref: str | None = Field(default=None, sa_column=Column(Text))
    doi: str | None = Field(default=None, max_length=255)
    published: dt.datetime | None = None
    updated: dt.datetime | None = None


class Entry(PaperRecord):
    """One paper as a source lists it; text already normalised (``text.normalise``).

    ``announce_date``/``announce_type`` are what the source says (None when it says
    nothing: the caller then supplies the date and treats the type as new/cross).
    """

    announce_date: dt.date | None = None
    announce_type: AnnounceType | None = None
    source: SourceKind = "rss"
    approximate: bool = False  # date inferred from a submission window (export API)
    derived: bool = False  # date mapped from version dates through the calendar (OAI)

    @property
    def is_replacement(self) -> bool:
        return self.announce_type in REPLACEMENTS


class JudgementResult(BaseModel):
    """A scorer's verdict on one paper for one profile (before it is stored)."""

    status: JudgementStatus = "ok"
    relevance: int | None = None
    hype: int | None = None
    tags: list[str] = PydField(default_factory=list)
    tldr: str | None = None
    reason: str | None = None
    error: str | None = None


# --------------------------------------------------------------------------- tables


class Paper(PaperRecord, table=True):
    """The stored record of one paper (its latest version), keyed by arXiv id."""

    __tablename__ = "papers"

    arxiv_id: str = Field(primary_key=True, max_length=32)
    withdrawn: bool = False
    text_hash: str = Field(max_length=64, index=True)
    created_at: dt.datetime = Field(default_factory=utcnow)
    modified_at: dt.datetime = Field(default_factory=utcnow)


class Announcement(SQLModel, table=True):
    __tablename__ = "announcements"
    __table_args__ = (
        UniqueConstraint("arxiv_id", "date", "category", name="uq_announcement"),
        Index("ix_announcements_date_category_paper", "date", "category", "arxiv_id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    arxiv_id: str = Field(foreign_key="papers.arxiv_id", max_length=32, index=True)
    date: dt.date
    category: str = Field(max_length=32)
    type: str = Field(max_length=16)  # new | cross | replace | replace-cross
    version: int | None = None
    text_hash: str = Field(max_length=64)  # the text as of this announcement
    source: str = Field(max_length=16)
    approximate: bool = False
    derived: bool = False


class Judgement(SQLModel, table=True):
    __tablename__ = "judgements"
    __table_args__ = (
        Index("ix_judgements_paper_profile_status", "arxiv_id", "profile", "status", "relevance"),
    )

    id: int | None = Field(default=None, primary_key=True)
    cache_key: str = Field(max_length=64, unique=True)
    arxiv_id: str = Field(foreign_key="papers.arxiv_id", max_length=32)
    profile: str = Field(max_length=64)
    scorer: str = Field(max_length=16)  # llm | local
    model: str = Field(max_length=128)
    text_hash: str = Field(max_length=64)
    profile_hash: str = Field(max_length=64)
    prompt_hash: str = Field(max_length=64)
    status: str = Field(max_length=16)  # ok | failed
    relevance: int | None = None
    hype: int | None = None
    tags: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    tldr: str | None = Field(default=None, sa_column=Column(Text))
    reason: str | None = Field(default=None, sa_column=Column(Text))
    error: str | None = Field(default=None, sa_column=Column(Text))
    run_id: int | None = None
    created_at: dt.datetime = Field(default_factory=utcnow)


class LlmCall(SQLModel, table=True):
    __tablename__ = "llm_calls"

    id: int | None = Field(default=None, primary_key=True)
    run_id: int | None = Field(default=None, index=True)
    cache_key: str | None = Field(default=None, max_length=64, index=True)
    arxiv_ids: list[str] = Field(
        default_factory=list, sa_column=Column(JSON, nullable=False, server_default="[]")
    )
    profile: str | None = Field(default=None, max_length=64)
    base_url: str | None = Field(default=None, max_length=255)
    model: str = Field(max_length=128)
    mode: str = Field(max_length=16)  # json_schema | json_object | text
    prompt_hash: str = Field(max_length=64)
    papers: int = 1
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    cached_tokens: int | None = None
    latency_ms: int | None = None
    http_status: int | None = None
    status: str = Field(max_length=16)  # ok | invalid | error | refused
    raw_reply: str | None = Field(default=None, sa_column=Column(Text))
    error: str | None = Field(default=None, sa_column=Column(Text))
    created_at: dt.datetime = Field(default_factory=utcnow)


class LlmMode(SQLModel, table=True):
    __tablename__ = "llm_modes"

    id: int | None = Field(default=None, primary_key=True)
    base_url: str = Field(max_length=255)
    model: str = Field(max_length=128)
    mode: str = Field(max_length=16)
    created_at: dt.datetime = Field(default_factory=utcnow)


class Run(SQLModel, table=True):
    __tablename__ = "runs"

    id: int | None = Field(default=None, primary_key=True)
    command: str = Field(max_length=32)
    status: str = Field(
        default="running", max_length=16
    )  # running|ok|failed|crashed|aborted|interrupted
    date_from: dt.date | None = None
    date_to: dt.date | None = None
    profiles: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    counts: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    cost_usd: float | None = None
    exit_code: int | None = None
    message: str | None = Field(default=None, sa_column=Column(Text))
    started_at: dt.datetime = Field(default_factory=utcnow)
    finished_at: dt.datetime | None = None


class LlmBatch(SQLModel, table=True):
    """One submitted batch of the provider's Batch API (``[llm] mode = "batch"``).

    ``status`` is the provider's (validating, in_progress, finalizing, completed, expired,
    failed, cancelling, cancelled), or ``uploaded`` between the file upload and the batch's
    creation; ``collected_at`` is set once its results are stored.
    """

    __tablename__ = "llm_batches"

    id: int | None = Field(default=None, primary_key=True)
    batch_id: str | None = Field(default=None, max_length=128, index=True)
    input_file_id: str = Field(max_length=128)
    output_file_id: str | None = Field(default=None, max_length=128)
    error_file_id: str | None = Field(default=None, max_length=128)
    status: str = Field(max_length=16)
    base_url: str = Field(max_length=255)
    model: str = Field(max_length=128)
    requests: int = 0
    run_id: int | None = None
    created_at: dt.datetime = Field(default_factory=utcnow)
    checked_at: dt.datetime | None = None
    collected_at: dt.datetime | None = None


class LlmBatchRequest(SQLModel, table=True):
    """One line of a batch: the papers it asks about and the cache keys it will fill.

    ``status``: ``pending`` (in an open batch), ``done`` (its judgements are stored),
    ``requeued`` (expired, failed or missing from the output: asked again by a later run).
    """

    __tablename__ = "llm_batch_requests"

    id: int | None = Field(default=None, primary_key=True)
    batch: int = Field(index=True)  # llm_batches.id
    custom_id: str = Field(max_length=64)
    profile: str = Field(max_length=64)
    question: str = Field(default="full", max_length=16)
    prompt_hash: str = Field(max_length=64)
    profile_hash: str = Field(max_length=64)
    arxiv_ids: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    cache_keys: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    text_hashes: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    status: str = Field(default="pending", max_length=16, index=True)


class Notification(SQLModel, table=True):
    """One delivery of one announcement date to one recipient over one channel.

    ``status``: ``pending`` (claimed by a run, being sent), ``sent``, ``failed`` (tried and
    refused or cut off: the next run tries again with the same ``message_id``).
    """

    __tablename__ = "notifications"
    __table_args__ = (UniqueConstraint("recipient", "date", "channel", name="uq_notification"),)

    id: int | None = Field(default=None, primary_key=True)
    recipient: str = Field(max_length=320)  # an e-mail address, or "slack:NAME"/"discord:NAME"
    date: dt.date
    channel: str = Field(max_length=16)  # email | slack | discord
    message_id: str = Field(max_length=255)
    status: str = Field(default="pending", max_length=16)  # pending | sent | failed
    papers: int = 0
    attempts: int = 0
    error: str | None = Field(default=None, sa_column=Column(Text))
    run_id: int | None = None
    created_at: dt.datetime = Field(default_factory=utcnow)
    sent_at: dt.datetime | None = None


class Feedback(SQLModel, table=True):
    """A reader's verdict on one paper for one profile (``like``/``dislike``).

    Mirrors ``config/profiles/NAME.feedback.tsv`` (the source of truth, committed): see
    ``arxivfilter/feedback.py``. No foreign key: a liked paper need not be stored yet.
    """

    __tablename__ = "feedback"
    __table_args__ = (UniqueConstraint("profile", "arxiv_id", name="uq_feedback"),)

    id: int | None = Field(default=None, primary_key=True)
    profile: str = Field(max_length=64, index=True)
    arxiv_id: str = Field(max_length=32)
    verdict: str = Field(max_length=8)  # like | dislike
    date: dt.date
    created_at: dt.datetime = Field(default_factory=utcnow)


# --------------------------------------------------------------------------- views


class PaperText(Protocol):
    """What a scorer reads of a paper. The stored record (:class:`Paper`) is one: scorers
    take the record itself, never a copy of its fields."""

    @property
    def arxiv_id(self) -> str: ...
    @property
    def title(self) -> str: ...
    @property
    def abstract(self) -> str: ...
    @property
    def authors(self) -> Sequence[str]: ...
    @property
    def categories(self) -> Sequence[str]: ...
    @property
    def primary_category(self) -> str | None: ...
    @property
    def text_hash(self) -> str: ...


@dataclass
class ListedPaper:
    """One paper of one announcement date with its judgement for one profile: what reports
    and deliveries render. It holds the stored record and the judgement row (never a copy
    of their fields) and adds what the day's listing says."""

    paper: PaperRecord
    date: dt.date
    announce_type: str = "new"  # the strongest of the day's rows (ingest.strongest)
    updated_version: int | None = None  # set when listed as a changed replacement ("updated vN")
    previous_relevance: int | None = None  # replacements: relevance of the earlier judgement
    judgement: Judgement | None = None  # None: not judged

    # the record
    @property
    def arxiv_id(self) -> str:
        return self.paper.arxiv_id

    @property
    def version(self) -> int | None:
        return self.paper.version

    @property
    def title(self) -> str:
        return self.paper.title

    @property
    def authors(self) -> list[str]:
        return self.paper.authors

    @property
    def abstract(self) -> str:
        return self.paper.abstract

    @property
    def categories(self) -> list[str]:
        return self.paper.categories

    @property
    def primary_category(self) -> str | None:
        return self.paper.primary_category

    # its judgement
    @property
    def scorer(self) -> str | None:  # llm | local | None (not judged)
        return self.judgement.scorer if self.judgement else None

    @property
    def status(self) -> str | None:  # ok | failed | None (not judged)
        return self.judgement.status if self.judgement else None

    @property
    def relevance(self) -> int | None:
        return self.judgement.relevance if self.judgement else None

    @property
    def hype(self) -> int | None:
        return self.judgement.hype if self.judgement else None

    @property
    def tags(self) -> list[str]:
        return self.judgement.tags if self.judgement else []

    @property
    def tldr(self) -> str | None:
        return self.judgement.tldr if self.judgement else None

    @property
    def reason(self) -> str | None:
        return self.judgement.reason if self.judgement else None

    @property
    def error(self) -> str | None:
        return self.judgement.error if self.judgement else None

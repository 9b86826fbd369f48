"""A :class:`~arxivfilter.models.ListedPaper` from the flat fields tests write: the record's,
the listing's and the judgement's (``status=None``: not judged)."""

from __future__ import annotations

from typing import Any

from arxivfilter.models import Judgement, ListedPaper, PaperRecord

_LISTING = ("date", "announce_type", "updated_version", "previous_relevance")


def listed(**fields: Any) -> ListedPaper:
    record = {k: fields.pop(k) for k in list(fields) if k in PaperRecord.model_fields}
    listing = {k: fields.pop(k) for k in _LISTING if k in fields}
    judged = fields.get("status") is not None
    return ListedPaper(
        PaperRecord(**record),
        **listing,
        judgement=Judgement(arxiv_id=record["arxiv_id"], **fields) if judged else None,
    )

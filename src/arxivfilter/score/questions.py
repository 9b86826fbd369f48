"""What a call asks: the full judgement, or the short first pass (relevance only).

``FULL`` is the one-pass question (relevance, hype, tags, TL;DR, reason) with the templates
of :data:`~arxivfilter.score.prompt.TEMPLATE_FILES`. ``FIRST`` asks only what decides
listing, relevance, with a reply of a few tokens; its templates are separate files (so its
prompt hash, and cache key, are its own, and the one-pass key is unchanged). Both put the
papers in the same user message, byte for byte, after a system message that is fixed per
profile: the cacheable prefix.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from arxivfilter.config import Profile
from arxivfilter.models import JudgementResult
from arxivfilter.score.prompt import (
    TEMPLATE_FILES,
    AnswerError,
    Templates,
    _score,
    _tag_lines,
    answer_schema,
    normalise_judgement,
    system_message,
)

FIRST_PASS_FILES: tuple[str, ...] = (
    "score_first_system.md",
    "score_first_answer_one.md",
    "score_first_answer_many.md",
    "score_user.md",
    "score_paper.md",
    "score_retry.md",
)


@dataclass(frozen=True)
class Question:
    """The templates, system message, answer schema and validator of one kind of call."""

    name: str
    files: tuple[str, ...]
    system: Callable[[Templates, Profile, int], str]
    schema: Callable[[Profile, int], dict[str, Any]]
    normalise: Callable[..., JudgementResult]


def first_system_message(templates: Templates, profile: Profile, papers_per_call: int) -> str:
    """The first pass's fixed part: the profile and its topics, the relevance scale."""
    answer = templates.render(
        "score_first_answer_many.md" if papers_per_call > 1 else "score_first_answer_one.md"
    )
    return templates.render(
        "score_first_system.md",
        name=profile.name,
        description=profile.description,
        keywords=", ".join(profile.keywords) or "(none given)",
        exclude=profile.exclude or "(nothing stated)",
        tags=_tag_lines(profile),
        answer=answer.strip(),
    ).strip()


def first_answer_schema(profile: Profile, papers_per_call: int) -> dict[str, Any]:
    """``{"relevance": int}``, or ``{"papers": [{"id", "relevance"}]}`` for several papers."""
    item: dict[str, Any] = {
        "title": "FirstPass",
        "type": "object",
        "properties": {
            "relevance": {
                "type": "integer",
                "minimum": 0,
                "maximum": 100,
                "title": "Relevance",
                "description": "0-100: how well the paper matches the profile",
            }
        },
        "required": ["relevance"],
        "additionalProperties": False,
    }
    if papers_per_call <= 1:
        return item
    item["properties"] = {"id": {"type": "string", "title": "Id"}, **item["properties"]}
    item["required"] = ["id", "relevance"]
    return {
        "title": "FirstPasses",
        "type": "object",
        "properties": {"papers": {"type": "array", "items": item, "title": "Papers"}},
        "required": ["papers"],
        "additionalProperties": False,
    }


def normalise_relevance(data: Any, profile: Profile, *, paper_id: str = "") -> JudgementResult:
    """A first-pass answer: relevance only (an integer 0-100, as strictly as the full answer:
    never clamped); everything else left empty."""
    if not isinstance(data, dict):
        raise AnswerError("the answer must be a JSON object")
    if "relevance" not in data:
        raise AnswerError("missing field(s): relevance")
    extra = sorted(str(k)[:40] for k in data if k not in ("id", "relevance"))
    if extra:
        raise AnswerError(f"field(s) the schema does not allow: {', '.join(extra[:5])}")
    return JudgementResult(status="ok", relevance=_score(data["relevance"], "relevance"))


FULL = Question(
    name="full",
    files=TEMPLATE_FILES,
    system=lambda t, p, n: system_message(t, p, papers_per_call=n),
    schema=lambda p, n: answer_schema(p, papers_per_call=n),
    normalise=normalise_judgement,
)
FIRST = Question(
    name="first",
    files=FIRST_PASS_FILES,
    system=first_system_message,
    schema=first_answer_schema,
    normalise=normalise_relevance,
)

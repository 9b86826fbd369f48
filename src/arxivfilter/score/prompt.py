"""The LLM's question and the shape of its answer: templates, hashing, parsing.

Templates live in ``prompts/`` (the working directory's copy overrides the shipped
one, see :func:`arxivfilter.config.prompt_path`) and use ``$name`` placeholders
(:class:`string.Template`; substituted text is never re-scanned, so a ``$`` in an
abstract is inert).

The system message holds everything fixed for a profile (instructions, the profile,
the tag vocabulary, the answer shape), so it is byte-identical for every paper and
providers' prompt caching applies. The papers come last, in the user message, each
between ``<paper id="...">`` and ``</paper>`` lines; look-alikes of those delimiters
inside the untrusted text are neutralised.

Token budgets are counted in characters (no tokenizer can be downloaded here):
:func:`estimate_tokens` uses 4 characters per token, about right for English prose
with the GPT and Llama tokenizers; servers report the real counts in ``usage``.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
import string
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import structlog
from pydantic import BaseModel, ConfigDict, Field

from arxivfilter.config import Profile, prompt_path
from arxivfilter.errors import ConfigError
from arxivfilter.models import JudgementResult, PaperText

log = structlog.get_logger(__name__)

TEMPLATE_FILES: tuple[str, ...] = (
    "score_system.md",
    "score_answer_one.md",
    "score_answer_many.md",
    "score_user.md",
    "score_paper.md",
    "score_retry.md",
)
#: Bump when the answer schema or its post-processing changes meaning (re-scores).
ANSWER_VERSION = 1
MAX_TAGS = 3
TLDR_WORDS = 50
TLDR_CHARS = 400  # 50 words, in characters too: one 200,000-character "word" is cut
REASON_CHARS = 300
TITLE_CHARS = 500
CHARS_PER_TOKEN = 4
TRUNCATION_MARKER = " [… abstract truncated]"


# --------------------------------------------------------------------------- templates


@dataclass(frozen=True)
class Templates:
    """The prompt templates, read once, with the hash of their bytes."""

    texts: dict[str, str]
    hash: str

    def render(self, template: str, /, **values: str) -> str:
        """Substitute ``values`` into ``template``; unknown placeholders are a ConfigError."""
        name = template
        try:
            return string.Template(self.texts[name]).substitute(values)
        except KeyError as exc:
            raise ConfigError(f"prompts/{name}: unknown placeholder ${exc.args[0]}") from None
        except ValueError as exc:
            raise ConfigError(
                f"prompts/{name}: bad placeholder ({exc}); write $$ for a dollar sign"
            ) from None


def load_templates(files: Sequence[str] = TEMPLATE_FILES) -> Templates:
    """Read ``files`` (working-directory ``prompts/`` first, else the shipped copy)."""
    texts: dict[str, str] = {}
    digest = hashlib.sha256()
    for name in files:
        path = prompt_path(name)
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise ConfigError(f"{path}: cannot read prompt template: {exc.strerror}") from None
        try:
            texts[name] = data.decode("utf-8")
        except UnicodeDecodeError:
            raise ConfigError(f"{path}: prompt template is not UTF-8") from None
        digest.update(name.encode() + b"\0" + data + b"\0")
    return Templates(texts=texts, hash=digest.hexdigest())


def template_hash() -> str:
    """SHA-256 over the template files' names and bytes."""
    return load_templates().hash


def prompt_settings_hash(
    templates: Templates,
    *,
    abstract_chars: int,
    papers_per_call: int,
    sampling: dict[str, Any] | None = None,
) -> str:
    """Everything besides profile and model that shapes a judgement: templates and budgets.

    ``sampling`` holds the request settings that differ from their defaults (see
    :func:`arxivfilter.score.sampling.key_fields`); none leaves the hash as it always was.
    """
    payload: dict[str, Any] = {
        "templates": templates.hash,
        "abstract_chars": abstract_chars,
        "papers_per_call": papers_per_call,
        "answer_version": ANSWER_VERSION,
    }
    if sampling:
        payload["sampling"] = sampling
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()


# --------------------------------------------------------------------------- untrusted text

_DELIMITER = re.compile(r"[<＜﹤〈‹](?=\s*[/／]?\s*(?:paper|papers)\b)", re.IGNORECASE)
_SPACES = re.compile(r"\s+")
_SAFE_ID = re.compile(r"[^A-Za-z0-9._/\-]")


def neutralise(text: str) -> str:
    """Collapse whitespace and defuse anything that looks like a ``<paper>`` delimiter."""
    return _DELIMITER.sub("(", _SPACES.sub(" ", text).strip())


def cut_text(text: str, limit: int, marker: str = TRUNCATION_MARKER) -> str:
    """``text`` if it fits in ``limit`` characters, else cut at a word boundary plus ``marker``."""
    if len(text) <= limit:
        return text
    room = max(limit - len(marker), 0)
    head = text[: room + 1]
    cut = head.rfind(" ")
    head = head[:cut] if cut > room // 2 else text[:room]
    return head.rstrip() + marker


def safe_id(arxiv_id: str) -> str:
    """The id as the prompt shows it (and as a batch answer must quote it)."""
    return _SAFE_ID.sub("", arxiv_id)


def estimate_tokens(text: str) -> int:
    """Rough token count: ``ceil(len / 4)`` (English prose; no tokenizer download)."""
    return math.ceil(len(text) / CHARS_PER_TOKEN)


# --------------------------------------------------------------------------- messages


def _tag_lines(profile: Profile) -> str:
    if not profile.tags:
        return "(no tags: always answer with an empty list)"
    return "\n".join(
        f"- {tag}: {' '.join(meaning.split())}" for tag, meaning in profile.tags.items()
    )


def system_message(templates: Templates, profile: Profile, *, papers_per_call: int = 1) -> str:
    """The fixed part: instructions, profile, vocabulary, answer shape (same for every paper)."""
    answer = templates.render(
        "score_answer_many.md" if papers_per_call > 1 else "score_answer_one.md"
    )
    return templates.render(
        "score_system.md",
        name=profile.name,
        description=profile.description,
        keywords=", ".join(profile.keywords) or "(none given)",
        exclude=profile.exclude or "(nothing stated)",
        tags=_tag_lines(profile),
        max_tags=str(MAX_TAGS),
        tldr_words=str(TLDR_WORDS),
        answer=answer.strip(),
    ).strip()


def paper_block(templates: Templates, paper: PaperText, *, abstract_chars: int) -> str:
    """One paper inside its delimiters, text neutralised and the abstract cut to budget."""
    abstract = cut_text(neutralise(paper.abstract), abstract_chars) or "(no abstract)"
    return templates.render(
        "score_paper.md",
        id=safe_id(paper.arxiv_id),
        title=cut_text(neutralise(paper.title), TITLE_CHARS, " […]"),
        categories=neutralise(", ".join(paper.categories[:20])) or "(none)",
        abstract=abstract,
    ).strip()


def user_message(templates: Templates, papers: Sequence[PaperText], *, abstract_chars: int) -> str:
    """The per-call part: the papers, last, as delimited data."""
    blocks = "\n\n".join(paper_block(templates, p, abstract_chars=abstract_chars) for p in papers)
    return templates.render("score_user.md", papers=blocks).strip()


def retry_message(templates: Templates, error: str) -> str:
    """The follow-up that shows the model why its answer was rejected."""
    return templates.render("score_retry.md", error=error).strip()


# --------------------------------------------------------------------------- answer shape


class LlmJudgement(BaseModel):
    """What the model answers for one paper (the structured-output schema)."""

    model_config = ConfigDict(extra="forbid")

    relevance: int = Field(
        ge=0, le=100, description="0-100: how well the paper matches the profile"
    )
    hype: int = Field(
        ge=0, le=100, description="0-100: how much attention the work is likely to draw"
    )
    tags: list[str] = Field(max_length=MAX_TAGS, description="tags from the profile's list")
    tldr: str = Field(description=f"at most {TLDR_WORDS} words: problem, method, one number")
    reason: str = Field(description="one line: why this relevance")


def answer_schema(profile: Profile, *, papers_per_call: int = 1) -> dict[str, Any]:
    """JSON schema of the answer, tags restricted to the profile's vocabulary."""
    item = LlmJudgement.model_json_schema()
    item.pop("description", None)
    tags = item["properties"]["tags"]
    tags["items"] = (
        {"type": "string", "enum": list(profile.tags)} if profile.tags else {"type": "string"}
    )
    if not profile.tags:
        tags["maxItems"] = 0
    if papers_per_call <= 1:
        return item
    item = {
        **item,
        "title": "PaperJudgement",
        "properties": {"id": {"type": "string", "title": "Id"}, **item["properties"]},
        "required": ["id", *item["required"]],
    }
    return {
        "title": "Judgements",
        "type": "object",
        "properties": {"papers": {"type": "array", "items": item, "title": "Papers"}},
        "required": ["papers"],
        "additionalProperties": False,
    }


# --------------------------------------------------------------------------- parsing


class AnswerError(ValueError):
    """An answer (or one paper's part of it) that cannot become a judgement."""


_FENCE = re.compile(r"```(?:json)?\s*(.*?)```", re.DOTALL | re.IGNORECASE)


def extract_json(content: str) -> Any:
    """The JSON value in ``content``: the whole text, a fenced block, or the first object."""
    text = content.strip()
    try:
        return json.loads(text)
    except ValueError:
        pass
    candidates = [m.group(1) for m in _FENCE.finditer(text)]
    decoder = json.JSONDecoder()
    for candidate in candidates:
        try:
            return json.loads(candidate.strip())
        except ValueError:
            continue
    for start in (i for i, ch in enumerate(text) if ch == "{"):
        try:
            value, _ = decoder.raw_decode(text, start)
        except ValueError:
            continue
        if isinstance(value, dict):
            return value
    if "{" in text:
        raise AnswerError("the reply is not valid JSON (cut off or malformed)")
    raise AnswerError("the reply holds no JSON object")


def _score(value: Any, key: str) -> int:
    """An integer from 0 to 100, as the schema says: anything else is an invalid answer.

    Never clamped or rounded: ``1e9``, ``-5``, ``Infinity``, ``"95"`` and ``69.5`` are
    rejected (a JSON number with no fraction, ``95.0``, is the integer 95, as JSON Schema
    counts it).
    """
    bad = AnswerError(f"{key!r} must be an integer from 0 to 100, got {str(value)[:40]!r}")
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise bad
    if isinstance(value, float) and not (math.isfinite(value) and value.is_integer()):
        raise bad
    if not 0 <= value <= 100:
        raise bad
    return int(value)


def _words(text: str, limit: int) -> str:
    words = text.split()
    if len(words) <= limit:
        return " ".join(words)
    return " ".join(words[:limit]).rstrip(".,;:") + " …"


def _text(value: Any, key: str) -> str:
    if value is None:
        raise AnswerError(f"{key!r} is missing")
    if not isinstance(value, str):
        raise AnswerError(f"{key!r} must be a string")
    return value


#: The keys an answer may hold ("id" only in a many-paper answer's entries).
_FIELDS = frozenset({"id", "relevance", "hype", "tags", "tldr", "reason"})


def normalise_judgement(data: Any, profile: Profile, *, paper_id: str = "") -> JudgementResult:
    """Validate one paper's answer strictly against the schema (integers 0-100, no extra
    field, tags a list of strings), keep only vocabulary tags, cut the text to its caps."""
    if not isinstance(data, dict):
        raise AnswerError("the answer must be a JSON object")
    missing = [k for k in ("relevance", "hype", "tldr", "reason") if k not in data]
    if missing:
        raise AnswerError(f"missing field(s): {', '.join(missing)}")
    extra = sorted(str(k)[:40] for k in data if k not in _FIELDS)
    if extra:
        raise AnswerError(f"field(s) the schema does not allow: {', '.join(extra[:5])}")
    relevance = _score(data["relevance"], "relevance")
    hype = _score(data["hype"], "hype")
    tldr = cut_text(_words(_text(data["tldr"], "tldr"), TLDR_WORDS), TLDR_CHARS, " …")
    reason = cut_text(" ".join(_text(data["reason"], "reason").split()), REASON_CHARS, " …")
    raw_tags = data.get("tags", [])
    if not isinstance(raw_tags, list) or not all(isinstance(t, str) for t in raw_tags):
        raise AnswerError("'tags' must be a list of strings")
    vocab = {t.casefold(): t for t in profile.tags}
    tags: list[str] = []
    dropped: list[str] = []
    for tag in raw_tags:
        known = vocab.get(tag.strip().casefold())
        if known is None:
            dropped.append(str(tag)[:40])
        elif known not in tags:
            tags.append(known)
    if dropped:
        log.info(
            "tags outside the vocabulary dropped",
            profile=profile.name,
            paper=paper_id,
            tags=dropped,
        )
    if len(tags) > MAX_TAGS:
        log.info("extra tags dropped", profile=profile.name, paper=paper_id, tags=tags[MAX_TAGS:])
        tags = tags[:MAX_TAGS]
    checked = LlmJudgement(relevance=relevance, hype=hype, tags=tags, tldr=tldr, reason=reason)
    return JudgementResult(status="ok", **checked.model_dump())


def parse_answer(
    content: str | None,
    profile: Profile,
    ids: Sequence[str],
    *,
    normalise: Callable[..., JudgementResult] | None = None,
) -> tuple[dict[str, JudgementResult], dict[str, str]]:
    """Judgements by paper id, and an error by id for every paper the answer does not settle.

    ``normalise`` validates one paper's part (default :func:`normalise_judgement`).
    """
    normalise = normalise or normalise_judgement
    try:
        if content is None or not content.strip():
            raise AnswerError("the reply is empty")
        value = extract_json(content)
    except AnswerError as exc:
        return {}, {i: str(exc) for i in ids}
    items: dict[str, Any]
    if isinstance(value, dict) and isinstance(value.get("papers"), list):
        items = {}
        for entry in value["papers"]:
            if isinstance(entry, dict) and entry.get("id") is not None:
                items.setdefault(str(entry["id"]).strip(), entry)
        if len(ids) == 1 and ids[0] not in items and len(value["papers"]) == 1:
            items = {ids[0]: value["papers"][0]}
    elif len(ids) == 1:
        items = {ids[0]: value}
    else:
        return {}, {i: "the answer must be an object with a 'papers' list" for i in ids}
    results: dict[str, JudgementResult] = {}
    errors: dict[str, str] = {}
    for paper_id in ids:
        if paper_id not in items:
            errors[paper_id] = f"no entry for paper {paper_id}"
            continue
        try:
            results[paper_id] = normalise(items[paper_id], profile, paper_id=paper_id)
        except AnswerError as exc:
            errors[paper_id] = str(exc)
    return results, errors

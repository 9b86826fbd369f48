"""Cost per 1,000 papers scanned on a real mixed day, with the prefilter and papers per call.

    python bench/cost_per_day.py [--day E_paper_metadata/.../raw_days/2025-12-16.jsonl]
                                 [--categories cs.DC,cs.OS,cs.LG] [--shares 1.0,0.5,0.4,0.3,0.2]
                                 [--papers-per-call 1,5,10] [--batch-shares 1.0,0.5,0.4]
                                 [--profile llm-systems]
                                 [--samples ../shared/arxiv-samples]

The day's papers in ``--categories`` (the shipped default; cs.LG dominates) are stored in a
fresh SQLite database per configuration and scored for one profile through
``score.stage.score_papers`` with the real ``LlmScorer`` against ``tests/stub_llm.py`` (no
latency, no faults) and the prefilter of the nightly run (``[llm] prefilter``: the local
scorer ranks the day, the best share goes to the LLM). Cost uses the gpt-4.1-nano prices of
the shipped config ($0.10 per million input tokens, $0.025 cached, $0.40 output).

The token estimate: prompt and completion tokens are the stub's reported usage, 4 characters
per token of the messages sent (our system message, the paper blocks) and of its answers (its
TL;DR is the abstract's first 30 words, close to the 40-word TL;DR the prompt asks for). The
system message counts as cached from its second sighting, as OpenAI's prompt caching does for
an identical prefix of 1,024 tokens or more (ours is about 1,240 tokens by that estimate; a
cache hit is likely, not guaranteed). Not counted by the stub: the ``json_schema``
``response_format`` (about ``len(schema) / 4`` tokens per call) and a few tokens of message
framing. "Upper bound" prices every prompt token at the full input price and adds the schema.

Prefilter recall on the labelled set: the universe of ``eval`` on the LMsys list
(``systems_subset`` dumps, cs.DC/cs.OS; the profile's liked examples left out); per
announcement day the local scorer's ranking (with the profile's examples, as the nightly
prefilter; relevance, then arxiv_id, as ``score.stage`` does) keeps the best
``ceil(share x papers)``; recall = labelled positives kept / labelled positives. Two spans:
the issue's (up to 2025-09-16) and the held-out days where the list kept its usual criterion
(1-8 Aug and 17-30 Sep 2025; ``bench/local_auc.py`` prints why). (On a real
nightly day the ranked set also holds the cs.LG papers; the labels cover cs.DC/cs.OS only.)
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import logging
import math
import sys
import tempfile
from pathlib import Path

import structlog
from sqlmodel import Session

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # tests.stub_llm

from tests.stub_llm import StubConfig, running  # noqa: E402

from arxivfilter import store  # noqa: E402
from arxivfilter.config import Profile, load_profiles, load_settings  # noqa: E402
from arxivfilter.evaluate import build_universe, example_ids, read_labels  # noqa: E402
from arxivfilter.fetch.day import fetch_replay  # noqa: E402
from arxivfilter.models import Entry, PaperText  # noqa: E402
from arxivfilter.score.llm import build_llm_scorer  # noqa: E402
from arxivfilter.score.local import LocalScorer  # noqa: E402
from arxivfilter.score.prices import Prices  # noqa: E402
from arxivfilter.score.prompt import answer_schema, load_templates, system_message  # noqa: E402
from arxivfilter.score.stage import Budget, ScoreCounts, score_papers  # noqa: E402

MODEL = "gpt-4.1-nano"
DAY = "E_paper_metadata/LinChentang__daily-arXiv-ai-enhanced/raw_days/2025-12-16.jsonl"
LABELS = "labels/lmsys_positive_ids.tsv"


def quiet_logs() -> None:
    structlog.configure(
        wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING),
        logger_factory=structlog.PrintLoggerFactory(file=sys.stderr),
    )


def score_day(
    day_file: Path,
    categories: list[str],
    profile: Profile,
    share: float,
    per_call: int,
    base_url: str,
) -> tuple[int, ScoreCounts]:
    """(papers scanned, counts) of one configuration in a fresh database."""
    with tempfile.TemporaryDirectory(prefix="arxivfilter-cost-") as work:
        settings = load_settings(
            env={
                "ARXIVFILTER_DB_URL": f"sqlite:///{Path(work) / 'cost.db'}",
                "OPENAI_BASE_URL": base_url,
                "ARXIVFILTER_MODEL": MODEL,
                "ARXIVFILTER_LLM__PAPERS_PER_CALL": str(per_call),
                "ARXIVFILTER_LLM__PREFILTER": str(share),
            }
        )
        engine = store.make_engine(settings.storage.db_url)
        try:
            with Session(engine, expire_on_commit=False) as session:
                entries = fetch_replay(day_file).entries
                store.store_entries(session, entries, categories=categories)
                day = sorted({e.announce_date for e in entries if e.announce_date})[0]
                papers = [p for p, _ in store.papers_on(session, day, categories)]
                counts = asyncio.run(_score(session, settings, engine, profile, papers))
        finally:
            engine.dispose()
    return len(papers), counts


async def _score(session, settings, engine, profile, papers) -> ScoreCounts:  # type: ignore[no-untyped-def]
    scorer = build_llm_scorer(settings, engine=engine)
    try:
        return await score_papers(
            session,
            scorer,
            profile,
            papers,
            budget=Budget(),
            price=Prices().call_cost,
            base_url=settings.llm.base_url,
            prefilter=(LocalScorer(), settings.llm.prefilter),
        )
    finally:
        await scorer.aclose()


# Held-out days by the labelled list's own criterion (bench/local_auc.py prints the evidence):
# the window, and the days that follow the list's usual criterion.
RECALL_SPANS = {
    "to 16 Sep": [(dt.date(2025, 3, 1), dt.date(2025, 9, 16))],
    "usual days": [
        (dt.date(2025, 8, 1), dt.date(2025, 8, 8)),
        (dt.date(2025, 9, 17), dt.date(2025, 9, 30)),
    ],
}


def wilson(hits: int, n: int, z: float = 1.96) -> tuple[float, float]:
    """The Wilson 95 % interval of a proportion (hits of n)."""
    if n == 0:
        return 0.0, 1.0
    p = hits / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return max(0.0, centre - half), min(1.0, centre + half)


def _recall_cell(kept: int, best: int, total: int) -> str:
    """``recall [Wilson 95 %] / best`` of one share and span, right-aligned."""
    if not total:
        return "-".rjust(24)
    low, high = wilson(kept, total)
    return f"{kept / total:.2f} [{low:.2f}-{high:.2f}] / {best / total:.2f}".rjust(24)


def prefilter_recall(
    samples: Path, profile: Profile, shares: list[float]
) -> dict[str, dict[float, tuple[int, int, int]]]:
    """span -> share -> (labelled positives kept, the most any ranking keeps, positives).

    The prefilter is the nightly run's: the local scorer with the profile's liked examples
    (their text from the samples, as ``eval`` takes it); examples leave the universe.
    """
    gold = read_labels(samples / LABELS).ids
    uni = build_universe(
        fetch_replay(samples / "E_paper_metadata").entries,
        categories=["cs.DC", "cs.OS"],
        date_from=None,
        date_to=dt.date(2025, 9, 30),
        examples=example_ids(profile),
    )

    def text(e: Entry) -> PaperText:
        return PaperText(
            arxiv_id=e.arxiv_id, title=e.title, abstract=e.abstract, categories=e.categories
        )

    texts = {e.arxiv_id: text(e) for e in uni.entries}
    scorer = LocalScorer(examples={profile.name: [text(e) for e in uni.example_entries]})
    by_day: dict[dt.date, list[str]] = {}
    for arxiv_id, d in uni.dates.items():
        by_day.setdefault(d, []).append(arxiv_id)
    relevance: dict[str, int] = {}
    for ids in by_day.values():
        items = [texts[i] for i in ids]
        for item, result in zip(items, scorer.score_many(profile, items), strict=True):
            relevance[item.arxiv_id] = result.relevance or 0
    out: dict[str, dict[float, tuple[int, int, int]]] = {}
    for name, spans in RECALL_SPANS.items():
        days = [d for d in by_day if any(a <= d <= b for a, b in spans)]
        out[name] = {}
        for share in shares:
            kept = best = total = 0
            for d in days:
                ranked = sorted(by_day[d], key=lambda i: (-relevance[i], i))
                n_keep = max(1, math.ceil(len(ranked) * share))
                kept += sum(1 for i in ranked[:n_keep] if i in gold)
                n_gold = sum(1 for i in ranked if i in gold)
                best += min(n_keep, n_gold)
                total += n_gold
            out[name][share] = (kept, best, total)
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=Path, default=ROOT.parent / "shared" / "arxiv-samples")
    parser.add_argument("--day", default=DAY, help="a JSONL dump, relative to --samples")
    parser.add_argument("--categories", default="cs.DC,cs.OS,cs.LG")
    parser.add_argument("--shares", default="1.0,0.5,0.4,0.3,0.2")
    parser.add_argument("--papers-per-call", default="1,5,10")
    parser.add_argument("--batch-shares", default="1.0,0.5,0.4", help="shares tried in batches")
    parser.add_argument("--profile", default="llm-systems")
    args = parser.parse_args()
    quiet_logs()
    categories = [c.strip() for c in args.categories.split(",") if c.strip()]
    shares = [float(s) for s in args.shares.split(",")]
    sizes = [int(s) for s in args.papers_per_call.split(",")]
    profile = load_profiles([args.profile])[0]
    prices = Prices()
    rates = prices.rates(MODEL)
    assert rates is not None
    templates = load_templates()

    recall = prefilter_recall(args.samples, profile, shares)
    print(
        f"day {Path(args.day).name}, categories {','.join(categories)}, profile {profile.name}, "
        f"{MODEL} at ${rates.input:g} in / ${rates.cached_input:g} cached / "
        f"${rates.output:g} out per million tokens ({rates.source})"
    )
    header = (
        f"{'share':>5} {'per call':>8} {'scanned':>7} {'to LLM':>6} {'calls':>5} "
        f"{'prompt/pp':>9} {'cached/pp':>9} {'compl/pp':>8} {'$/1k scanned':>12} "
        f"{'upper bound':>11} " + " ".join(f"{'recall/best ' + name:>24}" for name in RECALL_SPANS)
    )
    print(header)
    batch_shares = [float(s) for s in args.batch_shares.split(",")]
    configs = [(s, 1) for s in shares] + [(s, n) for n in sizes if n != 1 for s in batch_shares]
    with running(StubConfig(model=MODEL)) as stub:
        for share, per_call in configs:
            scanned, c = score_day(
                args.samples / args.day, categories, profile, share, per_call, stub.base_url
            )
            sent = scanned - c.prefiltered
            schema = len(json.dumps(answer_schema(profile, papers_per_call=per_call))) / 4
            cost = prices.cost_usd(MODEL, c.prompt_tokens, c.completion_tokens, c.cached_tokens)
            upper = prices.cost_usd(
                MODEL, c.prompt_tokens + round(schema * c.calls), c.completion_tokens, 0
            )
            rec = " ".join(
                _recall_cell(*recall[name].get(share, (0, 0, 0))) for name in RECALL_SPANS
            )
            n = max(sent, 1)
            print(
                f"{share:>5.2f} {per_call:>8} {scanned:>7} {sent:>6} {c.calls:>5} "
                f"{c.prompt_tokens / n:>9.0f} {c.cached_tokens / n:>9.0f} "
                f"{c.completion_tokens / n:>8.0f} {(cost or 0) / scanned * 1000:>12.4f} "
                f"{(upper or 0) / scanned * 1000:>11.4f} {rec}"
            )
    system = system_message(templates, profile)
    print(
        f"system message: {len(system)} characters (~{len(system) / 4:.0f} tokens); answer "
        f"schema ~{len(json.dumps(answer_schema(profile))) / 4:.0f} tokens per call; "
        "'/pp' = per paper sent to the LLM"
    )
    totals = ", ".join(
        f"{name} {next(iter(by_share.values()))[2]}" for name, by_share in recall.items()
    )
    print(
        f"recall: labelled positives of the eval universe ({totals}; the liked examples left"
        " out) kept by the prefilter (the local scorer with the profile's examples); best: the"
        " most any ranking could keep at that share; usual days: 1-8 Aug and 17-30 Sep 2025,"
        " where the list kept its usual criterion (see bench/local_auc.py); [..]: Wilson 95 %"
        " interval. Caveat: recall is ranked within cs.DC/cs.OS days (the labels' universe),"
        " the cost on a mixed day where cs.LG papers compete for the same share"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())

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
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import structlog
from sqlmodel import Session

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # tests.stub_llm

from sqlmodel import select  # noqa: E402
from tests.stub_llm import StubConfig, running  # noqa: E402

from arxivfilter import store  # noqa: E402
from arxivfilter.config import Profile, load_profiles, load_settings  # noqa: E402
from arxivfilter.evaluate import build_universe, example_ids, read_labels  # noqa: E402
from arxivfilter.fetch.day import fetch_replay  # noqa: E402
from arxivfilter.models import Entry, LlmCall, Paper, PaperText  # noqa: E402
from arxivfilter.score.days import first_pass  # noqa: E402
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


@dataclass
class DayResult:
    scanned: int
    counts: ScoreCounts
    # pass name ("first" | "full") -> [calls, prompt, cached, completion] tokens
    passes: dict[str, list[int]]
    listed: set[str]  # papers whose newest judgement reaches the threshold


def score_day(
    day_file: Path,
    categories: list[str],
    profile: Profile,
    share: float,
    per_call: int,
    base_url: str,
    passes: int = 1,
) -> DayResult:
    """One configuration in a fresh database."""
    with tempfile.TemporaryDirectory(prefix="arxivfilter-cost-") as work:
        settings = load_settings(
            env={
                "ARXIVFILTER_DB_URL": f"sqlite:///{Path(work) / 'cost.db'}",
                "OPENAI_BASE_URL": base_url,
                "ARXIVFILTER_MODEL": MODEL,
                "ARXIVFILTER_LLM__PAPERS_PER_CALL": str(per_call),
                "ARXIVFILTER_LLM__PREFILTER": str(share),
                "ARXIVFILTER_LLM__PASSES": str(passes),
            }
        )
        engine = store.make_engine(settings.storage.db_url)
        try:
            with Session(engine, expire_on_commit=False) as session:
                entries = fetch_replay(day_file).entries
                store.store_entries(session, entries, categories=categories)
                day = sorted({e.announce_date for e in entries if e.announce_date})[0]
                papers = [p for p, _ in store.papers_on(session, day, categories)]
                counts, first_hash = asyncio.run(_score(session, settings, engine, profile, papers))
                by_pass: dict[str, list[int]] = {}
                for call in session.exec(select(LlmCall)).all():
                    row = by_pass.setdefault(
                        "first" if call.prompt_hash == first_hash else "full", [0, 0, 0, 0]
                    )
                    row[0] += 1
                    row[1] += call.prompt_tokens or 0
                    row[2] += call.cached_tokens or 0
                    row[3] += call.completion_tokens or 0
                listed = set()
                for p in papers:
                    j = store.latest_judgement(session, p.arxiv_id, profile.name)
                    if j is not None and (j.relevance or 0) >= profile.threshold:
                        listed.add(p.arxiv_id)
        finally:
            engine.dispose()
    return DayResult(len(papers), counts, by_pass, listed)


async def _score(session, settings, engine, profile, papers) -> tuple[ScoreCounts, str | None]:  # type: ignore[no-untyped-def]
    scorer = build_llm_scorer(settings, remember=partial(store.ModeMemory, engine))
    first = first_pass(settings, scorer)
    try:
        counts = await score_papers(
            session,
            scorer,
            profile,
            papers,
            budget=Budget(),
            price=Prices().call_cost,
            base_url=settings.llm.base_url,
            prefilter=(LocalScorer(), settings.llm.prefilter),
            first_pass=first,
        )
        return counts, first[0].prompt_hash(profile) if first else None
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
        return Paper(
            arxiv_id=e.arxiv_id,
            title=e.title,
            abstract=e.abstract,
            categories=e.categories,
            text_hash="",
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


TIER_NAMES = {"direct": "standard", "flex": "flex", "batch": "batch"}


def tier_table(
    day_file: Path, categories: list[str], profile: Profile, base_url: str, sizes: list[int]
) -> None:
    """$ per 1,000 scanned: direct / flex / batch x one / two passes x papers per call x prefilter.

    The tokens are the same whichever way a request travels (a batch line is the same body
    as a direct call), so each configuration is scored once and priced at each tier.
    """
    flex_model = "gpt-5-nano"
    print()
    print(
        f"By tier, $ per 1,000 papers scanned. {MODEL} has no flex price in the catalogue "
        f"(OpenAI offers flex for newer models), so its flex column is its standard price; "
        f"the {flex_model} columns price the same tokens at a model that has flex."
    )
    print(
        f"{'passes':>6} {'per call':>8} {'share':>5} {'calls':>5} {'to 2nd':>6} "
        f"{'1st p/c/o per paper':>19} {'full p/c/o per paper':>20} "
        f"{'direct':>8} {'flex':>8} {'batch':>8} {flex_model + ' flex':>15} "
        f"{flex_model + ' batch':>16} {'lists':>5} {'same as 1 pass':>14}"
    )
    one_pass: dict[tuple[int, float], set[str]] = {}
    for passes in (1, 2):
        for per_call in sizes:
            for share in (1.0, 0.4):
                r = score_day(day_file, categories, profile, share, per_call, base_url, passes)
                if passes == 1:
                    one_pass[(per_call, share)] = r.listed
                c = r.counts
                costs = []
                for model, tier in [
                    (MODEL, "standard"),
                    (MODEL, "flex"),
                    (MODEL, "batch"),
                    (flex_model, "flex"),
                    (flex_model, "batch"),
                ]:
                    cost = Prices(tier=tier).cost_usd(  # type: ignore[arg-type]
                        model, c.prompt_tokens, c.completion_tokens, c.cached_tokens
                    )
                    costs.append((cost or 0) / r.scanned * 1000)

                sent = r.scanned - c.prefiltered
                second = c.second_pass if passes == 2 else sent
                same = r.listed == one_pass.get((per_call, share))
                print(
                    f"{passes:>6} {per_call:>8} {share:>5.2f} {c.calls:>5} {second:>6} "
                    f"{_per_paper(r, 'first', sent):>19} {_per_paper(r, 'full', second):>20} "
                    f"{costs[0]:>8.4f} {costs[1]:>8.4f} {costs[2]:>8.4f} {costs[3]:>15.4f} "
                    f"{costs[4]:>16.4f} {len(r.listed):>5} {'yes' if same else 'NO':>14}"
                )
    print(
        "p/c/o = prompt / cached / completion tokens per paper asked in that pass; "
        "'to 2nd' = papers given the full judgement; 'lists' = papers the digest lists"
    )


def _per_paper(r: DayResult, name: str, n: int) -> str:
    """prompt/cached/completion tokens per paper of one pass."""
    row = r.passes.get(name)
    if not row or not n:
        return "-"
    return f"{row[1] / n:.0f}/{row[2] / n:.0f}/{row[3] / n:.0f}"


def prefix_break_even(profile: Profile) -> None:
    """Whether a system message kept above OpenAI's 1,024-token caching minimum pays."""
    from arxivfilter.score.questions import FIRST, first_system_message

    first = first_system_message(load_templates(FIRST.files), profile, 1)
    full = system_message(load_templates(), profile)
    bare = len(profile.description) + len(", ".join(profile.keywords)) + len(profile.exclude) + 600
    print()
    print(
        f"cacheable prefix: full-pass system message ~{len(full) / 4:.0f} tokens, first-pass "
        f"~{len(first) / 4:.0f} tokens (both above the 1,024-token caching minimum); the "
        f"smallest first-pass message (profile text + scale, no tag list) ~{bare / 4:.0f} tokens"
    )
    for tier in ("standard", "batch"):
        rates = Prices(tier=tier).rates(MODEL)  # type: ignore[arg-type]
        assert rates is not None
        kept = max(len(first) / 4, 1024) * rates.cached_input
        trimmed = bare / 4 * rates.input
        print(
            f"  {tier}: kept and cached {kept / 1e6 * 1000:.4f} $ per 1,000 calls vs trimmed "
            f"below 1,024 and uncached {trimmed / 1e6 * 1000:.4f}; keeping pays above "
            f"{1024 * rates.cached_input / rates.input:.0f} tokens of trimmed prefix"
        )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=Path, default=ROOT.parent / "shared" / "arxiv-samples")
    parser.add_argument("--day", default=DAY, help="a JSONL dump, relative to --samples")
    parser.add_argument("--categories", default="cs.DC,cs.OS,cs.LG")
    parser.add_argument("--shares", default="1.0,0.5,0.4,0.3,0.2")
    parser.add_argument("--papers-per-call", default="1,5,10")
    parser.add_argument("--batch-shares", default="1.0,0.5,0.4", help="shares tried in batches")
    parser.add_argument("--profile", default="llm-systems")
    parser.add_argument("--tiers-only", action="store_true", help="only the tiers x passes table")
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

    if args.tiers_only:
        with running(StubConfig(model=MODEL)) as stub:
            tier_table(args.samples / args.day, categories, profile, stub.base_url, sizes)
        prefix_break_even(profile)
        return 0
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
            result = score_day(
                args.samples / args.day, categories, profile, share, per_call, stub.base_url
            )
            scanned, c = result.scanned, result.counts
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
        tier_table(args.samples / args.day, categories, profile, stub.base_url, [1, 5])
    prefix_break_even(profile)
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

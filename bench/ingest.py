"""Ingestion: requests and politeness waits per announcement day and per 30-day backfill.

    python bench/ingest.py [--categories cs.DC,cs.OS,cs.LG] [--backfill-days 30]
                           [--per-day cs.DC=27,cs.OS=1,cs.LG=297] [--replace-ratio 0.45]
                           [--page-size 1000] [--samples ../shared/arxiv-samples]

Everything goes through ``pipeline.fetch`` with the real polite client (``fetch.http``: one
limiter, 3 s between request starts) on an injected fake clock, so no second is really
waited and the waits that would be are counted. respx serves arXiv:

* one announcement day (the latest listing, RSS + export-API fill): the real rss.arxiv.org
  capture of 2024-11-28 (``B_rss_feeds``, the cs items carrying one of ``--categories``),
  then export-API ``id_list`` pages built from those same entries (``tests/fakes.py``), for
  each ``[arxiv] api_batch_size`` in ``--batch-sizes`` (the shipped default is 100);
* a ``--backfill-days`` range (OAI-PMH ``ListRecords`` per set, arXivRaw, resumption tokens):
  synthetic pages of ``--page-size`` records (arXiv's OAI pages hold 1,000: the recorded
  2016 page's token points to record 1001). Records per set = mailings in the range x
  ``--per-day`` x (1 + ``--replace-ratio``). Defaults measured on real data: new and
  cross-listed papers of 2025-12-16 (``raw_days``, 320 papers: cs.LG 297, cs.DC 27, cs.OS
  1) and replacements per new or cross-listed item in the 2024-11-28 feed (72 / 160).

The minimum the source allows: one RSS request for all categories (a feed holds up to 2,000
items) plus ceil(papers / 2,000) export-API requests (2,000 results per request at most);
for a range, ceil(records / page size) OAI pages per set.
"""

from __future__ import annotations

import argparse
import datetime as dt
import logging
import math
import re
import sys
import tempfile
from pathlib import Path
from urllib.parse import parse_qs, urlsplit
from xml.sax.saxutils import escape

import httpx
import respx
import structlog

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # tests.fakes

from tests.fakes import FakeClock, api_responder  # noqa: E402

from arxivfilter import dates, pipeline  # noqa: E402
from arxivfilter.config import load_settings  # noqa: E402
from arxivfilter.fetch.http import Limiter  # noqa: E402
from arxivfilter.fetch.rss import parse_rss, rss_url  # noqa: E402

FEED = "B_rss_feeds/aioarxiv_rss_2024-11-28/rss_mock_feed.cs_only.xml"
LISTING = dt.date(2024, 11, 28)
NY_NOON = dt.time(17, 0, tzinfo=dt.UTC)  # 12:00 in New York (EST)
API_CAP = 2000  # export API: results per request
RSS_CAP = 2000  # rss.arxiv.org: items per feed
OAI = "https://oaipmh.arxiv.org/oai"


def quiet_logs() -> None:
    structlog.configure(
        wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING),
        logger_factory=structlog.PrintLoggerFactory(file=sys.stderr),
    )


def make_app(work: Path, clock: FakeClock, now: dt.datetime, batch: int = 100) -> pipeline.App:
    settings = load_settings(
        env={
            "ARXIVFILTER_DB_URL": f"sqlite:///{work / 'ingest.db'}",
            "ARXIVFILTER_RAW_DIR": str(work / "raw"),
            "ARXIVFILTER_ARXIV__API_BATCH_SIZE": str(batch),
            "ARXIVFILTER_CONTACT": "bench@example.org",
        }
    )
    return pipeline.App(
        settings,
        now=lambda: now,
        arxiv_http=httpx.Client(),
        limiter=Limiter(settings.arxiv.delay_seconds, clock=clock.clock, sleep=clock.sleep),
    )


def trimmed_feed(feed: bytes, categories: list[str]) -> bytes:
    """The real feed with only the items carrying one of ``categories`` (what rss.arxiv.org
    serves for ``rss/cs.DC+cs.OS+cs.LG``)."""
    text = feed.decode("utf-8")
    wanted = set(categories)

    def keep(m: re.Match[str]) -> str:
        cats = set(re.findall(r"<category>([^<]+)</category>", m.group(0)))
        return m.group(0) if cats & wanted else ""

    return re.sub(r"<item>.*?</item>\s*", keep, text, flags=re.DOTALL).encode("utf-8")


def one_day(samples: Path, categories: list[str], batch: int) -> dict[str, object]:
    """Fetch the latest listing (RSS + API fill); requests, waits and longest API URL."""
    settings = load_settings(env={})
    url = rss_url(settings.arxiv.rss_url, categories)
    feed = trimmed_feed((samples / FEED).read_bytes(), categories)
    listing = parse_rss(feed, url)
    known = {e.arxiv_id: e for e in listing.entries}
    clock = FakeClock()
    with tempfile.TemporaryDirectory() as work, respx.mock(assert_all_called=False) as router:
        router.get(url).mock(return_value=httpx.Response(200, content=feed))
        api = router.get(url__startswith=settings.arxiv.api_url).mock(
            side_effect=api_responder(known)
        )
        app = make_app(Path(work), clock, dt.datetime.combine(LISTING, NY_NOON), batch)
        try:
            summary = pipeline.fetch(app, pipeline.Options(categories=categories))
        finally:
            app.close()
        longest = max((len(str(c.request.url)) for c in api.calls), default=0)
    return {
        "items": len(listing.entries),
        "papers": summary.papers,
        "requests": summary.requests,
        "api_requests": api.call_count,
        "waited": summary.waited_s,
        "sleeps": sum(clock.sleeps),
        "longest_url": longest,
    }


# --------------------------------------------------------------------------- OAI


def mailings(first: dt.date, last: dt.date, holidays: set[dt.date]) -> list[dt.date]:
    out = []
    d = first
    while d <= last:
        if dates.is_mailing_day(d, holidays):
            out.append(d)
        d += dt.timedelta(days=1)
    return out


def oai_record(arxiv_id: str, category: str, versions: list[dt.datetime], spec: str) -> str:
    version_xml = "".join(
        f'<version version="v{i}"><date>{v:%a, %d %b %Y %H:%M:%S} GMT</date>'
        f"<size>100kb</size><source_type>D</source_type></version>"
        for i, v in enumerate(versions, start=1)
    )
    title = escape(f"Synthetic paper {arxiv_id} on {category}")
    abstract = escape(f"We study problem {arxiv_id}. " * 40)
    return (
        f"<record><header><identifier>oai:arXiv.org:{arxiv_id}</identifier>"
        f"<datestamp>{versions[-1]:%Y-%m-%d}</datestamp><setSpec>{spec}</setSpec></header>"
        '<metadata><arXivRaw xmlns="http://arxiv.org/OAI/arXivRaw/">'
        f"<id>{arxiv_id}</id><submitter>A. Author</submitter>{version_xml}"
        f"<title>{title}</title><authors>A. Author, B. Author</authors>"
        f"<categories>{category}</categories><license>http://creativecommons.org/licenses/by/4.0/</license>"
        f"<abstract>{abstract}</abstract></arXivRaw></metadata></record>"
    )


def oai_page(records: list[str], token: str | None, cursor: int, request: str) -> bytes:
    token_xml = (
        f'<resumptionToken cursor="{cursor}">{token}</resumptionToken>'
        if token
        else f'<resumptionToken cursor="{cursor}"/>'
    )
    body = (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<OAI-PMH xmlns="http://www.openarchives.org/OAI/2.0/">'
        f"<responseDate>2026-01-17T02:10:07Z</responseDate>{request}"
        f"<ListRecords>{''.join(records)}{token_xml}</ListRecords></OAI-PMH>"
    )
    return body.encode("utf-8")


def build_sets(
    categories: list[str],
    days: list[dt.date],
    per_day: dict[str, int],
    replace_ratio: float,
) -> dict[str, list[str]]:
    """Set spec -> records: each day's new papers (submitted the weekday before, 12:00 ET) and
    replacements (v1 a year earlier, v2 the weekday before the day)."""
    from arxivfilter.fetch.past import set_spec

    out: dict[str, list[str]] = {}
    serial = 0
    for cat in categories:
        spec = set_spec(cat)
        records: list[str] = []
        n_new = per_day.get(cat, 0)
        n_rep = round(n_new * replace_ratio)
        for day in days:
            before = day - dt.timedelta(days=3 if day.weekday() == 0 else 1)
            submitted = dt.datetime.combine(before, dt.time(17, 0))
            for _ in range(n_new):
                serial += 1
                records.append(oai_record(f"2511.{serial:05d}", cat, [submitted], spec))
            for _ in range(n_rep):
                serial += 1
                old = submitted - dt.timedelta(days=365)
                records.append(oai_record(f"2411.{serial:05d}", cat, [old, submitted], spec))
        out[spec] = records
    return out


def backfill(
    categories: list[str],
    n_days: int,
    per_day: dict[str, int],
    replace_ratio: float,
    page_size: int,
) -> dict[str, object]:
    """``fetch --from D1 --to D2`` over an OAI-PMH stub; requests and waits."""
    settings = load_settings(env={})
    last = dt.date(2025, 12, 12)
    first = last - dt.timedelta(days=n_days - 1)
    days = mailings(first, last, settings.holiday_dates)
    sets = build_sets(categories, days, per_day, replace_ratio)

    def respond(request: httpx.Request) -> httpx.Response:
        query = {k: v[0] for k, v in parse_qs(urlsplit(str(request.url)).query).items()}
        token = query.get("resumptionToken")
        if token:
            spec, _, start_s = token.rpartition("|")
            start = int(start_s)
        else:
            spec, start = query["set"], 0
        records = sets.get(spec, [])
        chunk = records[start : start + page_size]
        nxt = start + page_size
        next_token = f"{spec}|{nxt}" if nxt < len(records) else None
        req = f'<request verb="ListRecords">{OAI}</request>'
        if not records:
            body = (
                '<?xml version="1.0" encoding="UTF-8"?>'
                '<OAI-PMH xmlns="http://www.openarchives.org/OAI/2.0/">'
                f"<responseDate>2026-01-17T02:10:07Z</responseDate>{req}"
                '<error code="noRecordsMatch">no records</error></OAI-PMH>'
            ).encode()
            return httpx.Response(200, content=body)
        return httpx.Response(200, content=oai_page(chunk, next_token, start, req))

    clock = FakeClock()
    now = dt.datetime.combine(last + dt.timedelta(days=3), NY_NOON)
    with tempfile.TemporaryDirectory() as work, respx.mock(assert_all_called=False) as router:
        route = router.get(url__startswith=OAI).mock(side_effect=respond)
        app = make_app(Path(work), clock, now)
        try:
            summary = pipeline.fetch(
                app, pipeline.Options(categories=categories, date_from=first, date_to=last)
            )
        finally:
            app.close()
    records = {spec: len(r) for spec, r in sets.items()}
    return {
        "first": first,
        "last": last,
        "mailings": len(days),
        "records": records,
        "requests": summary.requests,
        "oai_calls": route.call_count,
        "waited": summary.waited_s,
        "sleeps": sum(clock.sleeps),
        "papers": summary.papers,
        "minimum": sum(max(1, math.ceil(n / page_size)) for n in records.values()),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=Path, default=ROOT.parent / "shared" / "arxiv-samples")
    parser.add_argument("--categories", default="cs.DC,cs.OS,cs.LG")
    parser.add_argument("--batch-sizes", default="100,500,1000,2000")
    parser.add_argument("--backfill-days", type=int, default=30)
    parser.add_argument("--per-day", default="cs.DC=27,cs.OS=1,cs.LG=297")
    parser.add_argument("--replace-ratio", type=float, default=0.45)
    parser.add_argument("--page-size", type=int, default=1000)
    args = parser.parse_args()
    quiet_logs()
    categories = [c.strip() for c in args.categories.split(",") if c.strip()]
    per_day = {k: int(v) for k, v in (p.split("=") for p in args.per_day.split(","))}

    print(f"one announcement day ({LISTING}, latest listing: RSS + export-API fill), real feed")
    for batch in (int(b) for b in args.batch_sizes.split(",")):
        r = one_day(args.samples, categories, batch)
        items = int(r["items"])  # type: ignore[call-overload]
        minimum = math.ceil(items / RSS_CAP) + math.ceil(items / API_CAP)
        print(
            f"  api_batch_size {batch:>4}: {r['items']} feed items, {r['papers']} papers stored; "
            f"{r['requests']} requests (1 RSS + {r['api_requests']} API), "
            f"{r['waited']:.0f} s politeness waits (fake clock: {r['sleeps']:.0f} s); minimum "
            f"{minimum} requests ({(minimum - 1) * 3} s); longest API URL {r['longest_url']} chars"
        )
    b = backfill(categories, args.backfill_days, per_day, args.replace_ratio, args.page_size)
    total = sum(b["records"].values())  # type: ignore[attr-defined]
    print(
        f"{args.backfill_days}-day backfill via OAI-PMH ({b['first']} .. {b['last']}, "
        f"{b['mailings']} mailings), pages of {args.page_size} records"
    )
    print(
        "  records per set: "
        + ", ".join(f"{k} {v:,}" for k, v in b["records"].items())  # type: ignore[attr-defined]
        + f" ({total:,} in all); {b['papers']:,} paper-days stored"
    )
    note = "" if b["waited"] else " (fetch's summary reports 0: harvest_range does not count waits)"
    print(
        f"  {b['requests']} requests ({b['oai_calls']} OAI pages), {b['sleeps']:.0f} s politeness "
        f"waits on the fake clock{note}; minimum {b['minimum']} requests "
        f"({(int(b['minimum']) - 1) * 3} s)"  # type: ignore[call-overload]
    )
    typical = round(sum(per_day.get(c, 0) for c in categories) * (1 + args.replace_ratio))
    print(
        f"a typical day of these categories (~{typical} items: --per-day x (1 + --replace-ratio)), "
        "computed: "
        + ", ".join(
            f"api_batch_size {n}: {1 + math.ceil(typical / n)} requests "
            f"({3 * math.ceil(typical / n)} s)"
            for n in (int(x) for x in args.batch_sizes.split(","))
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""The web page at scale: build time and size for a year of synthetic days x 2 profiles, and
search latency in headless chromium.

    python bench/site_build.py [--papers 100000] [--per-day 400] [--repeat 2]
                               [--queries 20] [--min-relevance 0] [--keep DIR]

The database is filled as ``bench/scale.py`` fills it (``--per-day`` papers a weekday, about
250 days for 100,000 papers, every paper judged for both shipped profiles). Then
``web.build.build_site`` is timed ``--repeat`` times (the first writes every file, the
others find them unchanged), the output's size is printed raw and gzipped (what GitHub
Pages sends), and Debian's chromium opens one profile's page from file:// to time, inside
the page: loading the data, building the MiniSearch index, and each of ``--queries``
searches (median and worst). The searches go through the page's own hook
(``arxivfilterSite.search``), the same code the search box calls.
"""

from __future__ import annotations

import argparse
import gzip
import importlib
import statistics
import sys
import tempfile
import time
from pathlib import Path

from sqlalchemy import text
from sqlmodel import Session

from arxivfilter import store
from arxivfilter.config import load_profiles, load_settings
from arxivfilter.web.build import build_site

sys.path.insert(0, str(Path(__file__).resolve().parent))
scale = importlib.import_module("scale")  # bench/scale.py: the synthetic database

QUERIES = [
    "kv cache",
    "speculative decoding",
    "gpu cluster scheduling",
    "memory",
    "throughput latency",
    "Author 1234",
    "diffusion vision",
    "transformer inference",
    "agent",
    "multimodal language model",
]
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]


def sizes(folder: Path) -> tuple[int, int, dict[str, int]]:
    raw = packed = 0
    per: dict[str, int] = {}
    for p in sorted(folder.rglob("*")):
        if p.is_file():
            data = p.read_bytes()
            raw += len(data)
            packed += len(gzip.compress(data, 6))
            per[str(p.relative_to(folder))] = len(data)
    return raw, packed, per


def browse(page_path: Path, queries: int) -> None:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path="/usr/bin/chromium", args=FLAGS)
        page = browser.new_page()
        t = time.perf_counter()
        page.goto(page_path.as_uri(), timeout=300_000)
        page.wait_for_selector("#results article", timeout=300_000)
        load_s = time.perf_counter() - t
        papers = page.evaluate("arxivfilterSite.papers()")
        # the index is built in the background from the first paint on: when was it ready?
        index_ms = page.evaluate(
            "async () => { await arxivfilterSite.ready(); return performance.now(); }"
        )
        heap = page.evaluate("performance.memory ? performance.memory.usedJSHeapSize : 0")
        times: list[float] = []
        hits: list[int] = []
        for i in range(queries):
            q = QUERIES[i % len(QUERIES)]
            ms, n = page.evaluate(
                "q => { const t = performance.now(); const n = arxivfilterSite.search(q);"
                " return [performance.now() - t, n]; }",
                q,
            )
            times.append(ms)
            hits.append(n)
        # the whole interaction: type into the box, the list re-rendered
        t = time.perf_counter()
        page.locator("#q").fill("kv cache")
        page.locator("#status").filter(has_text="match").wait_for(timeout=60_000)
        typed_ms = (time.perf_counter() - t) * 1000
        browser.close()
    print(
        f"browser: {papers:,} papers; page ready in {load_s:.1f} s (data loaded, first 100 shown)"
    )
    print(
        f"  search index ready {index_ms / 1000:.1f} s after navigation; JS heap {heap / 1e6:.0f} MB"
    )
    print(
        f"  search: median {statistics.median(times):.1f} ms, worst {max(times):.1f} ms over "
        f"{queries} queries (hits {min(hits):,}-{max(hits):,})"
    )
    print(
        f"  typing 'kv cache' to the re-rendered list (120 ms debounce included): {typed_ms:.0f} ms"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--papers", type=int, default=100_000)
    parser.add_argument("--per-day", type=int, default=400)
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--queries", type=int, default=20)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--no-browser", action="store_true")
    parser.add_argument("--keep", type=Path, help="work in this folder and keep it")
    args = parser.parse_args()

    work = args.keep or Path(tempfile.mkdtemp(prefix="arxivfilter-site-"))
    work.mkdir(parents=True, exist_ok=True)
    db = work / "site.db"
    if db.exists():
        db.unlink()
    settings = load_settings(
        env={"ARXIVFILTER_DB_URL": f"sqlite:///{db}", "ARXIVFILTER_SITE_DIR": str(work / "site")}
    )
    profiles = load_profiles()[:2]
    scale.PROFILE_HASHES.update({p.name: p.content_hash for p in profiles})
    engine = store.make_engine(settings.storage.db_url)
    t = time.perf_counter()
    scale.fill(engine, args.papers, args.per_day, [p.name for p in profiles], args.seed)
    days = -(-args.papers // args.per_day)
    with engine.connect() as conn:
        conn.execute(text("PRAGMA wal_checkpoint(TRUNCATE)"))
    print(
        f"database: {args.papers:,} papers over {days} weekdays x "
        f"{len(profiles)} profiles (filled in {time.perf_counter() - t:.1f} s)"
    )
    timings: list[float] = []
    cpu: list[float] = []
    for _ in range(args.repeat):
        t, c = time.perf_counter(), time.process_time()
        with Session(engine) as session:
            result = build_site(session, settings, profiles, None, "llm")
        timings.append(time.perf_counter() - t)
        cpu.append(time.process_time() - c)
    engine.dispose()
    raw, packed, per = sizes(work / "site")
    print(
        f"build: first {timings[0]:.1f} s wall / {cpu[0]:.1f} s CPU, then "
        f"{min(timings[1:] or timings):.1f} s wall / {min(cpu[1:] or cpu):.1f} s CPU "
        f"({sum(result.papers.values()):,} paper cards; CPU time is what a busy machine cannot inflate)"
    )
    print(f"size: {raw / 1e6:.1f} MB raw, {packed / 1e6:.1f} MB gzipped")
    for rel, n in per.items():
        if n > 100_000:
            print(f"  {rel}: {n / 1e6:.1f} MB")
    if not args.no_browser:
        browse(work / "site" / profiles[0].name / "index.html", args.queries)
    return 0


if __name__ == "__main__":
    sys.exit(main())

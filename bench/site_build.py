"""The web page at scale: build time and size for a year of synthetic days x 2 profiles, and
search latency in headless chromium.

    python bench/site_build.py [--papers 100000] [--per-day 400] [--repeat 2]
                               [--queries 20] [--keep DIR] [--reuse] [--no-browser]

The database is filled as ``bench/scale.py`` fills it (``--per-day`` papers a weekday, about
250 days for 100,000 papers, every paper judged for both shipped profiles; ``--reuse`` keeps
the one ``--keep DIR`` already holds). The newest day's announcements are held back, and
``web.build.build_site`` is timed: a cold build into an empty folder, ``--repeat`` rebuilds
that find nothing changed, and then, the held-back day put back, the nightly build (one new
day). The output's size is printed raw and gzipped (what GitHub Pages sends), in all and for
what a profile page loads for its first view. Then Debian's chromium opens one profile's
page from file:// and times, inside the page: the first view, indexing the loaded shards,
a typed search to its first results and to its last shard, and ``--queries`` searches over
every shard once all are loaded and indexed (median and worst). The searches go through the
page's own hook (``arxivfilterSite.search``), the same code the search box calls.
"""

from __future__ import annotations

import argparse
import gzip
import importlib
import re
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from sqlalchemy import text
from sqlmodel import Session

from arxivfilter import store
from arxivfilter.config import load_profiles, load_settings
from arxivfilter.web.build import ASSETS, _asset, build_site

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


def first_view(page_path: Path) -> tuple[int, int]:
    """Bytes (raw, gzipped) of the page and every file its own tags load."""
    html = page_path.read_text(encoding="utf-8")
    files = [page_path]
    for src in re.findall(r'(?:src|href)="(\.\./[^"?#]+\.(?:js|css))"', html):
        files.append((page_path.parent / src).resolve())
    raw = packed = 0
    for f in files:
        data = f.read_bytes()
        raw += len(data)
        packed += len(gzip.compress(data, 6))
    return raw, packed


def until(page: Any, condition: str, timeout_s: float) -> None:
    """Poll ``condition`` in the page every 5 ms (the CSP refuses wait_for_function's eval)."""
    deadline = time.perf_counter() + timeout_s
    while not page.evaluate(f"() => Boolean({condition})"):
        if time.perf_counter() > deadline:
            raise TimeoutError(condition)
        time.sleep(0.005)


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
        total = page.evaluate("arxivfilterSite.total()")
        t = time.perf_counter()
        page.evaluate("arxivfilterSite.ready()")
        index_s = time.perf_counter() - t
        # a typed search: to its first results (from the loaded shards), then to the end,
        # timed inside the page from the input event to each redraw
        page.locator("#q").fill("kv cache")
        until(
            page, "arxivfilterSite.renders().renders.some(r => /match/.test(r[1]) && r[2] > 0)", 300
        )
        until(page, "!/\u2026/.test(document.getElementById('status').textContent)", 1800)
        log = page.evaluate("arxivfilterSite.renders()")
        after = [r for r in log["renders"] if r[0] > log["input"]]
        first = next(r for r in after if "match" in r[1] and r[2] > 0)
        first_ms, first_status = first[0] - log["input"], first[1]
        all_s, last_status = (after[-1][0] - log["input"]) / 1000, after[-1][1]
        page.evaluate("arxivfilterSite.loadAll()")
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
        # typed searches with every shard loaded: keystroke to the first results on screen
        typed: list[float] = []
        for i in range(queries):
            q = QUERIES[i % len(QUERIES)]
            page.locator("#q").fill(q)
            until(page, "arxivfilterSite.renders().renders.some(r => /match/.test(r[1]))", 300)
            log = page.evaluate("arxivfilterSite.renders()")
            typed.append(next(r[0] for r in log["renders"] if "match" in r[1]) - log["input"])
        browser.close()
    print(
        f"browser: first view {papers:,} of {total:,} papers, first cards after {load_s:.1f} s;"
        f" its search index ready {index_s:.1f} s later"
    )
    print(
        f"  typed 'kv cache': first results {first_ms:.0f} ms after the keystroke (120 ms of"
        f" it the typing debounce) ({first_status!r});"
        f" every shard loaded and searched after {all_s:.1f} s ({last_status!r})"
    )
    print(
        f"  search over all {total:,} papers once loaded: median {statistics.median(times):.1f} ms,"
        f" worst {max(times):.1f} ms over {queries} queries (hits {min(hits):,}-{max(hits):,});"
        f" JS heap {heap / 1e6:.0f} MB"
    )
    print(
        f"  typed, every shard loaded: first results median {statistics.median(typed):.0f} ms,"
        f" worst {max(typed):.0f} ms after the keystroke (120 ms debounce included)"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--papers", type=int, default=100_000)
    parser.add_argument("--per-day", type=int, default=400)
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--queries", type=int, default=20)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--no-browser", action="store_true")
    parser.add_argument(
        "--words",
        choices=["real", "synthetic"],
        default="real",
        help="text drawn from the demo day's vocabulary (real word frequencies: a query matches"
        " as many papers as on real text) or from bench/scale.py's 58 words (every query"
        " matches most papers: the worst case)",
    )
    parser.add_argument("--reuse", action="store_true", help="reuse the database in --keep DIR")
    parser.add_argument(
        "--browser-only", action="store_true", help="only the browser part, on --keep DIR's site"
    )
    parser.add_argument("--keep", type=Path, help="work in this folder and keep it")
    args = parser.parse_args()

    work = args.keep or Path(tempfile.mkdtemp(prefix="arxivfilter-site-"))
    work.mkdir(parents=True, exist_ok=True)
    if args.browser_only:
        page = work / "site" / load_profiles()[0].name / "index.html"
        # the site was built by an earlier run: refresh its scripts only
        for name in ASSETS:
            (work / "site" / "assets" / name).write_text(_asset(name), encoding="utf-8")
        browse(page, args.queries)
        return 0
    db = work / "site.db"
    reuse = args.reuse and db.exists()
    if db.exists() and not reuse:
        db.unlink()
    settings = load_settings(
        env={"ARXIVFILTER_DB_URL": f"sqlite:///{db}", "ARXIVFILTER_SITE_DIR": str(work / "site")}
    )
    profiles = load_profiles()[:2]
    scale.PROFILE_HASHES.update({p.name: p.content_hash for p in profiles})
    engine = store.make_engine(settings.storage.db_url)
    t = time.perf_counter()
    if not reuse:
        words = scale.real_words() if args.words == "real" else None
        scale.fill(engine, args.papers, args.per_day, [p.name for p in profiles], args.seed, words)
    days = -(-args.papers // args.per_day)
    with engine.begin() as conn:
        conn.execute(text("PRAGMA wal_checkpoint(TRUNCATE)"))
        # hold back the newest day: the nightly build puts it back
        conn.execute(text("DROP TABLE IF EXISTS held"))
        conn.execute(
            text(
                "CREATE TABLE held AS SELECT * FROM announcements"
                " WHERE date = (SELECT max(date) FROM announcements)"
            )
        )
        conn.execute(text("DELETE FROM announcements WHERE id IN (SELECT id FROM held)"))
    print(
        f"database: {args.papers:,} papers over {days} weekdays x "
        f"{len(profiles)} profiles ({'reused' if reuse else 'filled'} in "
        f"{time.perf_counter() - t:.1f} s)"
    )
    shutil.rmtree(work / "site", ignore_errors=True)

    def build() -> tuple[float, float, int]:
        t, c = time.perf_counter(), time.process_time()
        with Session(engine) as session:
            result = build_site(session, settings, profiles, None, "llm")
        return time.perf_counter() - t, time.process_time() - c, len(result.changed)

    cold = build()
    again = [build() for _ in range(args.repeat)]
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO announcements SELECT * FROM held"))
        conn.execute(text("DROP TABLE held"))
    nightly = build()
    engine.dispose()
    print(
        f"build, cold (empty folder): {cold[0]:.1f} s wall / {cold[1]:.1f} s CPU, {cold[2]} files"
    )
    if again:
        best = min(again)
        print(
            f"build, nothing changed: {best[0]:.1f} s wall / {best[1]:.1f} s CPU, {best[2]} files"
        )
    print(
        f"build, nightly (one new day): {nightly[0]:.1f} s wall / {nightly[1]:.1f} s CPU,"
        f" {nightly[2]} files written (CPU time is what a busy machine cannot inflate)"
    )
    raw, packed, per = sizes(work / "site")
    page = work / "site" / profiles[0].name / "index.html"
    fv_raw, fv_packed = first_view(page)
    print(f"size: {raw / 1e6:.1f} MB raw, {packed / 1e6:.1f} MB gzipped, {len(per)} files")
    print(
        f"first view of {profiles[0].name}: {fv_raw / 1e6:.1f} MB raw,"
        f" {fv_packed / 1e6:.2f} MB gzipped (the page and the files its tags load)"
    )
    biggest = sorted(per.items(), key=lambda kv: -kv[1])[:3]
    for rel, n in biggest:
        print(f"  {rel}: {n / 1e6:.1f} MB")
    if not args.no_browser:
        browse(page, args.queries)
    return 0


if __name__ == "__main__":
    sys.exit(main())

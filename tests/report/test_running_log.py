"""The running log is rebuilt from the database alone (#22 "State" item 1) and stays small
for years (#21 "A running log that stays readable")."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

from arxivfilter.config import Profile
from arxivfilter.models import ListedPaper
from arxivfilter.report.running_log import log_start, render_log, render_month
from tests.listed import listed as listed_paper
from tests.test_cli import run_cli

DAYS = ["2026-01-29", "2026-01-30", "2026-02-02", "2026-02-03"]
WORDS = [
    "speculative",
    "decoding",
    "KV",
    "cache",
    "serving",
    "system",
    "GPU",
    "latency",
    "throughput",
]


def _source(path: Path) -> Path:
    rows = []
    for d, day in enumerate(DAYS):
        for i in range(3):
            rows.append(
                {
                    "id": f"2601.{d:02d}{i:03d}",
                    "title": f"Paper {i} of {day}: {' '.join(WORDS[i : i + 4])}",
                    "authors": ["A. Author"],
                    "categories": ["cs.DC"],
                    "summary": f"We build a {' '.join(WORDS)} system and measure it.",
                    "date": day,
                }
            )
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


@pytest.fixture
def logged(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> dict[str, bytes]:
    Path("config/profiles").mkdir(parents=True)
    Path("config/profiles/p.toml").write_text(
        'name = "p"\ndescription = "LLM serving systems"\nthreshold = 0\n'
    )
    code, out, _ = run_cli(capsys, "run", "--source", str(_source(tmp_path / "s.jsonl")))
    assert code == 0, out
    root = Path("digests/p")
    return {
        str(p.relative_to(root)): p.read_bytes()
        for p in sorted(root.rglob("*.md"))
        if not p.name.startswith("20") or len(p.stem) == 7
    }


def test_log_has_archive_pages(logged: dict[str, bytes]) -> None:
    assert set(logged) == {"README.md", "2026/2026-01.md", "2026/2026-02.md"}
    readme = logged["README.md"].decode()
    assert "[January 2026](2026/2026-01.md)" in readme
    jan = logged["2026/2026-01.md"].decode()
    assert "## [2026-01-30](2026-01-30.md)" in jan and "2026-02-02" not in jan


@pytest.mark.parametrize("damage", ["delete", "mangle"])
def test_damaged_readme_is_rebuilt_from_the_database(
    capsys: pytest.CaptureFixture[str], logged: dict[str, bytes], damage: str
) -> None:
    """Old code parsed the previous README and silently dropped the days it could not read."""
    readme = Path("digests/p/README.md")
    if damage == "delete":
        readme.unlink()
    else:
        readme.write_text(readme.read_text()[:200] + "\n<!-- arxivfilter:day 2026-02-02")
    code, _, _ = run_cli(capsys, "report", "--date", DAYS[-1])
    assert code == 0
    assert readme.read_bytes() == logged["README.md"]


@pytest.mark.parametrize("damage", ["delete", "edit"])
def test_damaged_archive_page_is_rebuilt(
    capsys: pytest.CaptureFixture[str], logged: dict[str, bytes], damage: str
) -> None:
    """A month this run does not touch is rendered again when its page is gone or edited."""
    jan = Path("digests/p/2026/2026-01.md")
    if damage == "delete":
        jan.unlink()
    else:
        jan.write_text(jan.read_text().replace("Paper 1", "Paper one"))
    code, _, _ = run_cli(capsys, "report", "--date", DAYS[-1])
    assert code == 0
    assert jan.read_bytes() == logged["2026/2026-01.md"]


# --------------------------------------------------------------------------- size over years

PROFILE = Profile(name="llm-inference", description="Serving. " * 40, threshold=70, tags={})
LONG = "Efficient KV cache compression for long-context LLM serving on commodity GPUs " * 2


def _day_papers(day: dt.date, listed: int) -> list[ListedPaper]:
    return [
        listed_paper(
            arxiv_id=f"{day:%y%m}.{day.day:02d}{i:03d}",
            title=LONG[:150],
            date=day,
            status="ok",
            scorer="local",
            relevance=99 - i,
            tags=["kv-cache", "serving", "long-context"],
            tldr=LONG * 2,
            authors=["A. Author", "B. Author"],
        )
        for i in range(listed)
    ]


def test_a_year_of_busy_days_stays_far_below_512_kb() -> None:
    """GitHub stops rendering a README past 512 KB (the old log: one page forever, ~6 months
    at ten listings a day). Ten long listings every weekday for a year: the README (4 weeks)
    and the largest month page stay under half of that (bench/log_year.py: 20 a day)."""
    start = dt.date(2026, 1, 1)
    days = [start + dt.timedelta(days=i) for i in range(366)]
    days = [d for d in days if d.weekday() < 5]
    sections = {d: _day_papers(d, 10) for d in days}
    newest = max(days)
    months = sorted({(d.year, d.month) for d in days}, reverse=True)
    recent = {d: p for d, p in sections.items() if d >= log_start(newest, 4)}
    readme = render_log(PROFILE, recent, categories=["cs.DC"], months=months, weeks=4)
    pages = [
        render_month(PROFILE, m, {d: p for d, p in sections.items() if (d.year, d.month) == m})
        for m in months
    ]
    largest = max(len(p.encode()) for p in [readme, *pages])
    assert largest < 256_000, largest

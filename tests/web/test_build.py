"""``arxivfilter site`` without a browser: files, encoding, reproducibility, CLI behaviour."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from arxivfilter.cli import main
from arxivfilter.report.escape import collapse
from arxivfilter.web.build import CSP, clean, permalink, safe_json
from tests.harness import files_under

ROOT = Path(__file__).resolve().parents[2]
DEMO = ROOT / "examples" / "2025-12-16.jsonl"
HOSTILE = ROOT / "tests" / "fixtures" / "site" / "hostile.jsonl"


def _env(monkeypatch: pytest.MonkeyPatch, db_url: str) -> None:
    monkeypatch.setenv("ARXIVFILTER_DB_URL", db_url)


def _payload(path: Path) -> dict[str, Any]:
    text = path.read_text(encoding="utf-8")
    m = re.search(r"\.push\((.*)\);\n$", text, re.S)
    assert m is not None
    loaded: dict[str, Any] = json.loads(m.group(1))
    return loaded


def _data(site: Path, profile: str) -> dict[str, object]:
    """A profile's papers as one list, newest shard first: each judgement joined with the
    paper's text (the site keeps them in separate files, shard by shard)."""
    manifest = _payload(site / "data" / "p" / profile / "shards.js")
    papers: list[dict[str, Any]] = []
    for entry in manifest["shards"]:
        texts = {
            t["id"]: t for t in _payload(site / "data" / "text" / f"{entry['k']}.js")["papers"]
        }
        judged = _payload(site / "data" / "p" / profile / f"{entry['k']}.js")["papers"]
        assert len(judged) == entry["n"]
        papers.extend({**texts[j["id"]], **j} for j in judged)
    return {"papers": papers, "profile": profile}


def test_safe_json_cannot_end_a_script_and_reads_back() -> None:
    value = {"t": "</script><script>alert(1)</script> <!-- & \u2028\u2029 >"}
    text = safe_json(value)
    for bad in ("<", ">", "&", "\u2028", "\u2029"):
        assert bad not in text
    assert json.loads(text) == value


def test_permalink_scheme() -> None:
    assert permalink("https://me.github.io/af/", "llm-inference", "2512.01234") == (
        "https://me.github.io/af/llm-inference/#2512.01234"
    )
    assert permalink("https://x.org", "p", "cs/0112017") == "https://x.org/p/#cs/0112017"


def test_hostile_fixture_is_data_everywhere(db_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    _env(monkeypatch, db_url)
    assert main(["run", "--source", str(HOSTILE), "--scorer", "local"]) == 0
    assert main(["site"]) == 0
    site = Path("site")
    for page in [site / "index.html", *site.glob("*/index.html")]:
        html = page.read_text(encoding="utf-8")
        assert "onerror" not in html and "<script>" not in html
        assert f'content="{CSP.replace(chr(39), "&#x27;")}"' in html
        # scripts only from the site's own files, never inline
        srcs = re.findall(r"<script defer src=\"([^\"]+)\"></script>", html)
        assert len(srcs) == html.count("<script")
        for src in srcs:
            assert (page.parent / src).is_file(), src
    for js in (site / "data").rglob("*.js"):
        text = js.read_text(encoding="utf-8")
        assert "<" not in text and "</script" not in text.lower()
    data = _data(site, "llm-inference")
    papers = {p["id"]: p for p in data["papers"]}  # type: ignore[attr-defined]
    assert papers["2512.90001"]["t"].startswith("<img src=x onerror=alert('title')>")
    assert papers["2512.90001"]["a"][0] == "\"><svg onload=alert('author')>"
    assert "javascript:alert('md')" in papers["2512.90001"]["x"]


def test_demo_day_every_judged_paper_byte_identical(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ARXIVFILTER_DB_URL", f"sqlite:///{tmp_path / 'demo.db'}")
    assert main(["run", "--source", str(DEMO), "--scorer", "local"]) == 0
    # an empty variable is unset (GitHub passes unset variables as ""): default site/
    monkeypatch.setenv("ARXIVFILTER_SITE_DIR", "")
    assert main(["site"]) == 0
    first = files_under(Path("site"))
    data = _data(Path("site"), "llm-systems")
    papers = data["papers"]
    assert isinstance(papers, list) and len(papers) == 300  # every judged paper, listed or not
    top = papers[0]
    assert {"id", "t", "a", "x", "d", "r", "g", "s", "w"} <= set(top)
    assert [p["r"] for p in papers] == sorted((p["r"] for p in papers), reverse=True)
    # a second build (and one into another folder) writes the same bytes
    assert main(["site", "--json"]) == 0
    assert files_under(Path("site")) == first
    monkeypatch.setenv("ARXIVFILTER_SITE_DIR", str(tmp_path / "other"))
    assert main(["site"]) == 0
    assert files_under(tmp_path / "other") == first
    for rel in first:
        assert not re.search(r"20\d\d-\d\d-\d\dT\d\d:", first[rel].decode("utf-8", "replace"))


def test_one_profile_rebuilt_keeps_the_others(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``site --profile P`` after a full build refreshes P and leaves the site as the full
    build wrote it: the text shards are shared, so they kept only P's papers before, and the
    other profiles' cards lost their text and the index listed P alone."""
    monkeypatch.setenv("ARXIVFILTER_DB_URL", f"sqlite:///{tmp_path / 'demo.db'}")
    assert main(["run", "--source", str(DEMO), "--scorer", "local"]) == 0
    assert main(["site"]) == 0
    full = files_under(Path("site"))
    assert main(["site", "--profile", "llm-inference"]) == 0
    assert files_under(Path("site")) == full
    # into an empty folder, --profile P builds P's site alone
    monkeypatch.setenv("ARXIVFILTER_SITE_DIR", str(tmp_path / "one"))
    assert main(["site", "--profile", "llm-inference"]) == 0
    assert not (tmp_path / "one" / "llm-systems").exists()
    assert (tmp_path / "one" / "llm-inference" / "index.html").is_file()


def test_kept_period(db_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    _env(monkeypatch, db_url)
    assert main(["run", "--source", str(HOSTILE), "--scorer", "local"]) == 0
    monkeypatch.setenv("ARXIVFILTER_SITE__DAYS", "1")
    assert main(["site", "--profile", "llm-inference"]) == 0
    ids = [p["id"] for p in _data(Path("site"), "llm-inference")["papers"]]  # type: ignore[attr-defined]
    assert ids == ["2512.90001"]  # 2512.90002 was announced the day before the newest
    assert not (Path("site") / "data" / "p" / "llm-systems").exists()


def test_empty_database_writes_an_empty_site(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ARXIVFILTER_DB_URL", f"sqlite:///{tmp_path / 'fresh.db'}")
    assert main(["site"]) == 0
    assert "no listing yet" in (Path("site") / "index.html").read_text(encoding="utf-8")


def test_unknown_profile_is_exit_2(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ARXIVFILTER_DB_URL", f"sqlite:///{tmp_path / 'fresh.db'}")
    assert main(["site", "--profile", "nope"]) == 2


def test_site_dir_is_a_file_is_exit_5(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ARXIVFILTER_DB_URL", f"sqlite:///{tmp_path / 'fresh.db'}")
    (tmp_path / "blocker").write_text("x")
    monkeypatch.setenv("ARXIVFILTER_SITE_DIR", str(tmp_path / "blocker"))
    assert main(["site"]) == 5


@given(
    st.text(
        alphabet=st.characters(codec="utf-8")
        | st.sampled_from(list(" \t\n\u2028\u202e\x85\xa0\ufeff"))
    )
)
def test_clean_is_collapse(text: str) -> None:
    assert clean(text) == collapse(text)


def test_min_relevance_keeps_only_those_papers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ARXIVFILTER_DB_URL", f"sqlite:///{tmp_path / 'demo.db'}")
    assert main(["run", "--source", str(DEMO), "--scorer", "local"]) == 0
    monkeypatch.setenv("ARXIVFILTER_SITE__MIN_RELEVANCE", "70")
    assert main(["site", "--profile", "llm-systems"]) == 0
    papers = _data(Path("site"), "llm-systems")["papers"]
    assert isinstance(papers, list) and papers
    assert all(p["r"] >= 70 for p in papers) and len(papers) < 300


def test_pages_say_how_to_like_a_paper(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each profile page gives the exact like command for that profile; the index a template."""
    monkeypatch.setenv("ARXIVFILTER_DB_URL", f"sqlite:///{tmp_path / 'fresh.db'}")
    assert main(["site"]) == 0
    page = (Path("site") / "llm-systems" / "index.html").read_text(encoding="utf-8")
    assert "<code>arxivfilter like ID --profile llm-systems</code>" in page
    index = (Path("site") / "index.html").read_text(encoding="utf-8")
    assert "<code>arxivfilter like ID --profile NAME</code>" in index


def test_a_database_rebuilt_from_the_committed_state_shows_no_untitled_paper(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The nightly Action rebuilds its database from state/ (papers judged low by every
    profile come back as stubs without text): the site lists the papers that have text,
    never an untitled card."""
    monkeypatch.setenv("ARXIVFILTER_DB_URL", f"sqlite:///{tmp_path / 'first.db'}")
    assert main(["run", "--source", str(DEMO), "--scorer", "local"]) == 0
    assert main(["state", "save", "--dir", str(tmp_path / "state")]) == 0
    monkeypatch.setenv("ARXIVFILTER_DB_URL", f"sqlite:///{tmp_path / 'rebuilt.db'}")
    assert main(["state", "load", "--dir", str(tmp_path / "state")]) == 0
    assert main(["site"]) == 0
    papers = _data(Path("site"), "llm-systems")["papers"]
    assert isinstance(papers, list) and 0 < len(papers) < 300  # the stubs are left out
    assert all(p["t"] for p in papers)
    manifest = _payload(Path("site") / "data" / "p" / "llm-systems" / "shards.js")
    assert manifest["count"] == len(papers)

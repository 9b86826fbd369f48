"""The committed text state (state.py): database -> files -> fresh database gives the same
judgements under the same cache keys (0 LLM calls on a re-run), byte-identical files, stub
papers that get their text back without a new hash, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
import respx
from sqlmodel import Session, select

from arxivfilter import pipeline, state, store
from arxivfilter.config import load_settings
from arxivfilter.models import Entry, Judgement, Paper, Run
from arxivfilter.score.stage import cache_key
from tests.harness import LLM_CHAT, FakeLlm, llm_settings, make_app

ROOT = Path(__file__).resolve().parents[1]
FULL_DAY = ROOT / "examples" / "2025-12-16.jsonl"


@pytest.fixture(autouse=True)
def _small_day(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The first 24 papers of the recorded day (enough for stubs and listed papers)."""
    small = tmp_path / "2025-12-16.jsonl"
    small.write_text("".join(FULL_DAY.read_text(encoding="utf-8").splitlines(True)[:24]))
    monkeypatch.setattr(sys.modules[__name__], "EXAMPLE", small)


EXAMPLE = FULL_DAY


def _judgements(url: str) -> list[tuple[object, ...]]:
    engine = store.make_engine(url)
    try:
        with Session(engine) as s:
            rows = s.exec(select(Judgement)).all()
            return sorted(
                (
                    j.cache_key,
                    j.arxiv_id,
                    j.profile,
                    j.scorer,
                    j.model,
                    j.text_hash,
                    j.status,
                    j.relevance,
                    j.hype,
                    tuple(j.tags),
                )
                for j in rows
            )
    finally:
        engine.dispose()


def _llm_run(url: str, llm: FakeLlm, **env: str) -> pipeline.RunSummary:
    settings = llm_settings(ARXIVFILTER_DB_URL=url, **env)
    app = make_app(settings)
    try:
        with respx.mock(assert_all_called=False) as router:
            router.post(LLM_CHAT).mock(side_effect=llm)
            return pipeline.run(app, pipeline.Options(source=EXAMPLE, date=None, categories=None))
    finally:
        app.close()


def test_round_trip_gives_the_same_judgements_and_no_llm_call(db_url: str, tmp_path: Path) -> None:
    """A run with an LLM writes state/; a fresh database loaded from it holds the same
    judgements (keys included), and re-running the same day sends nothing to the LLM."""
    first = FakeLlm()
    summary = _llm_run(db_url, first, ARXIVFILTER_STATE_DIR=str(tmp_path / "state"))
    assert summary.score.judged > 0 and first.requests
    before = _judgements(db_url)
    saved = state.render_state(store.make_engine(db_url), text_floor=50)
    assert (tmp_path / "state" / "manifest.json").is_file()

    fresh = f"sqlite:///{tmp_path / 'fresh.db'}"
    loaded = state.load_state(store.make_engine(fresh), tmp_path / "state")
    assert loaded.judgements == len(before)
    assert _judgements(fresh) == before
    # the same database writes the same bytes
    assert state.render_state(store.make_engine(fresh), text_floor=50) == saved

    again = FakeLlm()
    summary = _llm_run(fresh, again, ARXIVFILTER_STATE_DIR=str(tmp_path / "state"))
    assert again.requests == []
    assert summary.score.cached == summary.score.papers > 0


def test_state_from_sqlite_loads_into_postgresql_and_back(db_url: str, tmp_path: Path) -> None:
    """Either backend writes the same files for the same content."""
    src = f"sqlite:///{tmp_path / 'src.db'}"
    _llm_run(src, FakeLlm(), ARXIVFILTER_STATE_DIR=str(tmp_path / "state"))
    files = state.render_state(store.make_engine(src), text_floor=50)
    engine = store.make_engine(db_url)
    state.load_state(engine, tmp_path / "state")
    again = state.render_state(engine, text_floor=50)
    assert again == files
    # loading twice adds nothing
    second = state.load_state(engine, tmp_path / "state")
    assert (second.papers, second.judgements, second.announcements, second.runs) == (0, 0, 0, 0)
    # new rows get ids after the restored ones (PostgreSQL's sequences moved on)
    with Session(engine) as s:
        run = store.start_run(s, "run")
        newest = max(r.id or 0 for r in s.exec(select(Run)).all())
        assert run.id == newest


def test_files_are_sorted_json_lines_under_the_limit(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'a.db'}"
    _llm_run(url, FakeLlm(), ARXIVFILTER_STATE_DIR=str(tmp_path / "state"))
    files = state.render_state(store.make_engine(url), text_floor=50)
    assert "groups.jsonl" in files and "announcements/2025/2025-12-16.jsonl" in files
    for path, text in files.items():
        assert len(text.encode()) <= state.MAX_FILE_BYTES
        if path.endswith(".jsonl"):
            recs = [json.loads(line) for line in text.splitlines()]
            assert all(isinstance(r, dict) for r in recs)
    papers = [
        json.loads(line)
        for p, t in files.items()
        if p.startswith("papers/")
        for line in t.splitlines()
    ]
    ids = [r["id"] for r in papers]
    assert len(ids) == len(set(ids)) and ids
    stubs = [r for r in papers if r.get("stub")]
    full = [r for r in papers if not r.get("stub")]
    assert stubs and full
    assert all("title" not in r and "tl" not in json.dumps(r.get("j")) for r in stubs)
    assert all(max(j["r"] for j in r["j"]) < 50 for r in stubs)


def test_a_stub_gets_its_text_back_with_the_same_hash(tmp_path: Path) -> None:
    """A paper restored without its text, announced again with the same text (a cross-list
    a day later), keeps its hash: its judgements still match, nothing is judged again."""
    url = f"sqlite:///{tmp_path / 'a.db'}"
    engine = store.make_engine(url)
    entry = Entry(
        arxiv_id="2512.00001",
        version=1,
        title="A title",
        authors=["Ann Author"],
        abstract="An abstract.",
        categories=["cs.LG"],
        primary_category="cs.LG",
    )
    import datetime as dt

    with Session(engine, expire_on_commit=False) as s:
        store.store_entries(s, [entry], categories=None, default_date=dt.date(2025, 12, 16))
        paper = s.get(Paper, "2512.00001")
        assert paper is not None
        thash = paper.text_hash
        key = cache_key(thash, "ph", "m", "pr")
        store.save_judgement(
            s,
            Judgement(
                cache_key=key,
                arxiv_id="2512.00001",
                profile="p",
                scorer="llm",
                model="m",
                text_hash=thash,
                profile_hash="ph",
                prompt_hash="pr",
                status="ok",
                relevance=3,
                tldr="low",
            ),
        )
    state.save_state(engine, tmp_path / "state", text_floor=50)
    line = (tmp_path / "state" / "papers" / "2512" / "2512.00.jsonl").read_text()
    assert '"stub":true' in line and "A title" not in line

    fresh = store.make_engine(f"sqlite:///{tmp_path / 'b.db'}")
    state.load_state(fresh, tmp_path / "state")
    with Session(fresh, expire_on_commit=False) as s:
        paper = s.get(Paper, "2512.00001")
        assert paper is not None and paper.title == "" and paper.text_hash == thash
        later = entry.model_copy(update={"announce_type": "cross"})
        store.store_entries(s, [later], categories=None, default_date=dt.date(2025, 12, 17))
        paper = s.get(Paper, "2512.00001")
        assert paper is not None
        assert (paper.title, paper.text_hash) == ("A title", thash)
        assert store.judgement_for(s, key) is not None


def test_cache_key_is_the_score_stages() -> None:
    assert state.cache_key("a", "b", "c", "d") == cache_key("a", "b", "c", "d")


def test_behind_only_when_the_state_has_runs_the_database_lacks(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'a.db'}"
    _llm_run(url, FakeLlm(), ARXIVFILTER_STATE_DIR=str(tmp_path / "state"))
    folder = tmp_path / "state"
    assert not state.is_behind(store.make_engine(url), folder)
    assert state.is_behind(store.make_engine(f"sqlite:///{tmp_path / 'b.db'}"), folder)
    assert not state.is_behind(store.make_engine(url), tmp_path / "nothing")


def test_text_floor_follows_the_lowest_threshold() -> None:
    settings = load_settings(env={"ARXIVFILTER_REPORT__THRESHOLD": "40"})
    assert state.text_floor(settings, [object()]) == 30
    assert state.text_floor(load_settings(env={}), []) == 50


def test_a_malformed_state_file_is_exit_5(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'a.db'}"
    _llm_run(url, FakeLlm(), ARXIVFILTER_STATE_DIR=str(tmp_path / "state"))
    day = tmp_path / "state" / "announcements" / "2025" / "2025-12-16.jsonl"
    day.write_text("{not json\n")
    from arxivfilter.errors import StorageError

    with pytest.raises(StorageError, match="not a JSON line"):
        state.load_state(store.make_engine(f"sqlite:///{tmp_path / 'b.db'}"), tmp_path / "state")


def test_quota_out_keeps_what_it_paid_for_on_the_next_runner(tmp_path: Path) -> None:
    """The LLM's quota runs out after 10 calls: exit 3, and the 10 paid judgements are in the
    saved state; a fresh database rebuilt from it pays only for the rest."""
    from arxivfilter.errors import UpstreamError
    from tests.harness import api_error

    folder = str(tmp_path / "state")
    llm = FakeLlm()
    calls = [0]

    def quota(_request: object, _pid: str) -> object:
        calls[0] += 1
        if calls[0] > 10:
            return api_error(429, "You exceeded your current quota", "insufficient_quota")
        return None

    llm.default_fault = quota  # type: ignore[assignment]
    first = f"sqlite:///{tmp_path / 'night1.db'}"
    settings = llm_settings(
        ARXIVFILTER_DB_URL=first, ARXIVFILTER_STATE_DIR=folder, ARXIVFILTER_LLM__CONCURRENCY="1"
    )
    app = make_app(settings)
    try:
        with respx.mock(assert_all_called=False) as router:
            router.post(LLM_CHAT).mock(side_effect=llm)
            with pytest.raises(UpstreamError):
                pipeline.run(app, pipeline.Options(source=EXAMPLE, categories=None))
    finally:
        app.close()
    paid = {k for k, _a, _p, _s, _m, _h, status, *_ in _judgements(first) if status == "ok"}
    assert len(paid) == 10
    manifest = json.loads((tmp_path / "state" / "manifest.json").read_text())
    assert manifest["counts"]["judgements"] >= 10

    # the next night, on a new machine: the database is rebuilt from the state
    second = f"sqlite:///{tmp_path / 'night2.db'}"
    again = FakeLlm()
    _llm_run(second, again, ARXIVFILTER_STATE_DIR=folder)
    ok = {k for k, _a, _p, _s, _m, _h, status, *_ in _judgements(second) if status == "ok"}
    assert paid <= ok
    assert len(again.requests) == len(ok) - len(paid)  # nothing paid twice


def test_liked_papers_keep_their_text(tmp_path: Path) -> None:
    """A paper judged low that a reader liked (or a profile names as an example) keeps its
    text: the learned model trains on it, on a fresh runner too."""
    import datetime as dt

    from arxivfilter.models import Feedback

    engine = store.make_engine(f"sqlite:///{tmp_path / 'a.db'}")
    with Session(engine, expire_on_commit=False) as s:
        for n in (1, 2, 3):
            e = Entry(
                arxiv_id=f"2512.0000{n}",
                version=1,
                title=f"Title {n}",
                abstract="Abstract.",
                categories=["cs.LG"],
            )
            store.store_entries(s, [e], categories=None, default_date=dt.date(2025, 12, 16))
            paper = s.get(Paper, e.arxiv_id)
            assert paper is not None
            store.save_judgement(
                s,
                Judgement(
                    cache_key=cache_key(paper.text_hash, "ph", "m", "pr"),
                    arxiv_id=e.arxiv_id,
                    profile="p",
                    scorer="llm",
                    model="m",
                    text_hash=paper.text_hash,
                    profile_hash="ph",
                    prompt_hash="pr",
                    status="ok",
                    relevance=2,
                ),
            )
        s.add(Feedback(profile="p", arxiv_id="2512.00002", verdict="like", date=dt.date.today()))
        s.commit()
    files = state.render_state(engine, text_floor=50, keep=frozenset({"2512.00003"}))
    lines = {
        json.loads(line)["id"]: json.loads(line)
        for line in files["papers/2512/2512.00.jsonl"].splitlines()
    }
    assert lines["2512.00001"].get("stub") is True
    assert lines["2512.00002"]["title"] == "Title 2"  # liked
    assert lines["2512.00003"]["title"] == "Title 3"  # an example

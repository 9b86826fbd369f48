"""Two passes: a short first call for every paper, the full judgement only near the threshold.

Against the stub LLM server (tests/stub_llm.py), whose relevance is a function of the paper's
text block, which both passes send byte for byte: so the two-pass digest must list exactly
what the one-pass digest lists.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from arxivfilter import pipeline
from arxivfilter.config import load_profiles, load_settings
from arxivfilter.score.prompt import AnswerError
from arxivfilter.score.questions import FIRST, first_answer_schema, normalise_relevance
from tests.harness import make_app
from tests.stub_llm import StubServer

DAY = "2025-12-16"
PROFILE = "llm-inference"


def write_source(n: int = 40) -> Path:
    rows = [
        {
            "id": f"2512.{i:05d}",
            "title": f"Paper {i} on {'KV cache serving' if i % 3 else 'graph theory'}",
            "summary": f"Abstract {i}: we study topic {i * 7 % 13} with a new method.",
            "authors": ["A. Author"],
            "categories": ["cs.DC"],
        }
        for i in range(1, n + 1)
    ]
    path = Path(f"{DAY}.jsonl")
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def run(stub: StubServer, db: str, source: Path, **env: str) -> pipeline.RunSummary:
    settings = load_settings(
        env={
            "OPENAI_BASE_URL": stub.base_url,
            "ARXIVFILTER_MODEL": "stub-model",
            "ARXIVFILTER_DB_URL": f"sqlite:///{db}",
            "ARXIVFILTER_DIGESTS_DIR": f"digests-{Path(db).stem}",
            **env,
        }
    )
    app = make_app(settings)
    try:
        return pipeline.run(
            app, pipeline.Options(source=source, categories=["cs.DC"], profiles=[PROFILE])
        )
    finally:
        app.close()


def latest(db: str) -> dict[str, tuple[int | None, str | None]]:
    """arxiv_id -> (relevance, tldr) of the newest judgement (what the report shows)."""
    conn = sqlite3.connect(db)
    try:
        rows = conn.execute(
            "SELECT arxiv_id, relevance, tldr FROM judgements WHERE profile = ? ORDER BY id",
            (PROFILE,),
        ).fetchall()
    finally:
        conn.close()
    return {a: (r, t) for a, r, t in rows}


def first_calls(stub: StubServer) -> int:
    return sum(
        1 for b in stub.stats.bodies if '{"relevance": 0}' in str(b["messages"][0]["content"])
    )


def test_two_passes_list_what_one_pass_lists_and_ask_less(stub_llm: StubServer) -> None:
    source = write_source()
    one = run(stub_llm, "one.db", source)
    assert one.exit_code == 0
    one_calls = stub_llm.stats.calls
    assert one_calls == 40
    stub_llm.reset_stats()
    two = run(stub_llm, "two.db", source, ARXIVFILTER_LLM__PASSES="2")
    assert two.exit_code == 0
    threshold = load_profiles([PROFILE])[0].threshold
    a, b = latest("one.db"), latest("two.db")
    assert {i for i, (r, _) in a.items() if (r or 0) >= threshold} == {
        i for i, (r, _) in b.items() if (r or 0) >= threshold
    }
    # every paper had a first call; the full one only at or above threshold - margin (10)
    floor = threshold - 10
    near = {i for i, (r, _) in a.items() if (r or 0) >= floor}
    assert first_calls(stub_llm) == 40
    assert stub_llm.stats.calls == 40 + len(near)
    assert two.score.second_pass == len(near)
    assert 0 < len(near) < 40
    for arxiv_id, (relevance, tldr) in b.items():
        assert relevance == a[arxiv_id][0]
        assert (tldr is not None) == (arxiv_id in near)  # TL;DR asked only near the threshold
    digest_one = Path(f"digests-one/{PROFILE}/2025/{DAY}.md").read_text()
    digest_two = Path(f"digests-two/{PROFILE}/2025/{DAY}.md").read_text()
    assert digest_one == digest_two


def test_each_pass_cached_and_margin_changes_never_re_pay_the_first(
    stub_llm: StubServer,
) -> None:
    source = write_source()
    run(stub_llm, "two.db", source, ARXIVFILTER_LLM__PASSES="2")
    relevance = {i: r or 0 for i, (r, _) in latest("two.db").items()}
    stub_llm.reset_stats()
    again = run(stub_llm, "two.db", source, ARXIVFILTER_LLM__PASSES="2")
    assert (stub_llm.stats.calls, again.score.calls) == (0, 0)
    run(
        stub_llm,
        "two.db",
        source,
        ARXIVFILTER_LLM__PASSES="2",
        ARXIVFILTER_LLM__SECOND_PASS_MARGIN="30",
    )
    assert first_calls(stub_llm) == 0  # the first pass is never asked again
    newly_near = sum(1 for r in relevance.values() if 40 <= r < 60)
    assert newly_near > 0
    assert stub_llm.stats.calls == newly_near  # only the full pass of the newly near papers
    run(
        stub_llm,
        "two.db",
        source,
        ARXIVFILTER_LLM__PASSES="2",
        ARXIVFILTER_LLM__SECOND_PASS_MARGIN="0",
    )
    assert stub_llm.stats.calls == newly_near  # narrower: everything is already there


def test_one_pass_judgements_are_reused_by_two_passes(stub_llm: StubServer) -> None:
    """The full pass has the one-pass cache key: switching to two passes re-pays nothing."""
    source = write_source(12)
    run(stub_llm, "same.db", source)
    stub_llm.reset_stats()
    summary = run(stub_llm, "same.db", source, ARXIVFILTER_LLM__PASSES="2")
    assert (stub_llm.stats.calls, summary.score.cached) == (0, 12)


def test_first_pass_question_is_small() -> None:
    profile = load_profiles([PROFILE])[0]
    assert set(first_answer_schema(profile, 1)["properties"]) == {"relevance"}
    assert first_answer_schema(profile, 5)["properties"]["papers"]["items"]["required"] == [
        "id",
        "relevance",
    ]
    result = normalise_relevance({"relevance": 100}, profile)
    assert (result.relevance, result.tldr, result.hype, result.tags) == (100, None, None, [])
    for bad in ({"relevance": 140}, {"relevance": 99.5}, {"relevance": 90, "tldr": "x"}):
        with pytest.raises(AnswerError):  # outside the schema: invalid, never clamped
            normalise_relevance(bad, profile)
    assert not set(FIRST.files) & {"score_system.md", "score_answer_one.md"}  # its own key

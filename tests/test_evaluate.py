"""``eval``: labels files, metrics (checked against scikit-learn), the universe, and a real run."""

from __future__ import annotations

import csv
import dataclasses
import datetime as dt
import json
import random
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import structlog

from arxivfilter.cli import main
from arxivfilter.config import Profile, load_profiles, load_settings
from arxivfilter.errors import UsageError
from arxivfilter.evaluate import (
    EvalReport,
    average_precision,
    compute_metrics,
    example_ids,
    precision_at_k,
    precision_recall_f1,
    read_labels,
    roc_auc,
    run_eval,
)
from arxivfilter.pipeline import App

DESIGN_KEYS = {
    "profile",
    "scorer",
    "papers",
    "positives",
    "labels_unmatched",
    "roc_auc",
    "average_precision",
    "threshold",
    "precision",
    "recall",
    "f1",
    "k",
    "precision_at_k",
    "llm_calls",
    "cached",
    "cost_usd",
}

PROFILE = Profile(
    name="kv",
    description="KV cache management for large language model inference serving on GPUs.",
    threshold=50,
    tags={"kv-cache": "KV cache management"},
    keywords=("KV cache", "LLM serving"),
)


@pytest.fixture(autouse=True)
def _plain_logging() -> Iterator[None]:
    """structlog as unconfigured (the CLI test binds it to a captured stream that closes)."""
    structlog.reset_defaults()
    yield
    structlog.reset_defaults()


# --------------------------------------------------------------------------- labels


def test_labels_tsv_with_extra_columns(tmp_path: Path) -> None:
    """A TSV with extra columns: the arxiv_id column is read, the others ignored."""
    f = tmp_path / "l.tsv"
    f.write_text("arxiv_id\tlist_date\ttitle\n2509.18869\t2025-09-16\tA, B\n2509.17863\tx\ty\n")
    got = read_labels(f)
    assert got.ids == {"2509.18869", "2509.17863"}
    assert (got.rows, got.invalid) == (2, 0)


def test_labels_csv_prefix_version_and_duplicates(tmp_path: Path) -> None:
    """A CSV (column not first): arXiv: prefixes and vN suffixes stripped, duplicates merged."""
    f = tmp_path / "l.csv"
    f.write_text(
        "title,arxiv_id\n"
        '"Serving, fast",arXiv:2509.18869v2\n'
        "again,2509.18869\n"
        "other,2509.17863v1\n"
        "old,cs/0112017v1\n"
    )
    got = read_labels(f)
    assert got.ids == {"2509.18869", "2509.17863", "cs/0112017"}
    assert got.rows == 4


def test_labels_single_column_bom_and_bad_rows(tmp_path: Path) -> None:
    """A one-column file with a BOM and a bad row: the bad row is counted and skipped."""
    f = tmp_path / "l.txt"
    f.write_bytes("\ufeffarxiv_id\n2501.00001\nnot-an-id\n\n".encode())
    got = read_labels(f)
    assert got.ids == {"2501.00001"}
    assert got.invalid == 1


@pytest.mark.parametrize(
    ("content", "needle"),
    [
        ("id\ttitle\n2501.00001\tx\n", "no 'arxiv_id' column"),
        ("", "no 'arxiv_id' column"),
        ("arxiv_id\nnope\n", "lists no arXiv id"),
    ],
)
def test_labels_bad_file_is_usage_error(tmp_path: Path, content: str, needle: str) -> None:
    """No arxiv_id column, an empty file or no valid id: UsageError (exit 2)."""
    f = tmp_path / "l.tsv"
    f.write_text(content)
    with pytest.raises(UsageError, match=needle) as info:
        read_labels(f)
    assert info.value.exit_code == 2


def test_labels_unreadable_is_usage_error(tmp_path: Path) -> None:
    """A missing file, a folder or bytes that are not UTF-8: UsageError."""
    (tmp_path / "bin.tsv").write_bytes(b"arxiv_id\n\xff\xfe\x00")
    for path in (tmp_path / "missing.tsv", tmp_path, tmp_path / "bin.tsv"):
        with pytest.raises(UsageError, match="cannot read"):
            read_labels(path)


def test_example_ids_from_list_and_file(tmp_path: Path) -> None:
    """A profile's examples and examples_file (beside the profile) are normalised ids."""
    (tmp_path / "liked.tsv").write_text("arxiv_id\n2501.00003v2\n")
    prof = Profile(
        name="p",
        description="d",
        threshold=70,
        tags={},
        examples=("arXiv:2501.00001v1", "2501.00002"),
        examples_file="liked.tsv",
        path=tmp_path / "p.toml",
    )
    assert example_ids(prof) == {"2501.00001", "2501.00002", "2501.00003"}


# --------------------------------------------------------------------------- metrics


@pytest.mark.parametrize("seed", range(6))
def test_metrics_match_scikit_learn(seed: int) -> None:
    """ROC-AUC and average precision equal scikit-learn's, with and without ties."""
    metrics = pytest.importorskip("sklearn.metrics")
    rng = random.Random(seed)
    n = rng.randint(5, 400)
    labels = [rng.random() < 0.3 for _ in range(n)]
    labels[0], labels[1] = True, False
    tied = seed % 2 == 0
    scores = [float(rng.randint(0, 10)) if tied else rng.random() for _ in range(n)]
    assert roc_auc(scores, labels) == pytest.approx(metrics.roc_auc_score(labels, scores))
    assert average_precision(scores, labels) == pytest.approx(
        metrics.average_precision_score(labels, scores)
    )
    listed = [s >= (5 if tied else 0.5) for s in scores]
    p, r, f = precision_recall_f1(listed, labels)
    assert p == pytest.approx(metrics.precision_score(labels, listed, zero_division=0))
    assert r == pytest.approx(metrics.recall_score(labels, listed))
    assert f == pytest.approx(metrics.f1_score(labels, listed))


def test_precision_at_k_shares_ties() -> None:
    """Papers tied at the cut count in proportion (the expected value of a random order)."""
    scores = [9.0, 5.0, 5.0, 5.0, 1.0]
    labels = [True, True, False, False, True]
    # k = 3: one above the cut (a hit), two of the three tied at 5 taken, one tied is a hit
    assert precision_at_k(scores, labels, 3) == pytest.approx((1 + 2 / 3) / 3)
    assert precision_at_k([1.0, 0.0], [True, False], 1) == 1.0
    assert precision_at_k([], [], 3) is None


def test_undefined_metrics_are_none() -> None:
    """One class only, or nothing listed: the undefined figures are None, never an error."""
    m = compute_metrics([1.0, 2.0], [False, False], [False, False])
    assert (m.roc_auc, m.average_precision, m.precision, m.recall, m.f1) == (None,) * 5
    m = compute_metrics([1.0, 2.0], [True, False], [False, False])
    assert m.precision is None
    assert m.recall == 0.0
    assert m.roc_auc == 0.0


# --------------------------------------------------------------------------- runs on synthetic data


def _dump(folder: Path, day: str, records: list[tuple[str, list[str], str]]) -> None:
    lines = [
        json.dumps(
            {
                "id": arxiv_id,
                "categories": cats,
                "title": title,
                "summary": f"{title}. We study this in detail (paper {arxiv_id}).",
                "authors": ["A. Author"],
            }
        )
        for arxiv_id, cats, title in records
    ]
    (folder / f"{day}.jsonl").write_text("\n".join(lines) + "\n")


@pytest.fixture
def source(tmp_path: Path) -> Path:
    """Three days of papers: KV-cache ones (relevant) and others, in cs.DC / cs.LG."""
    folder = tmp_path / "src"
    folder.mkdir()
    kv = "KV cache management for LLM serving on GPUs"
    other = "Graph partitioning for sparse matrix computations"
    _dump(
        folder,
        "2025-06-02",
        [
            ("2506.00001", ["cs.DC"], kv),
            ("2506.00002", ["cs.DC"], other),
            ("2506.00003", ["cs.LG"], kv),  # outside --categories cs.DC
        ],
    )
    _dump(folder, "2025-06-03", [("2506.00004", ["cs.LG", "cs.DC"], kv)])
    _dump(
        folder,
        "2025-07-01",
        [("2507.00001", ["cs.DC"], other), ("2507.00002", ["cs.DC"], f"{kv} and prefix caching")],
    )
    _dump(folder, "2025-08-01", [("2508.00001", ["cs.DC"], kv)])  # after --to
    return folder


@pytest.fixture
def labels(tmp_path: Path) -> Path:
    f = tmp_path / "labels.csv"
    f.write_text("arxiv_id,note\n2506.00001v1,x\n2506.00004,x\narXiv:2507.00002,x\n2401.99999,x\n")
    return f


def _app() -> App:
    return App(load_settings())


def test_run_eval_universe_and_metrics(source: Path, labels: Path) -> None:
    """Categories and dates restrict the universe; unknown labelled ids are unmatched, not misses."""
    app = _app()
    report = run_eval(
        app,
        labels=labels,
        source=source,
        profile=PROFILE,
        scorer="local",
        categories=["cs.DC"],
        date_to=dt.date(2025, 7, 31),
        by_month=True,
    )
    data = report.as_dict()
    assert set(data) >= DESIGN_KEYS
    assert (data["papers"], data["positives"], data["labels_unmatched"]) == (5, 3, 1)
    assert data["k"] == 3
    assert data["roc_auc"] == 1.0  # the KV-cache papers outrank the graph ones
    assert data["precision_at_k"] == 1.0
    assert data["scorer"] == "local"
    assert (data["llm_calls"], data["cached"], data["cost_usd"]) == (0, 0, 0.0)
    assert [(m["month"], m["papers"], m["positives"]) for m in data["months"]] == [
        ("2025-06", 3, 2),
        ("2025-07", 2, 1),
    ]
    assert "2025-06" in report.render_text()
    again = run_eval(
        app, labels=labels, source=source, profile=PROFILE, scorer="local", categories=["cs.DC"]
    ).as_dict()
    assert again["cached"] == 5  # 2508.00001 is new: --to no longer cuts it
    assert (again["papers"], again["labels_unmatched"]) == (6, 1)
    assert report.exit_code == 0
    assert "months" not in again


def test_run_eval_excludes_examples(source: Path, labels: Path) -> None:
    """A profile's liked examples leave the universe and are not counted as unmatched."""
    prof = Profile(
        name=PROFILE.name,
        description=PROFILE.description,
        threshold=PROFILE.threshold,
        tags=PROFILE.tags,
        keywords=PROFILE.keywords,
        examples=("2506.00001",),
    )
    report = run_eval(
        _app(),
        labels=labels,
        source=source,
        profile=prof,
        scorer="local",
        categories=None,
        by_month=True,
    )
    data = report.as_dict()
    assert data["examples_excluded"] == 1
    assert (data["papers"], data["positives"], data["labels_unmatched"]) == (6, 2, 1)
    by_month = {m["month"]: m["examples_excluded"] for m in data["months"]}
    assert by_month["2025-06"] == 1 and sum(by_month.values()) == 1
    assert "ex: liked examples of the month" in report.render_text()


def test_run_eval_empty_universe_is_usage_error(source: Path, labels: Path) -> None:
    """A universe with no paper (here: a category no paper carries) is exit 2."""
    with pytest.raises(UsageError, match="no paper"):
        run_eval(
            _app(),
            labels=labels,
            source=source,
            profile=PROFILE,
            scorer="local",
            categories=["cs.OS"],
        )


def test_run_eval_llm_through_the_cache(
    source: Path, labels: Path, stub_llm: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With the LLM scorer: calls and cost on the first run, none on the second."""
    monkeypatch.setenv("OPENAI_BASE_URL", stub_llm.base_url)  # type: ignore[attr-defined]
    monkeypatch.setenv("ARXIVFILTER_MODEL", "gpt-4.1-nano")
    app = _app()
    first = run_eval(app, labels=labels, source=source, profile=PROFILE, scorer="llm").as_dict()
    assert first["papers"] == 7
    assert first["llm_calls"] >= 7
    assert first["cost_usd"] > 0
    assert first["failed"] == 0
    assert "examples" not in first  # the comparison is the local scorer's
    second = run_eval(app, labels=labels, source=source, profile=PROFILE, scorer="llm").as_dict()
    assert (second["llm_calls"], second["cached"], second["cost_usd"]) == (0, 7, 0.0)
    assert second["roc_auc"] == first["roc_auc"]


def test_interrupted_eval_is_recorded_as_a_run_is(
    source: Path, labels: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """eval's run record has the lifecycle of every other command's (``runs.recorded``):
    Ctrl-C while judging closes it as ``interrupted``, exit 130 (it was ``failed``, 1)."""
    from arxivfilter import evaluate, store

    def interrupted(*_a: Any, **_k: Any) -> Any:
        raise KeyboardInterrupt

    monkeypatch.setattr(evaluate, "score_days", interrupted)
    app = _app()
    with pytest.raises(KeyboardInterrupt):
        run_eval(app, labels=labels, source=source, profile=PROFILE, scorer="local")
    with app.session() as session:
        (row,) = [r for r in store.list_runs(session, 5) if r.command == "eval"]
    assert (row.status, row.exit_code, row.message) == ("interrupted", 130, "interrupted")
    app.close()


def test_cli_eval_missing_column_is_exit_2(
    tmp_path: Path, source: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``arxivfilter eval`` with a labels file lacking arxiv_id: one error line, exit 2."""
    bad = tmp_path / "bad.tsv"
    bad.write_text("id\n2506.00001\n")
    code = main(["eval", "--labels", str(bad), "--source", str(source), "--profile", "llm-systems"])
    err = capsys.readouterr().err
    assert code == 2
    assert "arxiv_id" in err
    assert "Traceback" not in err


# --------------------------------------------------------------------------- the real labelled set


def _real_eval(samples: Path, profile: Profile, **kw: Any) -> EvalReport:
    """``eval`` of the LMsys labels on the cs.DC/cs.OS systems dumps, with the local scorer."""
    return run_eval(
        _app(),
        labels=samples / "labels" / "lmsys_positive_ids.tsv",
        source=samples / "E_paper_metadata",
        profile=profile,
        scorer="local",
        categories=["cs.DC", "cs.OS"],
        **kw,
    )


def _without_examples() -> Profile:
    return dataclasses.replace(load_profiles(["llm-systems"])[0], examples=(), examples_file=None)


def test_real_labelled_set(samples: Path) -> None:
    """The LMsys list on the cs.DC/cs.OS dumps up to 2025-09-16: 1,030 papers, 394 positives."""
    # the universe is the only without liked examples (they leave it)
    report = _real_eval(samples, _without_examples(), date_to=dt.date(2025, 9, 16), by_month=True)
    data = report.as_dict()
    assert (data["papers"], data["positives"], data["labels_unmatched"]) == (1030, 394, 271)
    assert data["labels"] == {"rows": 1302, "distinct": 665, "invalid": 0}
    assert 0.5 < data["roc_auc"] <= 1.0
    assert data["months"][0]["month"] == "2025-03"
    assert sum(m["papers"] for m in data["months"]) == 1030
    assert sum(m["positives"] for m in data["months"]) == 394
    assert (data["first_date"], data["last_date"]) == ("2025-03-19", "2025-09-16")


def test_real_labelled_set_shows_what_examples_add(samples: Path) -> None:
    """The shipped llm-systems (98 liked June-July papers) on held-out 1-8 August 2025: eval
    scores the same papers without the examples too, and says what they add."""
    report = _real_eval(
        samples,
        load_profiles(["llm-systems"])[0],
        date_from=dt.date(2025, 8, 1),
        date_to=dt.date(2025, 8, 8),
        by_month=True,
    )
    data = report.as_dict()
    assert (data["papers"], data["positives"]) == (86, 9)
    examples = data["examples"]
    assert examples["used"] == 98
    assert examples["roc_auc_gain"] == round(data["roc_auc"] - examples["roc_auc_without"], 4)
    assert data["months"][0]["roc_auc_without_examples"] == examples["roc_auc_without"]
    text = report.render_text()
    assert "without the 98 liked examples" in text
    assert "examples add" in text


def test_real_labels_last_entry_holds_later_papers(samples: Path) -> None:
    """The list's last entry, dated 2025-09-16, carries papers of 17-30 September (25 of the
    dumps' 139) and none of the 24 of 16 September: what README's Accuracy section relies on."""

    def universe(first: dt.date, last: dt.date) -> tuple[int, int]:
        data = _real_eval(samples, _without_examples(), date_from=first, date_to=last).as_dict()
        return data["papers"], data["positives"]

    assert universe(dt.date(2025, 9, 16), dt.date(2025, 9, 16)) == (24, 0)
    assert universe(dt.date(2025, 9, 17), dt.date(2025, 9, 30)) == (139, 25)
    # ... and those 25 are entries of the list's last date
    with (samples / "labels" / "lmsys_positive_ids.tsv").open(encoding="utf-8") as fh:
        last = {r["arxiv_id"] for r in csv.DictReader(fh, delimiter="\t")
                if r["list_date"] == "2025-09-16"}  # fmt: skip
    first_seen: dict[str, str] = {}
    for index in samples.glob("E_paper_metadata/*/systems_subset/index.tsv"):
        with index.open(encoding="utf-8") as fh:
            for r in csv.DictReader(fh, delimiter="\t"):
                first_seen.setdefault(r["id"], r["first_seen_file_date"])
    late = {i for i in last if "2025-09-17" <= first_seen.get(i, "") <= "2025-09-30"}
    assert (len(last), len(late)) == (43, 25)

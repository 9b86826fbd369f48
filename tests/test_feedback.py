"""like / dislike / feedback: the committed file, its database mirror, and the model they train."""

from __future__ import annotations

import datetime as dt
import json
import shutil
from pathlib import Path

import pytest
from sqlmodel import Session

from arxivfilter import feedback, store
from arxivfilter.cli import main
from arxivfilter.config import load_profile
from arxivfilter.models import Entry
from arxivfilter.score import learned
from arxivfilter.score.local import LocalScorer

ROOT = Path(__file__).resolve().parents[1]


def _cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    got = capsys.readouterr()
    return code, got.out, got.err


def _one_profile(work: Path) -> Path:
    """A working directory with one profile of its own (config/profiles/mine.toml)."""
    folder = work / "config" / "profiles"
    folder.mkdir(parents=True)
    path = folder / "mine.toml"
    path.write_text('name = "mine"\ndescription = "LLM serving systems and KV cache"\n')
    return path


def test_like_dislike_list_and_undo(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    """The commands write the sorted file beside the profile and mirror it in the database."""
    work = Path.cwd()
    _one_profile(work)
    code, out, _ = _cli(capsys, "like", "2507.00002v3", "arXiv:2506.00001")
    assert code == 0 and "liked 2507.00002, 2506.00001" in out
    assert _cli(capsys, "dislike", "2508.00003")[0] == 0
    code, out, _ = _cli(capsys, "like", "2506.00001")  # already liked: unchanged
    assert code == 0 and "unchanged 2506.00001" in out
    path = work / "config" / "profiles" / "mine.feedback.tsv"
    rows = path.read_text().splitlines()
    assert rows[0] == "arxiv_id\tverdict\tdate"
    assert [r.split("\t")[:2] for r in rows[1:]] == [
        ["2506.00001", "like"],
        ["2507.00002", "like"],
        ["2508.00003", "dislike"],
    ]
    code, out, _ = _cli(capsys, "feedback", "--json")
    data = json.loads(out)
    assert data["profile"] == "mine"
    assert [(f["arxiv_id"], f["verdict"]) for f in data["feedback"]] == [
        ("2506.00001", "like"),
        ("2507.00002", "like"),
        ("2508.00003", "dislike"),
    ]
    # --undo removes the verdict; a like turns a dislike around
    assert _cli(capsys, "like", "--undo", "2507.00002")[0] == 0
    assert _cli(capsys, "like", "2508.00003")[0] == 0
    profile = load_profile(work / "config" / "profiles" / "mine.toml")
    assert {k: v.verdict for k, v in feedback.read_feedback(profile).items()} == {
        "2506.00001": "like",
        "2508.00003": "like",
    }
    engine = store.make_engine(f"sqlite:///{work / 'data' / 'arxivfilter.db'}")
    assert [(v.arxiv_id, v.verdict) for v in feedback.stored(engine, "mine")] == [
        ("2506.00001", "like"),
        ("2508.00003", "like"),
    ]
    engine.dispose()
    assert learned.profile_example_ids(profile) == {"2506.00001", "2508.00003"}


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (("like", "banana", "--profile", "llm-systems"), "'banana' is not an arXiv id"),
        (("like", "2506.00001"), "name one with --profile"),
        (("dislike", "--profile", "llm-systems"), "at least one arXiv id"),
        (("like", "2506.00001", "--profile", "nope"), "unknown profile 'nope'"),
    ],
)
def test_bad_feedback_is_exit_2(
    capsys: pytest.CaptureFixture[str], args: tuple[str, ...], needle: str
) -> None:
    """An invalid id, several profiles and no --profile, no id, unknown profile: exit 2."""
    code, _, err = _cli(capsys, *args)
    assert code == 2, err
    assert needle in err and "Traceback" not in err
    assert not (Path.cwd() / "config" / "profiles" / "llm-systems.feedback.tsv").exists()


def test_shipped_profile_feedback_goes_to_the_working_directory(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """For a shipped profile the file is written to ./config/profiles, never the package."""
    assert _cli(capsys, "like", "2506.00001", "--profile", "llm-systems")[0] == 0
    assert (Path.cwd() / "config" / "profiles" / "llm-systems.feedback.tsv").is_file()
    assert not (ROOT / "config" / "profiles" / "llm-systems.feedback.tsv").exists()


def test_hand_edited_file_is_mirrored(tmp_path: Path) -> None:
    """The file is the source of truth: an edit (or a git pull) reaches the database."""
    profile = load_profile(_one_profile(Path.cwd()))
    engine = store.make_engine(f"sqlite:///{tmp_path / 'db.sqlite'}")
    feedback.record(engine, profile, ["2506.00001", "2506.00002"], "like", dt.date(2026, 1, 5))
    feedback.feedback_path(profile).write_text(
        "arxiv_id\tverdict\tdate\n2506.00002\tdislike\t2026-01-06\n2506.00003\tlike\t\n"
    )
    feedback.sync_engine(engine, profile)
    assert feedback.stored(engine, "mine") == [
        feedback.Verdict("2506.00002", "dislike", dt.date(2026, 1, 6)),
        feedback.Verdict("2506.00003", "like", dt.date.min),
    ]
    engine.dispose()


def _entries(samples: Path) -> list[Entry]:
    """June-July 2025 cs.DC papers of the systems dumps, as a replay stores them."""
    index: dict[str, str] = {}
    folder = samples / "E_paper_metadata/LinChentang__daily-arXiv-ai-enhanced/systems_subset"
    for line in (folder / "index.tsv").read_text(encoding="utf-8").splitlines()[1:]:
        cells = line.split("\t")
        index[cells[0]] = cells[1]
    out: list[Entry] = []
    for name in ("2025-06.jsonl", "2025-07.jsonl"):
        for line in (folder / name).read_text(encoding="utf-8").splitlines():
            rec = json.loads(line)
            if "cs.DC" not in rec["categories"] or rec["id"] not in index:
                continue
            cats = [c for c in rec["categories"] if c.startswith("cs.")]
            out.append(
                Entry(
                    arxiv_id=rec["id"],
                    title=rec["title"],
                    abstract=rec["summary"],
                    authors=rec["authors"],
                    categories=cats,
                    primary_category=cats[0],
                    announce_date=dt.date.fromisoformat(index[rec["id"]]),
                    announce_type="new",
                    source="jsonl",
                )
            )
    return out


def test_fresh_runner_trains_the_same_model(samples: Path, tmp_path: Path) -> None:
    """A runner with the committed file and a new database (the same papers stored, no
    feedback rows) rebuilds the mirror and trains the same model: the same cache key. A new
    verdict is a new model, hence a new key."""
    work = Path.cwd()
    _one_profile(work)
    shutil.copy(ROOT / "config/profiles/llm-systems.liked.tsv", work / "liked.tsv")
    liked = learned.read_examples_file(work / "liked.tsv")
    profile = load_profile(work / "config" / "profiles" / "mine.toml")
    entries = _entries(samples)
    stored_ids = {e.arxiv_id for e in entries}
    likes = sorted(i for i in liked if i in stored_ids)[:40]
    assert len(likes) == 40

    def runner(db: Path) -> tuple[LocalScorer, object]:
        engine = store.make_engine(f"sqlite:///{db}")
        with Session(engine) as session:
            store.store_entries(session, entries, categories=["cs.DC"])
        return LocalScorer(examples=learned.examples_from_db(engine)), engine

    first, engine = runner(tmp_path / "one.sqlite")
    feedback.record(engine, profile, likes, "like", dt.date(2026, 1, 5))  # type: ignore[arg-type]
    feedback.record(engine, profile, ["2507.99999"], "dislike", dt.date(2026, 1, 5))  # type: ignore[arg-type]
    model = first.trained_model(profile)
    assert model is not None and model.n_examples == 40
    learned._MODELS.clear()
    fresh, engine2 = runner(tmp_path / "two.sqlite")
    assert feedback.stored(engine2, "mine") == []  # type: ignore[arg-type]
    again = fresh.trained_model(profile)
    assert again is not None and again.sha == model.sha
    assert fresh.prompt_hash(profile) == first.prompt_hash(profile)
    assert len(feedback.stored(engine2, "mine")) == 41  # type: ignore[arg-type]
    # one more dislike of a stored paper: retrained, another key (when the model is used)
    other = sorted(stored_ids - set(likes))[0]
    feedback.record(engine2, profile, [other], "dislike", dt.date(2026, 1, 6))  # type: ignore[arg-type]
    third = LocalScorer(examples=learned.examples_from_db(engine2)).trained_model(profile)  # type: ignore[arg-type]
    assert third is not None and third.sha != model.sha and third.n_disliked == 1
    engine.dispose()  # type: ignore[attr-defined]
    engine2.dispose()  # type: ignore[attr-defined]

"""The learned half of the local scorer: liked examples, the reader's own negatives, the earned
blend weight, on real abstracts."""

from __future__ import annotations

import asyncio
import csv
import dataclasses
import datetime as dt
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlmodel import Session
from structlog.testing import capture_logs

from arxivfilter import store
from arxivfilter.config import Profile, load_profile
from arxivfilter.errors import ConfigError
from arxivfilter.models import Paper, PaperText
from arxivfilter.score import learned, local
from arxivfilter.score.local import LocalScorer
from arxivfilter.text import text_hash
from tests.fakes import LocalSink

ROOT = Path(__file__).resolve().parents[2]
LIN = "E_paper_metadata/LinChentang__daily-arXiv-ai-enhanced"
DAY = f"{LIN}/raw_days/2025-12-16.jsonl"
ON_TOPIC = "2512.13525"  # Janus: disaggregating attention and experts for MoE inference
OFF_TOPIC = "2512.11994"  # non-adaptive edge estimation in graphs


def _profile(name: str) -> Profile:
    return load_profile(ROOT / "config" / "profiles" / f"{name}.toml")


def _paper(rec: dict) -> PaperText:
    return Paper(
        arxiv_id=rec["id"],
        title=rec["title"],
        abstract=rec["summary"],
        categories=rec["categories"],
        text_hash="",
    )


def _read(path: Path) -> dict[str, PaperText]:
    seen: dict[str, PaperText] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            rec = json.loads(line)
            seen.setdefault(rec["id"], _paper(rec))
    return seen


@pytest.fixture(scope="module")
def liked(samples: Path) -> list[PaperText]:
    """The shipped llm-systems examples, their text taken from the samples (as eval does)."""
    ids = learned.profile_example_ids(_profile("llm-systems"))
    texts: dict[str, PaperText] = {}
    for path in sorted(samples.glob("E_paper_metadata/*/systems_subset/2025-0[67].jsonl")):
        texts.update({k: v for k, v in _read(path).items() if k in ids})
    assert len(texts) == len(ids) == 98
    return [texts[k] for k in sorted(texts)]


@pytest.fixture(scope="module")
def others(samples: Path, liked: list[PaperText]) -> tuple[list[PaperText], dict[str, dt.date]]:
    """The reader's other papers of June-July (cs.DC/cs.OS dumps, not liked) and every date."""
    ids = {p.arxiv_id for p in liked}
    dates: dict[str, dt.date] = {}
    for folder in sorted(samples.glob("E_paper_metadata/*/systems_subset")):
        with (folder / "index.tsv").open(encoding="utf-8") as fh:
            for row in csv.DictReader(fh, delimiter="\t"):
                dates.setdefault(row["id"], dt.date.fromisoformat(row["first_seen_file_date"]))
    texts: dict[str, PaperText] = {}
    for path in sorted(samples.glob("E_paper_metadata/*/systems_subset/2025-0[67].jsonl")):
        texts.update(_read(path))
    cats = {p.categories[0] for p in liked}
    rest = [
        texts[k]
        for k in sorted(texts)
        if k not in ids
        and k in dates
        and cats & set(texts[k].categories)
        and {"cs.DC", "cs.OS"} & set(texts[k].categories)
    ]
    return rest, dates


def _training(
    liked: list[PaperText],
    others: tuple[list[PaperText], dict[str, dt.date]],
    disliked: list[PaperText] | None = None,
) -> learned.TrainingSet:
    rest, dates = others
    return learned.TrainingSet(liked=liked, disliked=disliked or [], unlabelled=rest, dates=dates)


@pytest.fixture(scope="module")
def model(
    liked: list[PaperText], others: tuple[list[PaperText], dict[str, dt.date]]
) -> learned.LearnedModel:
    """The model trained on all 98 liked papers against the other June-July papers."""
    got = learned.train(_profile("llm-systems"), _training(liked, others))
    assert got is not None and got.weight > 0
    return got


@pytest.fixture(scope="module")
def day(samples: Path) -> list[PaperText]:
    """The 320 distinct papers of 2025-12-16 carrying cs.DC, cs.OS or cs.LG (not in training)."""
    papers = [
        p for p in _read(samples / DAY).values() if {"cs.DC", "cs.OS", "cs.LG"} & set(p.categories)
    ]
    assert len(papers) == 320
    return papers


# --------------------------------------------------------------------------- example ids


def _write_profile_text(description: str) -> Profile:
    return Profile(name="mine", description=description, threshold=70, tags={})


def _write_profile(folder: Path, extra: str) -> Profile:
    path = folder / "mine.toml"
    path.write_text(f'name = "mine"\ndescription = "LLM serving systems"\n{extra}\n')
    return load_profile(path)


def test_examples_file_tsv_beside_profile(tmp_path: Path) -> None:
    """A TSV's arxiv_id column (other columns ignored) joins ``examples``; ids are normalised."""
    (tmp_path / "liked.tsv").write_text(
        "title\tarxiv_id\tnote\nA\tarXiv:2506.04456v2\tx\nB\t2507.11507\t\n\t\t\nC\t2506.04456\t\n"
    )
    profile = _write_profile(tmp_path, 'examples = ["2401.00001v3"]\nexamples_file = "liked.tsv"')
    assert learned.profile_example_ids(profile) == {"2401.00001", "2506.04456", "2507.11507"}
    assert learned.has_examples(profile)


def test_examples_file_csv_with_bom(tmp_path: Path) -> None:
    """A comma-separated file with a byte-order mark reads the same way."""
    (tmp_path / "liked.csv").write_text("\ufeffarxiv_id,title\n2506.04456,A\n", encoding="utf-8")
    profile = _write_profile(tmp_path, 'examples_file = "liked.csv"')
    assert learned.profile_example_ids(profile) == {"2506.04456"}


@pytest.mark.parametrize(
    ("extra", "content", "message"),
    [
        ('examples_file = "nope.tsv"', None, "not found"),
        ('examples_file = "liked.tsv"', "id\ttitle\n2506.04456\tA\n", "no 'arxiv_id' column"),
        ('examples_file = "liked.tsv"', "arxiv_id\nnot-an-id\n", "line 2"),
        ('examples = ["banana"]', None, "'banana' is not an arXiv id"),
    ],
)
def test_bad_examples_are_config_errors(
    tmp_path: Path, extra: str, content: str | None, message: str
) -> None:
    """A missing file, a file without the column or an invalid id is exit 2 with a clear line."""
    if content is not None:
        (tmp_path / "liked.tsv").write_text(content)
    profile = _write_profile(tmp_path, extra)
    with pytest.raises(ConfigError, match=message) as err:
        learned.profile_example_ids(profile)
    assert err.value.exit_code == 2


def test_shipped_profiles() -> None:
    """llm-systems names 98 liked papers of June-July 2025; llm-inference names none."""
    ids = learned.profile_example_ids(_profile("llm-systems"))
    assert len(ids) == 98 and all(i.startswith(("2506.", "2507.")) for i in ids)
    assert not learned.has_examples(_profile("llm-inference"))
    assert learned.profile_example_ids(_profile("llm-inference")) == set()


# --------------------------------------------------------------------------- example texts


def _store_papers(engine: object, papers: list[PaperText]) -> None:
    with Session(engine) as session:  # type: ignore[arg-type]
        for p in papers:
            session.add(
                Paper(
                    arxiv_id=p.arxiv_id,
                    title=p.title,
                    abstract=p.abstract,
                    categories=list(reversed(p.categories)),
                    primary_category=p.categories[0],
                    text_hash=text_hash(p.title, p.abstract),
                )
            )
        session.commit()


def test_example_texts_from_the_database(tmp_path: Path, liked: list[PaperText]) -> None:
    """Stored examples come back sorted, with their primary category (the stored record
    itself: its categories as listed, the primary one read by learned._primary); missing
    ones: one warning."""
    engine = store.make_engine(f"sqlite:///{tmp_path / 'db.sqlite'}")
    _store_papers(engine, liked[:3])
    ids = [p.arxiv_id for p in liked[:3]] + ["2401.00001", "2401.00002"]
    profile = dataclasses.replace(_profile("llm-inference"), examples=tuple(ids))
    with capture_logs() as logs, Session(engine) as session:
        got = learned.example_texts(session, profile)
    assert [p.arxiv_id for p in got] == sorted(p.arxiv_id for p in liked[:3])
    assert [learned._primary(p) for p in got] == [p.categories[:1] for p in liked[:3]]
    warnings = [e for e in logs if e["log_level"] == "warning"]
    assert len(warnings) == 1 and warnings[0]["missing"] == 2 and warnings[0]["examples"] == 5
    loader = learned.examples_from_db(engine)
    assert [p.arxiv_id for p in loader(profile).liked] == [p.arxiv_id for p in got]
    assert not loader(_profile("llm-inference"))
    engine.dispose()


# --------------------------------------------------------------------------- training


def test_model_shape(model: learned.LearnedModel, liked: list[PaperText]) -> None:
    """The model remembers its examples, rounds its weights and has a 64-hex hash."""
    assert model.example_ids == tuple(p.arxiv_id for p in liked)
    assert len(model.sha) == 64
    decimals = learned.LEARN.decimals
    assert all(round(w, decimals) == w and w != 0 for w in model.weights.values())
    assert model.weights.get("kv cach", 0) > 0  # a phrase of the liked papers


def test_training_is_deterministic(
    liked: list[PaperText], others: tuple[list[PaperText], dict[str, dt.date]]
) -> None:
    """Retraining on the same papers (any order) gives the same weights, blend and hash."""
    profile = _profile("llm-systems")
    subset = liked[:40]
    first = learned.train(profile, _training(subset, others))
    learned._MODELS.clear()
    rest, dates = others
    shuffled = learned.TrainingSet(
        liked=list(reversed(subset)) + subset[:3], unlabelled=list(reversed(rest)), dates=dates
    )
    again = learned.train(profile, shuffled)
    assert first is not None and again is not None
    assert again is not first
    assert (first.sha, dict(first.weights), first.bias, first.weight) == (
        again.sha,
        dict(again.weights),
        again.bias,
        again.weight,
    )


def test_same_hash_in_a_fresh_process(
    liked: list[PaperText], others: tuple[list[PaperText], dict[str, dt.date]]
) -> None:
    """Another interpreter (another hash seed) trains the same model from the same papers."""
    rest, dates = others
    subset, negatives = liked[:30], rest[:200]
    profile = _profile("llm-systems")
    ts = learned.TrainingSet(liked=subset, unlabelled=negatives, dates=dates)
    here = learned.train(profile, ts)
    assert here is not None
    code = (
        "import sys, json, datetime as dt; from arxivfilter.models import Paper;"
        "from arxivfilter.config import load_profiles;"
        "from arxivfilter.score import learned;"
        "d = json.load(sys.stdin); P = Paper.model_validate;"
        "ts = learned.TrainingSet(liked=[P(p) for p in d['liked']],"
        " unlabelled=[P(p) for p in d['rest']],"
        " dates={k: dt.date.fromisoformat(v) for k, v in d['dates'].items()});"
        "print(learned.train(load_profiles(['llm-systems'])[0], ts).sha)"
    )
    payload = {
        "liked": [p.model_dump(mode="json") for p in subset],
        "rest": [p.model_dump(mode="json") for p in negatives],
        "dates": {k: v.isoformat() for k, v in dates.items()},
    }
    out = subprocess.run(
        [sys.executable, "-c", code],
        input=json.dumps(payload),
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
        env={**os.environ, "PYTHONHASHSEED": "4242"},
    ).stdout.strip()
    assert out == here.sha


def test_different_papers_give_a_different_key(
    liked: list[PaperText], others: tuple[list[PaperText], dict[str, dt.date]]
) -> None:
    """Another set of liked or disliked papers is another model: the prompt hash (hence the
    cache key) changes; the same papers in another order keep it."""
    profile = _profile("llm-systems")
    rest, dates = others
    a = LocalScorer(examples={"llm-systems": _training(liked, others)})
    b = LocalScorer(examples={"llm-systems": _training(liked[:-1], others)})
    c = LocalScorer(examples={"llm-systems": _training(liked, (rest[1:], dates), rest[:1])})
    same = LocalScorer(examples={"llm-systems": _training(list(reversed(liked)), others)})
    lexical = LocalScorer()
    assert a.prompt_hash(profile) == same.prompt_hash(profile)
    keys = {s.prompt_hash(profile) for s in (a, b, c, lexical)}
    assert len(keys) == 4
    assert lexical.prompt_hash(profile) == local.prompt_hash(profile)


def test_liked_paper_among_the_others_is_not_a_negative(
    liked: list[PaperText], others: tuple[list[PaperText], dict[str, dt.date]]
) -> None:
    """A liked (or disliked) paper also listed among the reader's other papers counts once,
    with its verdict: the same model as without the duplicate."""
    profile = _profile("llm-systems")
    rest, dates = others
    plain = learned.train(profile, _training(liked, others, rest[:2]))
    dup = learned.train(profile, _training(liked, (rest + liked[:5], dates), rest[:2]))
    assert plain is not None and dup is not None
    assert dup.sha == plain.sha and dup.n_negatives == plain.n_negatives


# --------------------------------------------------------------------------- scoring


def test_scores_match_the_vector_definition(
    model: learned.LearnedModel, day: list[PaperText]
) -> None:
    """The fast scoring path equals bias + weights . vector."""
    for paper in day[:20]:
        vec = learned.text_vector(paper)
        assert model.score(paper) == pytest.approx(model.decision(vec), abs=1e-9)


def test_independent_of_other_papers(
    liked: list[PaperText], others: tuple[list[PaperText], dict[str, dt.date]], day: list[PaperText]
) -> None:
    """A paper's judgement with examples is the same alone, among the day's, in any order."""
    profile = _profile("llm-systems")
    scorer = LocalScorer(examples={"llm-systems": _training(liked, others)})
    assert scorer.learned_model(profile) is not None
    together = scorer.score_many(profile, day)
    backwards = scorer.score_many(profile, list(reversed(day)))[::-1]
    assert together == backwards
    fresh = LocalScorer(examples={"llm-systems": _training(liked, others)})
    for i in (0, 31, 200, 319):
        assert fresh.score(profile, day[i]) == together[i]


def test_relevance_and_threshold_on_a_real_day(
    samples: Path, model: learned.LearnedModel, day: list[PaperText]
) -> None:
    """With examples, relevance stays 0..100 and 70 lists a sensible share of a mixed day."""
    profile = _profile("llm-systems")
    results = local.score_many(profile, day, model)
    for r in results:
        assert r.status == "ok" and isinstance(r.relevance, int) and 0 <= r.relevance <= 100
        assert set(r.tags) <= set(profile.tags) and len(r.tags) <= 3
        assert r.reason and "like 98 liked papers in:" in r.reason
    share = sum(1 for r in results if (r.relevance or 0) >= 70) / len(day)
    assert 0.01 <= share <= 0.20, share
    by_id = {p.arxiv_id: r for p, r in zip(day, results, strict=True)}
    assert (by_id[ON_TOPIC].relevance or 0) >= 70
    graphs = _read(samples / DAY)[OFF_TOPIC]
    assert (local.score(profile, graphs, model).relevance or 0) < 25


def test_earned_weight_is_zero_with_too_little_evidence(
    liked: list[PaperText], others: tuple[list[PaperText], dict[str, dt.date]], day: list[PaperText]
) -> None:
    """Few liked papers, no negatives, or too few periods: weight 0, and the scorer is the
    lexical one exactly (same judgements, same cache key)."""
    profile = _profile("llm-systems")
    rest, dates = others
    few = learned.train(profile, _training(liked[:5], others))
    bare = learned.train(profile, liked)  # liked papers alone: no negatives
    one_day = learned.train(
        profile,
        learned.TrainingSet(
            liked=liked[:20], unlabelled=rest, dates=dict.fromkeys(dates, dt.date(2025, 7, 1))
        ),
    )
    for model in (few, bare, one_day):
        assert model is not None and model.weight == 0.0 and model.why
    scorer = LocalScorer(examples={"llm-systems": _training(liked[:5], others)})
    assert scorer.learned_model(profile) is None
    assert scorer.trained_model(profile) is not None
    assert scorer.prompt_hash(profile) == local.prompt_hash(profile)
    assert scorer.score_many(profile, day[:20]) == local.score_many(profile, day[:20])


def _synthetic(
    seed: int, n: int, start: dt.date, signal: bool
) -> list[tuple[PaperText, bool, dt.date]]:
    """Made-up papers: filler words, some carrying the profile's phrases; liked when they do
    (``signal``: what the lexical score already sees) or at random."""
    import random

    rng = random.Random(seed)
    filler = [f"zq{chr(97 + i // 26)}{chr(97 + i % 26)}" for i in range(300)]
    out = []
    for i in range(n):
        on = rng.random() < 0.2
        words = rng.choices(filler, k=60) + (["LLM", "serving", "KV", "cache"] if on else [])
        rng.shuffle(words)
        liked = (on and rng.random() < 0.8) if signal else rng.random() < 0.15
        paper = Paper(
            arxiv_id=f"2601.{seed:01d}{i:04d}",
            title=" ".join(words[:8]),
            abstract=" ".join(words[8:]),
            categories=["cs.DC"],
        )
        out.append((paper, liked, start + dt.timedelta(days=i % 56)))
    return out


@pytest.mark.parametrize("signal", [True, False])
def test_examples_never_make_a_later_period_clearly_worse(signal: bool) -> None:
    """Synthetic: liked papers the lexical score already explains, or liked at random. The
    earned weight is decided on the first period; on a later one, with examples is never
    clearly worse than without (and with random likes the model earns no weight at all)."""
    profile = _write_profile_text("LLM serving systems with a KV cache")
    early = _synthetic(1, 600, dt.date(2025, 6, 1), signal)
    late = _synthetic(2, 600, dt.date(2025, 8, 1), signal)
    ts = learned.TrainingSet(
        liked=[p for p, y, _ in early if y],
        unlabelled=[p for p, y, _ in early if not y],
        dates={p.arxiv_id: d for p, _, d in early},
    )
    model = learned.train(profile, ts)
    assert model is not None
    if not signal:
        assert model.weight == 0.0, model.why
    labels = [y for _, y, _ in late]
    without = learned.roc_auc([local.logit(profile, p) for p, _, _ in late], labels)
    with_ = learned.roc_auc([local.logit(profile, p, model) for p, _, _ in late], labels)
    assert without is not None and with_ is not None
    assert with_ >= without - 0.02, (with_, without, model.weight, model.why)


def test_dislikes_are_strong_negatives(
    liked: list[PaperText], others: tuple[list[PaperText], dict[str, dt.date]]
) -> None:
    """A disliked paper scores lower than when it is merely one of the reader's other papers."""
    profile = _profile("llm-systems")
    rest, dates = others
    plain = learned.train(profile, _training(liked, others))
    target = max(rest, key=lambda p: plain.score(p) if plain else 0.0)
    hated = learned.train(
        profile, _training(liked, ([p for p in rest if p is not target], dates), [target])
    )
    assert plain is not None and hated is not None
    assert hated.n_disliked == 1
    assert hated.score(target) < plain.score(target)


# --------------------------------------------------------------------------- fallbacks


def test_fallback_when_no_example_is_found(day: list[PaperText]) -> None:
    """A profile with examples but none found is scored lexically, with a warning."""
    profile = _profile("llm-systems")
    scorer = LocalScorer(examples=lambda _p: [])
    with capture_logs() as logs:
        got = scorer.score_many(profile, day[:30])
        digest = scorer.prompt_hash(profile)
    assert got == local.score_many(profile, day[:30])
    assert digest == local.prompt_hash(profile)
    warnings = [e for e in logs if e["log_level"] == "warning"]
    assert len(warnings) == 1 and warnings[0]["profile"] == "llm-systems"


def test_no_example_source_is_lexical_and_quiet(day: list[PaperText]) -> None:
    """``LocalScorer()`` (no source) scores every profile lexically, without warnings."""
    profile = _profile("llm-systems")
    with capture_logs() as logs:
        got = LocalScorer().score_many(profile, day[:10])
    assert got == local.score_many(profile, day[:10])
    assert not [e for e in logs if e["log_level"] == "warning"]


def test_judge_uses_the_model(
    liked: list[PaperText], others: tuple[list[PaperText], dict[str, dt.date]], day: list[PaperText]
) -> None:
    """``judge`` hands the sink the same judgements as ``score_many`` (model included)."""
    profile = _profile("llm-systems")
    scorer = LocalScorer(examples={"llm-systems": _training(liked, others)})
    assert scorer.learned_model(profile) is not None
    sink = LocalSink()
    asyncio.run(scorer.judge(profile, day[:25], sink))
    assert [r for _, r in sink.got] == scorer.score_many(profile, day[:25])


def test_sklearn_only_with_examples(tmp_path: Path) -> None:
    """No profile with examples found: scoring never imports scikit-learn."""
    code = (
        "import sys\n"
        "from arxivfilter import store\n"
        "from arxivfilter.config import load_profiles\n"
        "from arxivfilter.models import Paper\n"
        "from arxivfilter.score.learned import examples_from_db\n"
        "from arxivfilter.score.local import LocalScorer\n"
        f"engine = store.make_engine('sqlite:///{tmp_path / 'db.sqlite'}')\n"
        "scorer = LocalScorer(examples=examples_from_db(engine))\n"
        "paper = Paper(arxiv_id='1', title='KV cache serving', abstract='LLM inference')\n"
        "for profile in load_profiles(['llm-inference', 'llm-systems']):\n"
        "    scorer.prompt_hash(profile)\n"
        "    scorer.score(profile, paper)\n"
        "assert 'sklearn' not in sys.modules, 'sklearn imported'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT)


def test_score_many_matches_one_by_one(model: learned.LearnedModel, day: list[PaperText]) -> None:
    """With a trained model, a batch gives each paper its own judgement (speed: bench/local_speed.py)."""
    profile = _profile("llm-systems")
    papers = (day * 4)[:1000]
    many = local.score_many(profile, papers, model)
    assert len(many) == len(papers)
    for paper, got in list(zip(papers, many, strict=True))[::97]:
        assert got == local.score(profile, paper, model)

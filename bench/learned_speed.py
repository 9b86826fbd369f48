"""Time the learned model: training (with its earned weight) and scoring with it.

    python bench/learned_speed.py [--samples ../shared/arxiv-samples] [-n 2000] [--repeat 3]

Training set: the shipped llm-systems' 98 liked papers (June-July 2025) against the reader's
other June-July cs.DC/cs.OS papers of the systems dumps (about 460), and again with the
negatives padded to ``max_negatives`` (1,000) with the December ``raw_days`` papers, the
most a run trains on. "cold" is the first training in a process (it imports scikit-learn and
loads the IDF table); "again" retrains with the in-process memo cleared (best of --repeat).
Scoring: N real papers of the daily dumps, with the model and lexically, papers per second.
Each figure is wall-clock seconds and, in brackets, this process's CPU seconds: on a shared
machine the CPU time is the fairer figure (the padded set is for timing only: December
papers dated July are not a real reader's negatives).
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib.util
import json
import sys
import time
from pathlib import Path
from types import ModuleType

from arxivfilter.config import load_profile
from arxivfilter.models import PaperText
from arxivfilter.score import learned, local

ROOT = Path(__file__).resolve().parents[1]


def _sibling(name: str) -> ModuleType:
    """A script of this folder as a module (its universe and training set)."""
    spec = importlib.util.spec_from_file_location(name, ROOT / "bench" / f"{name}.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


local_auc = _sibling("local_auc")


def _daily(samples: Path) -> list[PaperText]:
    found: dict[str, PaperText] = {}
    for path in sorted(samples.glob("E_paper_metadata/*/raw_days/*.jsonl")):
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                rec = json.loads(line)
                found.setdefault(rec["id"], local_auc._paper(rec))
    return [found[k] for k in sorted(found)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=Path, default=ROOT.parent / "shared" / "arxiv-samples")
    parser.add_argument("-n", type=int, default=2000, help="papers to score")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    profile = load_profile(ROOT / "config/profiles/llm-systems.toml")
    rows = local_auc.universe(args.samples)
    base = local_auc.training(profile, rows)
    daily = _daily(args.samples)
    pad = learned.LEARN.max_negatives - len(base.unlabelled)
    padded = learned.TrainingSet(
        liked=base.liked,
        unlabelled=[*base.unlabelled, *daily[:pad]],
        dates={**base.dates, **{p.arxiv_id: dt.date(2025, 7, 31) for p in daily[:pad]}},
    )
    model = None
    clock = time.perf_counter
    cpu = time.process_time
    for label, ts in (("reader's June-July papers", base), ("padded to max_negatives", padded)):
        learned._MODELS.clear()
        started, started_cpu = clock(), cpu()
        model = learned.train(profile, ts)
        cold, cold_cpu = clock() - started, cpu() - started_cpu
        warm = []
        for _ in range(args.repeat):
            learned._MODELS.clear()
            started, started_cpu = clock(), cpu()
            learned.train(profile, ts)
            warm.append((clock() - started, cpu() - started_cpu))
        assert model is not None
        best = min(warm)
        print(
            f"training, {label}: {len(ts.liked)} liked, {model.n_negatives} negatives:"
            f" {'first in the process ' if label.startswith('reader') else ''}{cold:.2f} s"
            f" [{cold_cpu:.2f} CPU], again {best[0]:.2f} s [{best[1]:.2f} CPU] (best of"
            f" {args.repeat}); earned weight {model.weight}"
        )
    learned._MODELS.clear()
    model = learned.train(profile, base)
    assert model is not None
    papers = (daily * (args.n // len(daily) + 1))[: args.n]
    local.score_many(profile, papers[:10], model)  # warm the profile's queries
    for label, m in (("with the model", model), ("lexical only", None)):
        best = (float("inf"), float("inf"))
        for _ in range(args.repeat):
            started, started_cpu = clock(), cpu()
            local.score_many(profile, papers, m)
            best = min(best, (clock() - started, cpu() - started_cpu))
        print(
            f"scoring {len(papers)} papers {label}: {best[0]:.2f} s, {len(papers) / best[0]:,.0f}"
            f"/s [{best[1]:.2f} CPU, {len(papers) / best[1]:,.0f}/s] (best of {args.repeat})"
        )


if __name__ == "__main__":
    main()

"""Golden digests of the shipped demo day (examples/2025-12-16.jsonl), read and found good.

What was checked by eye in tests/fixtures/golden/*.md: the opening line (listed of scanned,
threshold, categories, just missed) is true; every listed paper is on topic for its profile
and ordered by relevance with no tie at 100; each TL;DR is the paper's contribution sentence
(what it proposes, builds or shows), the quoted excerpt is the abstract's opening and does not
repeat it; reasons name the profile's phrases ("matches: KV cache, decode"); tags fit the
papers; no "Hype: –"; parentheses are not escaped; "Just missed" and the tag legend are
collapsed. Regenerate after an intended change with ``--regen`` semantics: copy the new
digest over the golden file and read the diff.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.test_cli import DEMO, run_cli

GOLDEN = Path(__file__).resolve().parents[1] / "fixtures" / "golden"


@pytest.mark.parametrize("profile", ["llm-inference", "llm-systems"])
def test_demo_day_digest_is_golden(capsys: pytest.CaptureFixture[str], profile: str) -> None:
    code, out, _ = run_cli(capsys, "run", "--source", str(DEMO), "--profile", profile)
    assert code == 0, out
    got = Path(f"digests/{profile}/2025/2025-12-16.md").read_text(encoding="utf-8")
    assert got == (GOLDEN / f"{profile}-2025-12-16.md").read_text(encoding="utf-8")

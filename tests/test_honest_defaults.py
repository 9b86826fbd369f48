"""Defaults that say what they do (#21 "Honest defaults"): the newest stored listing when no
--date is given, --source on score/report, validated categories, damaged sources, export of
nothing, and the categories a profile asks for."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import respx

from tests.fakes import api_feed
from tests.test_cli import DEMO, error_line, run_cli

DAY = "2025-12-16"


@pytest.fixture
def small(tmp_path: Path) -> Path:
    """The first 30 papers of the demo day (fast)."""
    path = tmp_path / f"small-{DAY}.jsonl"
    path.write_text("\n".join(DEMO.read_text().splitlines()[:30]) + "\n")
    return path


def test_report_without_date_uses_the_newest_stored_listing(
    capsys: pytest.CaptureFixture[str], small: Path
) -> None:
    """Old code took today's calendar date, found nothing stored and wrote nothing."""
    assert run_cli(capsys, "fetch", "--source", str(small))[0] == 0
    # a live `score` asks arXiv once for the profiles' liked examples: arXiv (stand-in)
    # knows none of them (this test once reached the real arXiv and waited ~95 s for it)
    with respx.mock(assert_all_called=False) as arxiv:
        arxiv.get(url__startswith="https://export.arxiv.org/api/query").respond(
            200, content=api_feed([])
        )
        code, out, _ = run_cli(capsys, "score", "--json")
    assert code == 0
    assert json.loads(out)["fetch"]["dates"] == [DAY]
    assert json.loads(out)["score"]["judged"] == 60
    code, out, _ = run_cli(capsys, "report", "--json")
    assert code == 0
    assert Path(f"digests/llm-inference/2025/{DAY}.md").is_file()


def test_report_without_date_on_an_empty_database_says_so(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, _, err = run_cli(capsys, "report")
    assert code == 0 and "holds no listing yet" in err


def test_help_says_each_date_default(capsys: pytest.CaptureFixture[str]) -> None:
    for command, needle in (
        ("score", "newest listing stored"),
        ("report", "newest listing stored"),
        ("export", "newest listing stored"),
        ("run", "latest listing"),
        ("fetch", "latest listing"),
    ):
        from arxivfilter.cli import cli

        with pytest.raises(SystemExit):
            cli([command, "--help"], prog_name="arxivfilter")
        text = " ".join(capsys.readouterr().out.split())
        assert needle in text, command


@pytest.mark.parametrize("command", ["score", "report"])
def test_source_on_score_and_report_is_staged(
    capsys: pytest.CaptureFixture[str], command: str, small: Path
) -> None:
    """`score --source` and `report --source` were accepted and ignored (nothing stored)."""
    code, out, _ = run_cli(capsys, command, "--source", str(small), "--json")
    assert code == 0, out
    data = json.loads(out)
    assert data["fetch"]["papers"] == 30
    if command == "score":
        assert data["score"]["judged"] == 60
    else:
        assert data["report"]["listed"]  # the stored day was reported (unscored papers)


@pytest.mark.parametrize(
    ("value", "hint"), [("cs.XX", None), ("cs.DCC", "cs.DC"), ("cs.dc,cs.OZ", "cs.OS")]
)
def test_unknown_categories_are_exit_2(
    capsys: pytest.CaptureFixture[str], value: str, hint: str | None, small: Path
) -> None:
    """Old code: a silent empty success."""
    code, _, err = run_cli(capsys, "run", "--source", str(small), "--categories", value)
    assert code == 2
    line = error_line(err)
    assert "not an arXiv category" in line
    if hint:
        assert "did you mean" in line and hint in line
    assert not Path("digests").exists()


def test_categories_are_case_normalised(capsys: pytest.CaptureFixture[str], small: Path) -> None:
    code, out, _ = run_cli(
        capsys, "fetch", "--source", str(small), "--categories", "cs.lg", "--json"
    )
    assert code == 0
    assert json.loads(out)["fetch"]["papers"] > 0


def test_unknown_category_in_a_profile_is_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    Path("config/profiles").mkdir(parents=True)
    Path("config/profiles/hw.toml").write_text(
        'name = "hw"\ndescription = "hardware"\ncategories = ["cs.ARR"]\n'
    )
    code, _, err = run_cli(capsys, "profiles")
    assert code == 2
    assert "did you mean cs.AR" in err


def _record(arxiv_id: str, categories: list[str], title: str) -> dict[str, object]:
    return {
        "id": arxiv_id,
        "title": title,
        "authors": ["A. Author"],
        "categories": categories,
        "summary": f"We build {title.lower()} and measure it.",
        "date": DAY,
    }


def test_profile_categories_are_fetched_once_and_scanned(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """A profile's `categories` adds to what is fetched; other profiles do not scan them."""
    Path("config/profiles").mkdir(parents=True)
    Path("config/profiles/hw.toml").write_text(
        'name = "hw"\ndescription = "FPGA accelerators for LLM inference"\n'
        'categories = ["cs.ar"]\nthreshold = 0\n'
    )
    Path("config/profiles/plain.toml").write_text(
        'name = "plain"\ndescription = "FPGA accelerators for LLM inference"\nthreshold = 0\n'
    )
    src = Path("day.jsonl")
    src.write_text(
        "\n".join(
            json.dumps(r)
            for r in (
                _record("2512.00001", ["cs.AR"], "An FPGA accelerator"),
                _record("2512.00002", ["cs.DC"], "A serving system"),
            )
        )
        + "\n"
    )
    code, out, _ = run_cli(
        capsys, "run", "--source", str(src), "--profile", "hw", "--profile", "plain", "--json"
    )
    assert code == 0, out
    assert json.loads(out)["fetch"]["papers"] == 2
    hw = Path(f"digests/hw/2025/{DAY}.md").read_text()
    plain = Path(f"digests/plain/2025/{DAY}.md").read_text()
    assert "An FPGA accelerator" in hw and "An FPGA accelerator" not in plain
    assert "A serving system" in hw and "A serving system" in plain


def test_a_damaged_source_line_is_done_with_failures(
    capsys: pytest.CaptureFixture[str], small: Path
) -> None:
    """A source cut mid-record was a complete, ok day (exit 0)."""
    lines = small.read_text().splitlines()
    cut = Path(f"cut-{DAY}.jsonl")
    cut.write_text("\n".join(lines[:-1]) + "\n" + lines[-1][: len(lines[-1]) // 2])
    code, out, _ = run_cli(capsys, "run", "--source", str(cut), "--json")
    assert code == 1
    data = json.loads(out)
    assert data["fetch"]["damaged"] == {DAY: 1}
    assert "1 damaged source record" in data["message"]
    digest = Path(f"digests/llm-inference/2025/{DAY}.md").read_text()
    assert "1 source record was damaged" in digest
    code, out, _ = run_cli(capsys, "run", "--source", str(cut))
    assert code == 1 and "damaged" in out


def test_export_of_nothing_says_so(capsys: pytest.CaptureFixture[str], small: Path) -> None:
    """Old code printed nothing at all and exited 0."""
    assert run_cli(capsys, "fetch", "--source", str(small))[0] == 0
    code, out, err = run_cli(capsys, "export", "--date", "2025-12-15")
    assert (code, out) == (0, "")
    assert "nothing to export" in err and "2025-12-15" in err


def test_export_of_a_missing_database_is_exit_2_and_creates_nothing(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ARXIVFILTER_DB_URL", "sqlite:///elsewhere/none.db")
    code, out, err = run_cli(capsys, "export", "--date", DAY)
    assert code == 2 and out == ""
    assert "does not exist" in error_line(err)
    assert not Path("elsewhere").exists()

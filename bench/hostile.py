"""Each fault of a hostile upstream, through the real command line: exit code and wall time.

    python bench/hostile.py [--src PATH] [--cap-seconds 90] [--only MODE,...]

``tests/hostile_server.py`` runs in its own process; each fault is one ``arxivfilter``
command in a fresh working directory, pointed at that server, with the shipped defaults
except where a line says otherwise (the issue's drip case: timeout 3 s, retry budget 10 s,
one byte every 2 s). ``--src`` runs the commands against another source tree (e.g.
``--src ../main/src`` for the code before the change), through ``PYTHONPATH``. A command
still running after ``--cap-seconds`` is killed and reported as ``still running``.

Printed: one line per fault: mode, exit code (or "still running"), wall seconds, the peak
memory of the commands so far, the files (and stderr) holding 8 or more characters of the
API key's secret part, and the last line of stderr (traceback or one-line error).
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests import hostile_server  # noqa: E402

SOURCE = ROOT / "tests" / "fixtures" / "feeds" / "export.jsonl"
SMALL = {"ARXIVFILTER_LLM__TIMEOUT_SECONDS": "3", "ARXIVFILTER_LLM__RETRY_MAX_SECONDS": "10"}


def latest_date() -> str:
    from arxivfilter import dates

    return dates.latest_listing(dt.datetime.now(dt.UTC)).isoformat()


def faults(url: str) -> list[tuple[str, list[str], dict[str, str]]]:
    day = latest_date()
    fetch = ["fetch", "--date", day, "--categories", "cs.DC"]
    llm = ["run", "--source", str(SOURCE), "--scorer", "llm", "--categories", "all"]
    key = {"OPENAI_API_KEY": "sk-proj-Zq8vT3mK9wLx2Rb7Hc4Nd1Fs6Gj0Pe5Yu"}
    return [
        (
            "arXiv 429 Retry-After: 100000",
            fetch,
            {"ARXIVFILTER_ARXIV__RSS_URL": f"{url}/retry-long/"},
        ),
        (
            "arXiv 503 Retry-After: year 9999",
            fetch,
            {"ARXIVFILTER_ARXIV__RSS_URL": f"{url}/retry-date/"},
        ),
        (
            "arXiv drip (1 byte / 2 s; timeout 3 s, budget 10 s)",
            fetch,
            {
                "ARXIVFILTER_ARXIV__RSS_URL": f"{url}/drip/",
                "ARXIVFILTER_ARXIV__TIMEOUT_SECONDS": "3",
                "ARXIVFILTER_ARXIV__RETRY_MAX_SECONDS": "10",
            },
        ),
        ("arXiv 80 MiB RSS body", fetch, {"ARXIVFILTER_ARXIV__RSS_URL": f"{url}/huge/"}),
        ("arXiv gzip bomb (1 MiB -> 1 GiB)", fetch, {"ARXIVFILTER_ARXIV__RSS_URL": f"{url}/bomb/"}),
        (
            "OAI-PMH empty pages, endless tokens",
            ["fetch", "--from", day, "--to", day, "--categories", "cs.DC"],
            {"ARXIVFILTER_ARXIV__OAI_URL": f"{url}/oai-endless/oai"},
        ),
        (
            "LLM drip (1 byte / 2 s; timeout 3 s, budget 10 s)",
            llm,
            {"OPENAI_BASE_URL": f"{url}/llm-drip/v1", **key, **SMALL},
        ),
        ("LLM 80 MiB reply", llm, {"OPENAI_BASE_URL": f"{url}/llm-huge/v1", **key}),
        ("LLM gzip bomb", llm, {"OPENAI_BASE_URL": f"{url}/llm-bomb/v1", **key}),
        (
            "LLM 429 Retry-After: 100000",
            llm,
            {"OPENAI_BASE_URL": f"{url}/llm-retry-long/v1", **key},
        ),
        ("LLM relevance 1e9", llm, {"OPENAI_BASE_URL": f"{url}/llm-values/v1", **key}),
        ("LLM echoes the key without sk-", llm, {"OPENAI_BASE_URL": f"{url}/llm-echo/v1", **key}),
    ]


KEY_CORE = "Zq8vT3mK9wLx2Rb7Hc4Nd1Fs6Gj0Pe5Yu"  # the test key minus "sk-proj-"


def key_files(work: Path, err: bytes) -> list[str]:
    """Files under ``work`` (database, digests, feeds) and stderr holding 8+ characters of the key."""
    pieces = [KEY_CORE[i : i + 8].encode() for i in range(len(KEY_CORE) - 7)]
    found = [
        str(path.relative_to(work))
        for path in sorted(work.rglob("*"))
        if path.is_file() and any(piece in path.read_bytes() for piece in pieces)
    ]
    if any(piece in err for piece in pieces):
        found.append("stderr")
    return found


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--src", type=Path, default=ROOT / "src")
    parser.add_argument("--cap-seconds", type=float, default=90.0)
    parser.add_argument("--only", default="", help="comma-separated substrings of fault names")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="arxivfilter-hostile-") as tmp:
        folder = Path(tmp)
        with hostile_server.serve(folder, HOSTILE_DRIP_SECONDS="2") as url:
            for name, cmd, env in faults(url):
                if args.only and not any(o in name for o in args.only.split(",")):
                    continue
                work = folder / f"w{abs(hash(name))}"
                work.mkdir()
                full = {
                    **{
                        k: v
                        for k, v in os.environ.items()
                        if not k.startswith(("OPENAI_", "ARXIVFILTER_"))
                    },
                    "PYTHONPATH": str(args.src.resolve()),
                    "ARXIVFILTER_MODEL": "hostile",
                    **env,
                }
                started = time.monotonic()
                proc = subprocess.Popen(
                    [sys.executable, "-m", "arxivfilter.cli", *cmd],
                    cwd=work,
                    env=full,
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.PIPE,
                )
                try:
                    _out, err = proc.communicate(timeout=args.cap_seconds)
                    code = str(proc.returncode)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    _out, err = proc.communicate()
                    code = "still running"
                wall = time.monotonic() - started
                lines = [ln for ln in err.decode(errors="replace").splitlines() if ln.strip()]
                last = lines[-1][:160] if lines else ""
                peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
                leaked = key_files(work, err)
                leak = f"  key found in {leaked}" if leaked else ""
                print(
                    f"{name:55s} exit {code:>13s}  {wall:7.1f} s  peak<= {peak:6.0f} MB{leak}  {last}"
                )
                sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""``arxivfilter notify`` and ``run`` with recipients configured, end to end against a
real SMTP server: run notifies after report, a re-run or a second run sends nothing, a
process killed mid-send sends once on the next run, exit codes, secrets never shown."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from arxivfilter.cli import main
from tests.harness import count, dump_tables
from tests.notify.conftest import start_smtp

ROOT = Path(__file__).resolve().parents[2]
DEMO = ROOT / "examples" / "2025-12-16.jsonl"
PASSWORD = "pw-SECRETSMTP-0815"
CONFIG = """
[report]
site_url = "https://me.github.io/arxiv"

[notify]
min_interval_seconds = 0

[[notify.subscribers]]
address = "ada@example.org"
profiles = ["llm-inference"]

[[notify.subscribers]]
address = "bob@example.org"
profiles = ["llm-systems"]
"""


def setup_config(extra: str = "") -> None:
    Path("config").mkdir(exist_ok=True)
    Path("config/arxivfilter.toml").write_text(CONFIG + extra)


def cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out = capsys.readouterr()
    return code, out.out, out.err


@pytest.fixture
def server(smtp, monkeypatch: pytest.MonkeyPatch):
    s = smtp()
    for k, v in s.env().items():
        monkeypatch.setenv(k, v)
    return s


def test_run_notifies_after_report_once(capsys, server) -> None:
    setup_config()
    code, out, _ = cli(capsys, "run", "--source", str(DEMO), "--json")
    assert code == 0, out
    summary = json.loads(out)
    assert summary["stages"] == ["fetch", "score", "report", "notify"]
    assert summary["notify"]["counts"]["sent"] == 2
    assert Path("digests/llm-inference/2025/2025-12-16.md").is_file()
    msgs = {str(m["To"]): m for m in server.messages()}
    assert set(msgs) == {"ada@example.org", "bob@example.org"}
    ada = msgs["ada@example.org"].get_body(("plain",)).get_content()
    assert "on the site: https://me.github.io/arxiv/llm-inference/#" in ada
    # the digest and the mail list the same papers
    digest = Path("digests/llm-inference/2025/2025-12-16.md").read_text()
    for line in ada.splitlines():
        if line.strip().startswith("arXiv: https://arxiv.org/abs/"):
            assert line.split("/abs/")[1] in digest
    # a second run (a re-run of the workflow) sends nothing
    code, out, _ = cli(capsys, "run", "--source", str(DEMO), "--json")
    assert code == 0
    assert json.loads(out)["notify"]["counts"] == {
        "sent": 0, "failed": 0, "bad_address": 0, "already_sent": 2, "nothing_matched": 0,
        "not_tried": 0, "too_old": 0,
    }  # fmt: skip
    code, _, _ = cli(capsys, "notify")  # newest stored listing by default
    assert code == 0
    assert len(server.messages()) == 2


def test_notify_exit_codes_and_run_folds_them_to_1(capsys, server, monkeypatch) -> None:
    """notify alone gives the precise code (2: no SMTP settings); within run the same
    problem is exit 1, so the workflow still commits the digests and the ledger."""
    setup_config()
    monkeypatch.delenv("ARXIVFILTER_SMTP_HOST")
    code, out, err = cli(capsys, "run", "--source", str(DEMO))
    assert code == 1
    assert "ARXIVFILTER_SMTP_HOST" in out
    assert Path("digests/llm-systems/2025/2025-12-16.md").is_file()
    code, out, _ = cli(capsys, "notify", "--json")
    assert code == 2
    assert json.loads(out)["notify"]["counts"]["not_tried"] == 2
    monkeypatch.setenv("ARXIVFILTER_SMTP_HOST", "127.0.0.1")
    code, _, _ = cli(capsys, "notify")
    assert code == 0
    assert len(server.messages()) == 2


def test_notify_without_recipients_or_listing(capsys) -> None:
    code, _, err = cli(capsys, "notify")
    assert code == 0 and "nothing sent" in err
    setup_config()
    code, _, err = cli(capsys, "notify")
    assert code == 2 and "holds no listing" in err


def test_subscribers_are_set_in_the_file_only(capsys, monkeypatch) -> None:
    monkeypatch.setenv("ARXIVFILTER_NOTIFY__SUBSCRIBERS", "a@example.org")
    code, _, err = cli(capsys, "config")
    assert code == 2 and "set it in the file" in err


def test_bad_subscriber_key_is_exit_2(capsys) -> None:
    Path("config").mkdir()
    Path("config/arxivfilter.toml").write_text('[[notify.subscribers]]\nadress = "a@x.org"\n')
    code, _, err = cli(capsys, "config")
    assert code == 2 and "subscribers" in err and "Traceback" not in err


def test_unknown_profile_in_a_subscriber_is_exit_2(capsys, server) -> None:
    setup_config('\n[[notify.subscribers]]\naddress = "c@x.org"\nprofiles = ["nope"]\n')
    assert cli(capsys, "run", "--source", str(DEMO))[0] == 1
    code, out, _ = cli(capsys, "notify")
    assert code == 2 and "unknown profile 'nope'" in out
    assert server.messages() == []


def test_password_never_shown(capsys, smtp, certs, monkeypatch) -> None:
    """With debug logs and a refused login: the password is in no output, row or error."""
    setup_config()
    monkeypatch.setenv("SSL_CERT_FILE", str(certs.ca))
    s = smtp("--auth", "digest:right-one", "--starttls", str(certs.cert), str(certs.key))
    for k, v in s.env(
        ARXIVFILTER_SMTP_TLS="starttls",
        ARXIVFILTER_SMTP_USER="digest",
        ARXIVFILTER_SMTP_PASSWORD=PASSWORD,
        ARXIVFILTER_LOG_LEVEL="debug",
    ).items():
        monkeypatch.setenv(k, v)
    code, out, err = cli(capsys, "run", "--source", str(DEMO), "--json")
    assert code == 1
    assert json.loads(out)["notify"]["exit_code"] == 3
    code, out2, err2 = cli(capsys, "notify")
    assert code == 3 and "refused the login" in err2 + out2
    code, out3, err3 = cli(capsys, "config")
    blob = out + err + out2 + err2 + out3 + err3
    assert "SECRETSMTP" not in blob
    assert "SECRETSMTP" not in repr(dump_tables(Path("data/arxivfilter.db")))


def _wait_for(predicate, seconds: float = 60.0) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.1)
    raise AssertionError("timed out")


def test_killed_mid_send_sends_once_on_the_next_run(capsys, smtp, tmp_path: Path) -> None:
    """A notify process killed while the server has its first message in hand leaves the
    claim pending; the next run takes it over, resends with the same Message-ID, sends the
    rest, and a third run sends nothing."""
    setup_config()
    assert cli(capsys, "run", "--source", str(DEMO))[0] == 1  # no SMTP settings yet
    hang = start_smtp(tmp_path / "hang", "--hang")
    try:
        env = {**os.environ, **hang.env(), "PYTHONPATH": str(ROOT / "src")}
        proc = subprocess.Popen(
            [sys.executable, "-m", "arxivfilter.cli", "notify"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        db = Path("data/arxivfilter.db")
        _wait_for(
            lambda: count(db, "SELECT COUNT(*) FROM notifications WHERE status='pending'") == 1
        )
        time.sleep(0.3)  # the message is on the wire
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        hang.stop()
    pending = dump_tables(db)["notifications"]
    assert len(pending) == 1
    good = start_smtp(tmp_path / "good")
    try:
        for k, v in good.env().items():
            os.environ[k] = v
        code, out, _ = cli(capsys, "notify", "--json")
        assert code == 0, out
        code, out, _ = cli(capsys, "notify", "--json")
        assert code == 0 and json.loads(out)["notify"]["counts"]["sent"] == 0
        msgs = good.messages()
        assert sorted(str(m["To"]) for m in msgs) == ["ada@example.org", "bob@example.org"]
        first_id = pending[0][4]
        assert first_id in [m["Message-ID"] for m in msgs]
        assert count(db, "SELECT COUNT(*) FROM runs WHERE status='aborted'") == 1
    finally:
        good.stop()
        for k in good.env():
            os.environ.pop(k, None)

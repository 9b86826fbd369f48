"""A screenshot of one digest e-mail as Chromium renders it, for the README.

    python bench/email_screenshot.py [--out docs/email.png] [--width 720]

The offline demo day (``examples/2025-12-16.jsonl``, local scorer) is run in a temporary
folder with one subscriber of ``llm-inference`` and ``arxivfilter run`` delivering to a
real SMTP server (aiosmtpd, ``tests/notify/smtp_server.py``, its own process on
127.0.0.1). The HTML part of the message the server received is opened in headless
Debian chromium (``/usr/bin/chromium``, driven by Playwright) with scripts disabled, as a
mail client would, and captured whole.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from email.message import EmailMessage
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.notify.conftest import start_smtp  # noqa: E402

FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run"]
CONFIG = """\
[notify]
min_interval_seconds = 0

[[notify.subscribers]]
address = "reader@example.org"
profiles = ["llm-inference"]
"""


def received_html(messages: list[EmailMessage]) -> str:
    """The HTML part of the one message the server received."""
    if len(messages) != 1:
        raise SystemExit(f"expected one message, the server received {len(messages)}")
    msg = messages[0]
    part = msg.get_body(preferencelist=("html",))
    if part is None:
        raise SystemExit("the message has no HTML part")
    print(f"subject: {msg['Subject']}")
    return str(part.get_content())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "email.png")
    parser.add_argument("--width", type=int, default=720)
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        (work / "config").mkdir()
        (work / "config" / "arxivfilter.toml").write_text(CONFIG, encoding="utf-8")
        server = start_smtp(work / "smtp")
        try:
            env = {
                **os.environ,
                "ARXIVFILTER_SMTP_HOST": "127.0.0.1",
                "ARXIVFILTER_SMTP_PORT": str(server.port),
                "ARXIVFILTER_SMTP_TLS": "none",
                "ARXIVFILTER_SMTP_FROM": "digest@example.org",
            }
            env.pop("OPENAI_API_KEY", None)
            cmd = [sys.executable, "-m", "arxivfilter.cli", "run"]
            cmd += ["--source", str(ROOT / "examples" / "2025-12-16.jsonl")]
            done = subprocess.run(cmd, cwd=work, env=env, capture_output=True, timeout=600)
            if done.returncode != 0:
                sys.stderr.write(done.stderr.decode(errors="replace")[-2000:])
                raise SystemExit(f"arxivfilter run exited {done.returncode}")
            html = received_html(server.messages())
        finally:
            server.stop()
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path="/usr/bin/chromium", args=FLAGS)
            page = browser.new_page(
                viewport={"width": args.width, "height": 900}, java_script_enabled=False
            )
            page.set_content(html)
            args.out.parent.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(args.out), full_page=True)
            browser.close()
    print(args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())

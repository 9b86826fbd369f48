"""Time to send 100 e-mails to a local SMTP server (aiosmtpd in its own process).

    python bench/notify_send.py [--subscribers 100] [--papers 20] [--tls none|starttls]

A fresh SQLite database with one announcement day of synthetic judged papers, N
subscribers of the shipped ``llm-inference`` profile, ``[notify] min_interval_seconds = 0``
(no pacing: the figure is the cost of composing and sending). Prints: wall time of the
whole ``deliver`` (ledger claims and commits included), messages per second, the mean
message size, the time of rendering alone, and a re-run's time (ledger only: 0 sent).
With ``--tls starttls`` the server asks for AUTH after STARTTLS (trustme certificate).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sqlmodel import Session  # noqa: E402
from tests.notify.conftest import DAY, Paper, add_papers, start_smtp  # noqa: E402

from arxivfilter import store  # noqa: E402
from arxivfilter.config import load_profiles, load_settings  # noqa: E402
from arxivfilter.notify.compose import MailContext, build_message  # noqa: E402
from arxivfilter.notify.deliver import deliver  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--subscribers", type=int, default=100)
    parser.add_argument("--papers", type=int, default=20)
    parser.add_argument("--tls", choices=["none", "starttls"], default="none")
    args = parser.parse_args()

    import structlog

    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(40))
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        os.chdir(tmp)
        url = f"sqlite:///{tmp / 'bench.db'}"
        papers = [
            Paper(f"2512.{i:05d}", f"Paper {i}: serving LLMs with a paged KV cache",
                  {"llm-inference": 99 - (i % 30)})
            for i in range(args.papers)
        ]  # fmt: skip
        add_papers(url, papers)
        subs = "".join(
            f'[[notify.subscribers]]\naddress = "reader{i:03d}@example.org"\n'
            'profiles = ["llm-inference"]\n'
            for i in range(args.subscribers)
        )
        cfg = tmp / "config.toml"
        cfg.write_text(f'[storage]\ndb_url = "{url}"\n[notify]\nmin_interval_seconds = 0\n{subs}')
        settings = load_settings(env={}, path=cfg)
        extra: list[str] = []
        env_extra: dict[str, str] = {}
        if args.tls == "starttls":
            import trustme

            ca = trustme.CA()
            cert = ca.issue_cert("127.0.0.1")
            ca.cert_pem.write_to_path(str(tmp / "ca.pem"))
            cert.private_key_pem.write_to_path(str(tmp / "key.pem"))
            for i, blob in enumerate(cert.cert_chain_pems):
                blob.write_to_path(str(tmp / "cert.pem"), append=i > 0)
            os.environ["SSL_CERT_FILE"] = str(tmp / "ca.pem")
            extra = [
                "--auth",
                "bench:pw",
                "--starttls",
                str(tmp / "cert.pem"),
                str(tmp / "key.pem"),
            ]
            env_extra = {
                "ARXIVFILTER_SMTP_TLS": "starttls",
                "ARXIVFILTER_SMTP_USER": "bench",
                "ARXIVFILTER_SMTP_PASSWORD": "pw",
            }
        server = start_smtp(tmp / "mail", *extra)
        try:
            engine = store.make_engine(url)
            profiles = load_profiles()
            with Session(engine, expire_on_commit=False) as session:
                t0 = time.perf_counter()
                result = deliver(
                    session, settings, profiles, [DAY], categories=None, scorer="local",
                    env=server.env(**env_extra),
                )  # fmt: skip
                wall = time.perf_counter() - t0
                t1 = time.perf_counter()
                again = deliver(
                    session, settings, profiles, [DAY], categories=None, scorer="local",
                    env=server.env(**env_extra),
                )  # fmt: skip
                rerun = time.perf_counter() - t1
                from arxivfilter.notify.select import DayPapers, Recipient

                day = DayPapers(session, profiles, None, "local")
                selection = day.select(Recipient("x@example.org", "email", ("llm-inference",)), DAY)
                ctx = MailContext(sender="d@example.org", recipient="x@example.org")
                t2 = time.perf_counter()
                for _ in range(args.subscribers):
                    build_message(
                        selection,
                        ctx,
                        message_id="<m@x>",
                        now=__import__("datetime").datetime.now(),
                    )
                render = time.perf_counter() - t2
            engine.dispose()
            sizes = [p.stat().st_size for p in (tmp / "mail").glob("*.eml")]
        finally:
            server.stop()
    sent = result.count("sent")
    print(
        f"messages sent: {sent} of {args.subscribers} ({args.papers} papers each, tls={args.tls})"
    )
    print(
        f"deliver wall time: {wall:.2f} s = {sent / wall:.0f} messages/s ({wall / max(sent, 1) * 1000:.1f} ms each)"
    )
    print(f"mean message size: {sum(sizes) / max(len(sizes), 1) / 1024:.1f} KiB")
    print(
        f"rendering alone (text + HTML + css-inline): {render / args.subscribers * 1000:.1f} ms per message"
    )
    print(
        f"re-run: {again.count('sent')} sent, {again.count('already_sent')} already sent, {rerun:.2f} s"
    )
    return 0 if sent == args.subscribers and again.count("sent") == 0 else 1


if __name__ == "__main__":
    sys.exit(main())

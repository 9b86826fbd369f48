"""The delivery ledger (SQLite and PostgreSQL): a claim is won once, a failed or orphaned
delivery is taken over with its Message-ID, a sent one never is."""

from __future__ import annotations

import datetime as dt

from sqlmodel import Session

from arxivfilter import store
from arxivfilter.models import Notification

D = dt.date(2025, 12, 16)


def claim(session: Session, run_id: int | None, mid: str = "<new@x>") -> Notification | None:
    return store.claim_notification(
        session, recipient="a@x.org", date=D, channel="email", message_id=mid, papers=2,
        run_id=run_id,
    )  # fmt: skip


def test_claims(db_url: str) -> None:
    engine = store.make_engine(db_url)
    with Session(engine, expire_on_commit=False) as s:
        live = store.start_run(s, "notify")
        first = claim(s, live.id, "<first@x>")
        assert first is not None and first.status == "pending" and first.attempts == 1
        other = store.start_run(s, "notify")
        assert claim(s, other.id) is None  # held by a live run
        # the first run dies mid-send: its run is marked aborted, the row is taken over
        store.abort_stale_runs(s)
        third = store.start_run(s, "notify")
        taken = claim(s, third.id)
        assert taken is not None and taken.message_id == "<first@x>" and taken.attempts == 2
        store.finish_notification(s, taken, status="failed", error="421 try later")
        retried = claim(s, third.id)
        assert retried is not None and retried.attempts == 3 and retried.message_id == "<first@x>"
        store.finish_notification(s, retried, status="sent")
        assert claim(s, third.id) is None
        rows = store.ledger(s, D)
        assert [(r.status, r.error, r.sent_at is not None) for r in rows] == [("sent", None, True)]
    engine.dispose()


def test_restore_never_downgrades(db_url: str) -> None:
    engine = store.make_engine(db_url)
    with Session(engine, expire_on_commit=False) as s:
        row = claim(s, None, "<m@x>")
        assert row is not None
        store.finish_notification(s, row, status="sent")
        incoming = [
            Notification(recipient="a@x.org", date=D, channel="email", message_id="<m@x>",
                         status="failed"),
            Notification(recipient="b@x.org", date=D, channel="email", message_id="<n@x>",
                         status="sent"),
        ]  # fmt: skip
        assert store.restore_ledger(s, incoming) == 1
        assert {r.recipient: r.status for r in store.ledger(s)} == {
            "a@x.org": "sent",
            "b@x.org": "sent",
        }
    engine.dispose()

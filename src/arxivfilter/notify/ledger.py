"""The committed text copy of the delivery ledger (``[notify] ledger_file``).

On GitHub every night starts from a fresh runner, so the ledger must travel in the
repository: one JSON object per line, sorted by date, channel and recipient (stable bytes,
small diffs). ``deliver`` merges it into the database before sending (a ``sent`` row is
never downgraded) and writes it back when it ends. An unreadable file stops delivery
(exit 5): sending again to everyone would be worse than sending nothing.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable
from pathlib import Path

from arxivfilter.errors import StorageError
from arxivfilter.models import Notification
from arxivfilter.report.write import write_atomic

_FIELDS = ("date", "channel", "recipient", "status", "message_id", "papers", "attempts")


def read_ledger(path: Path) -> list[Notification]:
    """The rows of the file (none when it does not exist)."""
    if not path.is_file():
        return []
    rows: list[Notification] = []
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise StorageError(f"{path}: cannot read the delivery ledger: {exc}") from None
    for n, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            rec = json.loads(line)
            sent_at = rec.get("sent_at")
            rows.append(
                Notification(
                    recipient=str(rec["recipient"]),
                    date=dt.date.fromisoformat(rec["date"]),
                    channel=str(rec["channel"]),
                    message_id=str(rec["message_id"]),
                    status=str(rec["status"]),
                    papers=int(rec.get("papers", 0)),
                    attempts=int(rec.get("attempts", 0)),
                    error=rec.get("error"),
                    sent_at=dt.datetime.fromisoformat(sent_at) if sent_at else None,
                )
            )
        except (ValueError, KeyError, TypeError) as exc:
            raise StorageError(
                f"{path}:{n}: not a delivery ledger line ({type(exc).__name__}); "
                "fix or remove the line (a removed 'sent' line is sent again)"
            ) from None
    return rows


def render_ledger(rows: Iterable[Notification]) -> str:
    """Sent and failed rows, one JSON object per line (a claim in flight is not written)."""
    lines = []
    for r in sorted(rows, key=lambda r: (r.date, r.channel, r.recipient)):
        if r.status not in ("sent", "failed"):
            continue
        rec: dict[str, object] = {k: getattr(r, k) for k in _FIELDS}
        rec["date"] = r.date.isoformat()
        rec["sent_at"] = r.sent_at.isoformat(timespec="seconds") if r.sent_at else None
        if r.error:
            rec["error"] = r.error
        lines.append(json.dumps(rec, ensure_ascii=False, sort_keys=True))
    return "".join(line + "\n" for line in lines)


def write_ledger(path: Path, rows: Iterable[Notification]) -> bool:
    """Write the file when its content changed; returns whether it did."""
    return write_atomic(path, render_ledger(rows))

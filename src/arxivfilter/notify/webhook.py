"""Slack and Discord incoming webhooks: payloads (pure) and one bounded POST with retries.

Untrusted text is escaped for each: Slack's ``&``, ``<``, ``>`` (so a title cannot write
``<!channel>`` or a disguised link), Discord's Markdown with backslashes, and Discord's
``allowed_mentions`` empty so ``@everyone`` in a title pings nobody. The webhook URL is a
secret: it comes from the environment variable the config names and is never logged.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from typing import Any

import httpx

from arxivfilter.models import ListedPaper
from arxivfilter.notify.compose import permalink, subject
from arxivfilter.notify.select import Selection
from arxivfilter.notify.smtp import SendFailed
from arxivfilter.report.escape import collapse, safe_url

SLACK_MAX_PAPERS = 45  # Slack allows 50 blocks per message
SLACK_TEXT_MAX = 2900  # a section's text is at most 3,000 characters
DISCORD_MAX = 2000  # characters of a message's content
_DISCORD_SPECIAL = re.compile(r"([\\*_~`|>#\-\[\]()<@:!])")


def slack_escape(text: str | None) -> str:
    return collapse(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def discord_escape(text: str | None) -> str:
    return _DISCORD_SPECIAL.sub(r"\\\1", collapse(text))


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _score(p: ListedPaper) -> str:
    return f"relevance {p.relevance}" + (f", hype {p.hype}" if p.hype is not None else "")


def _pairs(selection: Selection) -> list[tuple[str, ListedPaper]]:
    return [(s.profile.name, p) for s in selection.sections for p in s.papers]


def slack_payload(
    selection: Selection, *, site_url: str = "", max_papers: int = 50
) -> dict[str, Any]:
    pairs = _pairs(selection)
    limit = min(max_papers, SLACK_MAX_PAPERS)
    blocks: list[dict[str, Any]] = [
        {
            "type": "section",
            "text": {"type": "mrkdwn", "text": f"*{slack_escape(subject(selection))}*"},
        }
    ]
    for profile, p in pairs[:limit]:
        links = [f"<{safe_url(p.arxiv_id)}|arXiv>", f"<{safe_url(p.arxiv_id, 'pdf')}|PDF>"]
        if site_url:
            links.append(f"<{permalink(site_url, profile, p.arxiv_id)}|site>")
        title = slack_escape(p.title) or "(untitled)"
        text = f"*<{safe_url(p.arxiv_id)}|{_cut(title, 300)}>*\n{_score(p)} · {profile}"
        if p.tags:
            text += " · " + ", ".join(slack_escape(t) for t in p.tags)
        if p.tldr:
            text += "\n" + _cut(slack_escape(p.tldr), 1500)
        text += "\n" + " · ".join(links)
        blocks.append(
            {"type": "section", "text": {"type": "mrkdwn", "text": _cut(text, SLACK_TEXT_MAX)}}
        )
    if len(pairs) > limit:
        more = f"… and {len(pairs) - limit} more"
        if site_url:
            more = f"<{site_url}|{more}>"
        blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": more}]})
    return {
        "text": slack_escape(subject(selection)),  # the notification's fallback text
        "blocks": blocks,
        "unfurl_links": False,
        "unfurl_media": False,
    }


def discord_payload(
    selection: Selection, *, site_url: str = "", max_papers: int = 50
) -> dict[str, Any]:
    pairs = _pairs(selection)
    lines = [f"**{discord_escape(subject(selection))}**"]
    shown = 0
    for profile, p in pairs[:max_papers]:
        title = _cut(discord_escape(p.title) or "(untitled)", 250)
        line = f"- [{title}](<{safe_url(p.arxiv_id)}>) ({_score(p)}, {discord_escape(profile)})"
        if site_url:
            line += f" [site](<{permalink(site_url, profile, p.arxiv_id)}>)"
        if p.tldr:
            line += "\n  " + _cut(discord_escape(p.tldr), 300)
        rest = len(pairs) - shown - 1
        reserve = 40 if rest else 0
        if sum(len(x) + 1 for x in lines) + len(line) + reserve > DISCORD_MAX:
            break
        lines.append(line)
        shown += 1
    if len(pairs) > shown:
        lines.append(f"… and {len(pairs) - shown} more")
    return {
        "content": "\n".join(lines)[:DISCORD_MAX],
        "allowed_mentions": {"parse": []},
        "flags": 4,  # SUPPRESS_EMBEDS
    }


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("retry-after")
    try:
        if value is not None:
            return max(float(value), 0.0)
        body = response.json()
        if isinstance(body, dict) and isinstance(body.get("retry_after"), int | float):
            return max(float(body["retry_after"]), 0.0)
    except ValueError:
        return None
    return None


def post_webhook(
    client: httpx.Client,
    kind: str,
    url: str,
    payload: dict[str, Any],
    *,
    attempts: int = 3,
    retry_after_max: float = 60.0,
    sleep: Callable[[float], None] = time.sleep,
) -> str | None:
    """POST once (retrying 429/5xx/network errors, honouring Retry-After up to
    ``retry_after_max``). Returns Discord's message id; SendFailed otherwise."""
    try:
        target = httpx.URL(url)
    except (httpx.InvalidURL, TypeError):
        raise SendFailed("the webhook URL is not a URL", bad_address=True) from None
    local = target.host in ("localhost", "127.0.0.1", "::1")
    if target.scheme != "https" and not (target.scheme == "http" and local):
        raise SendFailed("the webhook URL must be https", bad_address=True)
    if kind == "discord":
        target = target.copy_merge_params({"wait": "true"})
    last = "no attempt made"
    for attempt in range(1, attempts + 1):
        try:
            response = client.post(target, json=payload)
        except httpx.HTTPError as exc:
            last = f"{type(exc).__name__}"
            if attempt < attempts:
                sleep(min(2.0**attempt, retry_after_max))
            continue
        status = response.status_code
        if 200 <= status < 300:
            if kind == "discord":
                try:
                    body = response.json()
                except ValueError:
                    return None
                ident = body.get("id") if isinstance(body, dict) else None
                return str(ident)[:64] if ident is not None else None
            return None
        if status == 429 or status >= 500:
            wait = _retry_after(response) if status == 429 else None
            last = f"HTTP {status}" + (f", Retry-After {wait:g} s" if wait is not None else "")
            if wait is None:
                wait = min(2.0**attempt, retry_after_max)
            if wait > retry_after_max:
                break
            if attempt < attempts:
                sleep(wait)
            continue
        reason = collapse(response.text)[:200]
        raise SendFailed(
            f"the {kind} webhook answered HTTP {status}: {reason}",
            bad_address=status in (401, 403, 404, 410),
        )
    raise SendFailed(f"the {kind} webhook did not accept the message ({last})")

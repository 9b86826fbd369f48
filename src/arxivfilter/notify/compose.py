"""One e-mail per recipient and date: an HTML part (CSS inlined by css-inline) and a
plain-text part, from a :class:`~arxivfilter.notify.select.Selection` (pure rendering).

Everything from arXiv or a model is data: HTML text and attributes are escaped with
``html.escape``, links are built only from validated arXiv ids (``safe_url``) and the
configured site URL, and controls and bidi overrides are stripped (``collapse``).
"""

from __future__ import annotations

import datetime as dt
import functools
import html
from dataclasses import dataclass
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid, parseaddr
from urllib.parse import quote

import css_inline

from arxivfilter.models import ListedPaper
from arxivfilter.notify.select import Selection
from arxivfilter.report.escape import collapse, safe_url, tex_plain

MAX_AUTHORS = 6

_CSS = """
body { margin: 0; padding: 0; background: #f6f7f9; color: #1b1f24;
  font-family: -apple-system, 'Segoe UI', Roboto, Helvetica, Arial, sans-serif;
  font-size: 15px; line-height: 1.45; }
.wrap { max-width: 680px; margin: 0 auto; padding: 16px; }
h1 { font-size: 20px; margin: 0 0 4px 0; }
h2 { font-size: 16px; margin: 24px 0 8px 0; color: #3b4450;
  border-bottom: 1px solid #d6dae0; padding-bottom: 4px; }
p.lead { margin: 0 0 12px 0; color: #57606a; }
div.paper { background: #ffffff; border: 1px solid #d6dae0; border-radius: 6px;
  padding: 12px 14px; margin: 0 0 10px 0; }
a.title { font-size: 16px; font-weight: 600; color: #0b5cad; text-decoration: none; }
p.meta { margin: 4px 0; color: #57606a; font-size: 13px; }
p.tldr { margin: 6px 0; }
p.links { margin: 6px 0 0 0; font-size: 13px; }
p.links a { color: #0b5cad; margin-right: 12px; }
span.score { font-weight: 600; color: #1b1f24; }
span.tag { display: inline-block; background: #eef1f4; border-radius: 10px;
  padding: 0 8px; margin-right: 4px; font-size: 12px; color: #3b4450; }
p.foot { margin: 24px 0 0 0; color: #57606a; font-size: 12px; }
p.foot a { color: #57606a; }
"""


@dataclass(frozen=True)
class MailContext:
    """What the message needs beyond the papers."""

    sender: str  # From: "Name <addr>" or "addr"
    recipient: str
    site_url: str = ""
    unsubscribe: str = ""  # mailto: or http(s) URL; "{address}" is replaced (URL-encoded)
    max_papers: int = 50


@functools.cache
def _inliner() -> css_inline.CSSInliner:
    # never fetch anything: a hostile <link> could otherwise make the inliner reach out
    return css_inline.CSSInliner(load_remote_stylesheets=False, keep_at_rules=False)


def sender_domain(sender: str) -> str:
    _name, addr = parseaddr(sender)
    return addr.rpartition("@")[2] or "localhost"


def new_message_id(sender: str) -> str:
    """A globally unique Message-ID in the sender's domain (kept in the ledger)."""
    return make_msgid(idstring="arxivfilter", domain=sender_domain(sender))


def permalink(site_url: str, profile: str, arxiv_id: str) -> str:
    """``<site_url>/<profile>/#<arxiv_id>``: a paper's anchor on the web page."""
    base = site_url.rstrip("/")
    return f"{base}/{quote(profile, safe='')}/#{quote(arxiv_id, safe='/.')}"


def unsubscribe_link(template: str, sender: str, recipient: str) -> str:
    """The List-Unsubscribe target: the configured one, else a mailto to the sender."""
    if not template:
        _name, addr = parseaddr(sender)
        return f"mailto:{addr}?subject=unsubscribe"
    return template.replace("{address}", quote(recipient, safe="@"))


def subject(selection: Selection) -> str:
    n = selection.count
    names = ", ".join(s.profile.name for s in selection.sections)
    noun = "paper" if n == 1 else "papers"
    return f"arXiv {selection.date.isoformat()}: {n} {noun} ({names})"


def _authors(paper: ListedPaper) -> str:
    names = [collapse(a) for a in paper.authors if collapse(a)]
    if len(names) > MAX_AUTHORS:
        return ", ".join(names[:MAX_AUTHORS]) + f" and {len(names) - MAX_AUTHORS} more"
    return ", ".join(names)


def _score(paper: ListedPaper) -> str:
    parts = [f"relevance {paper.relevance}"]
    if paper.hype is not None:
        parts.append(f"hype {paper.hype}")
    if paper.updated_version is not None:
        parts.append(f"updated v{paper.updated_version}")
    return ", ".join(parts)


def _links(paper: ListedPaper, profile: str, ctx: MailContext) -> list[tuple[str, str]]:
    links = [("arXiv", safe_url(paper.arxiv_id)), ("PDF", safe_url(paper.arxiv_id, "pdf"))]
    if ctx.site_url:
        links.append(("on the site", permalink(ctx.site_url, profile, paper.arxiv_id)))
    return links


def _limited(selection: Selection, limit: int) -> tuple[list[tuple[str, list[ListedPaper]]], int]:
    """Sections cut so that at most ``limit`` papers are shown; and how many were left out."""
    shown: list[tuple[str, list[ListedPaper]]] = []
    room = limit
    for section in selection.sections:
        take = section.papers[: max(room, 0)]
        room -= len(take)
        shown.append((section.profile.name, take))
    return shown, max(selection.count - limit, 0)


def _e(text: str | None) -> str:
    return html.escape(collapse(text), quote=True)


def _t(text: str | None) -> str:
    """A title or TL;DR: text-mode TeX rendered as the feed renders it, then escaped."""
    return html.escape(tex_plain(text), quote=True)


def render_html(selection: Selection, ctx: MailContext) -> str:
    """The HTML part, CSS inlined (``style`` attributes, no ``<style>`` left)."""
    shown, left_out = _limited(selection, ctx.max_papers)
    out = [
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{_e(subject(selection))}</title><style>{_CSS}</style></head>",
        '<body><div class="wrap">',
        f"<h1>arXiv, {selection.date.isoformat()}</h1>",
        f'<p class="lead">{selection.count} '
        f"{'paper' if selection.count == 1 else 'papers'} for you today.</p>",
    ]
    for name, papers in shown:
        if not papers:
            continue
        out.append(f"<h2>{_e(name)}</h2>")
        for p in papers:
            abs_url = safe_url(p.arxiv_id)
            out.append(f'<div class="paper" id="{_e(p.arxiv_id)}">')
            out.append(f'<a class="title" href="{_e(abs_url)}">{_t(p.title) or "(untitled)"}</a>')
            out.append(
                f'<p class="meta"><span class="score">{_e(_score(p))}</span> · '
                f"{_e(p.arxiv_id)} · {_e(_authors(p))}</p>"
            )
            if p.tags:
                tags = "".join(f'<span class="tag">{_e(t)}</span>' for t in p.tags)
                out.append(f'<p class="meta">{tags}</p>')
            if p.tldr:
                out.append(f'<p class="tldr">{_t(p.tldr)}</p>')
            links = " ".join(
                f'<a href="{_e(url)}">{_e(label)}</a>' for label, url in _links(p, name, ctx)
            )
            out.append(f'<p class="links">{links}</p></div>')
    if left_out:
        more = f"… and {left_out} more"
        if ctx.site_url:
            more = f'<a href="{_e(ctx.site_url)}">{_e(more)} on the site</a>'
        else:
            more = _e(more)
        out.append(f'<p class="lead">{more}</p>')
    unsub = unsubscribe_link(ctx.unsubscribe, ctx.sender, ctx.recipient)
    out.append(
        f'<p class="foot">Sent by arxivfilter to {_e(ctx.recipient)} for '
        f"{_e(', '.join(s.profile.name for s in selection.sections))}. "
        f'<a href="{_e(unsub)}">Unsubscribe</a></p>'
    )
    out.append("</div></body></html>")
    return str(_inliner().inline("".join(out)))


def render_text(selection: Selection, ctx: MailContext) -> str:
    """The plain-text part."""
    shown, left_out = _limited(selection, ctx.max_papers)
    lines = [subject(selection), ""]
    n = 0
    for name, papers in shown:
        if not papers:
            continue
        lines += [f"== {collapse(name)} ==", ""]
        for p in papers:
            n += 1
            lines.append(f"{n}. {tex_plain(p.title) or '(untitled)'}")
            lines.append(f"   {_score(p)} · {p.arxiv_id}")
            if _authors(p):
                lines.append(f"   {_authors(p)}")
            if p.tags:
                lines.append(f"   tags: {', '.join(collapse(t) for t in p.tags)}")
            if p.tldr:
                lines.append(f"   TL;DR: {tex_plain(p.tldr)}")
            for label, url in _links(p, name, ctx):
                lines.append(f"   {label}: {url}")
            lines.append("")
    if left_out:
        lines += [f"... and {left_out} more" + (f": {ctx.site_url}" if ctx.site_url else ""), ""]
    unsub = unsubscribe_link(ctx.unsubscribe, ctx.sender, ctx.recipient)
    lines += ["-- ", f"Sent by arxivfilter to {ctx.recipient}. Unsubscribe: {unsub}", ""]
    return "\n".join(lines)


def build_message(
    selection: Selection, ctx: MailContext, *, message_id: str, now: dt.datetime
) -> EmailMessage:
    """The whole message: headers, text part, then the HTML alternative."""
    msg = EmailMessage()
    msg["From"] = ctx.sender
    msg["To"] = Address(addr_spec=ctx.recipient)
    msg["Subject"] = subject(selection)
    msg["Date"] = format_datetime(now)
    msg["Message-ID"] = message_id
    unsub = unsubscribe_link(ctx.unsubscribe, ctx.sender, ctx.recipient)
    msg["List-Unsubscribe"] = f"<{unsub}>"
    if unsub.startswith("https://"):
        msg["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    msg["Auto-Submitted"] = "auto-generated"
    msg["X-Auto-Response-Suppress"] = "All"
    msg.set_content(render_text(selection, ctx), charset="utf-8", cte="quoted-printable")
    msg.add_alternative(
        render_html(selection, ctx), subtype="html", charset="utf-8", cte="quoted-printable"
    )
    return msg

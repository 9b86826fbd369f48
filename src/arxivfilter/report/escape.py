"""Escaping untrusted text (titles, abstracts, reasons) for Markdown, URLs and XML.

Everything from arXiv or from a model is data. :func:`escape_md` makes it one line of
inert inline Markdown: every character CommonMark/GFM could read as structure is
backslash-escaped (so ``](javascript:alert(1))``, ``<script>``, pipes and backticks show
as typed), GFM autolink triggers (``://``, ``www.``) are broken, and the text reads back
exactly (a CommonMark parser's text equals the input with whitespace collapsed).

``$...$`` math spans (pandoc's rule: no space just inside the dollars, no digit just after
the closing one) keep their dollars, parentheses, braces and carets verbatim so GitHub
still renders them; inside them only what could break structure or be eaten by Markdown
is escaped (backticks, brackets, ``<>|&~*_``, a backslash before punctuation), which is
also what GitHub's math needs since it applies Markdown escapes before MathJax.
"""

from __future__ import annotations

import re

from arxivfilter.text import parse_arxiv_id

# C0/C1 controls (whitespace ones collapse before this runs), DEL, lone surrogates, and the
# bidirectional embeddings, overrides, isolates and marks plus the BOM: an unbalanced U+202E
# in a title would reverse how the rest of its line (its score, its link) displays.
_CONTROL = re.compile(
    r"[\x00-\x08\x0e-\x1f\x7f-\x9f\ud800-\udfff\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069\ufeff]"
)
# Outside math: every ASCII character Markdown may treat as syntax somewhere in a line.
# Parentheses and "!" are syntax only right after a "]" (links, images), and "[" and "]" are
# always escaped, so they stay as typed (no "\(", which MkDocs' arithmatex reads as math).
_MD_SPECIAL = frozenset("\\`*_[]#|<>~&$")
# Inside math: only what breaks structure or is consumed by Markdown.
_MATH_SPECIAL = frozenset("`*_[]|<>~&")
_ASCII_PUNCT = frozenset("!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~")
# pandoc's tex_math_dollars: $ + non-space ... non-space + $, not followed by a digit.
_MATH = re.compile(r"\$(?=[^\s$])([^$]*?[^\s$\\])\$(?!\d)|\$([^\s$\\])\$(?!\d)")
_AUTOLINK = re.compile(r"(?=://)|(?i:(?<=www)(?=\.))")
_LEADING_DIGITS = re.compile(r"^(\d{1,9})\.")
_XML_FORBIDDEN = re.compile(r"[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def collapse(text: str | None) -> str:
    """One line: controls, bidi controls and lone surrogates removed, any whitespace run (any
    Unicode line break included) turned into one space, trimmed."""
    if not text:
        return ""
    return " ".join(_CONTROL.sub("", " ".join(text.split())).split())


# each special set as a str.translate table: a backslash before each of its characters
_TABLES = {
    chars: str.maketrans({c: "\\" + c for c in chars}) for chars in (_MD_SPECIAL, _MATH_SPECIAL)
}


def _escape_chars(text: str, special: frozenset[str], *, math: bool) -> str:
    table = _TABLES.get(special)
    if table is not None and (not math or "\\" not in text):
        # one C-speed pass: a backslash before each special character (inside math a
        # backslash itself needs the look-ahead of the loop)
        return text.translate(table)
    return _escape_chars_loop(text, special, math=math)


def _escape_chars_loop(text: str, special: frozenset[str], *, math: bool) -> str:
    out: list[str] = []
    for i, ch in enumerate(text):
        if ch == "\\" and math:
            nxt = text[i + 1] if i + 1 < len(text) else ""
            out.append("\\\\" if nxt and nxt in _ASCII_PUNCT else "\\")
        elif ch in special:
            out.append("\\" + ch)
        else:
            out.append(ch)
    return "".join(out)


def _break_autolinks(escaped: str) -> str:
    # A backslash before the ':' of '://' or the '.' of 'www.' stops GFM's extended autolinks.
    return _AUTOLINK.sub("\\\\", escaped)


def _styled(style: str, part: str) -> str:
    """One run of TeX-converted text as Markdown (emphasis only where it can open and close)."""
    if style == "code":
        return code_span(part)
    inner = part.strip()
    if not style or not inner or inner[0] in _ASCII_PUNCT or inner[-1] in _ASCII_PUNCT:
        return _escape_chars(part, _MD_SPECIAL, math=False)
    escaped = _escape_chars(inner, _MD_SPECIAL, math=False)
    mark = "*" if style == "em" else "**"
    lead = part[: len(part) - len(part.lstrip())]
    trail = part[len(part.rstrip()) :]
    return f"{lead}{mark}{escaped}{mark}{trail}"


def _outside_math(text: str, tex: bool) -> str:
    if not tex:
        return _escape_chars(text, _MD_SPECIAL, math=False)
    from arxivfilter.report.tex import text_runs

    return "".join(_styled(style, part) for style, part in text_runs(text))


def escape_md(text: str | None, *, tex: bool = False) -> str:
    """``text`` as one line of inert inline Markdown (see the module docstring).

    ``tex=True`` (titles, abstracts, TL;DRs) also renders text-mode TeX outside math spans:
    ``\\emph{x}`` as *x*, ````x''`` as “x”, accents as letters (``report/tex.py``).
    """
    s = collapse(text)
    parts: list[str] = []
    pos = 0
    for m in _MATH.finditer(s):
        parts.append(_outside_math(s[pos : m.start()], tex))
        body = m.group(1) if m.group(1) is not None else m.group(2)
        parts.append("$" + _escape_chars(body, _MATH_SPECIAL, math=True) + "$")
        pos = m.end()
    parts.append(_outside_math(s[pos:], tex))
    out = _break_autolinks("".join(parts))
    if tex:
        out = " ".join(out.split())
    # Block starts, should the text ever begin a line: list items, setext underlines,
    # ordered lists ('1.'; ')' and '#', '>', '*', '_', '`' are escaped everywhere).
    if out[:1] in ("-", "+", "="):
        return "\\" + out
    return _LEADING_DIGITS.sub(r"\1\\.", out)


def tex_plain(text: str | None) -> str:
    """``text`` with its text-mode TeX rendered as plain Unicode (styles dropped, math spans
    kept as typed): for the feed, which is plain text."""
    from arxivfilter.report.tex import text_runs

    s = collapse(text)
    parts: list[str] = []
    pos = 0
    for m in _MATH.finditer(s):
        parts.extend(part for _, part in text_runs(s[pos : m.start()]))
        parts.append(m.group(0))
        pos = m.end()
    parts.extend(part for _, part in text_runs(s[pos:]))
    return " ".join("".join(parts).split())


def escape_quote(text: str | None, *, tex: bool = False) -> str:
    """``text`` as a Markdown block quote: one ``> `` line per paragraph (blank lines
    separate paragraphs), each escaped with :func:`escape_md`; empty text gives ``""``."""
    if not text:
        return ""
    paragraphs = [escape_md(p, tex=tex) for p in re.split(r"\n\s*\n", text)]
    paragraphs = [p for p in paragraphs if p]
    return "\n>\n".join("> " + p for p in paragraphs)


def code_span(text: str | None) -> str:
    """``text`` as one inline code span whose fence no backtick inside can close."""
    s = collapse(text)
    if not s:
        return ""
    longest = max((len(r) for r in re.findall(r"`+", s)), default=0)
    fence = "`" * (longest + 1)
    if s.startswith("`") or s.endswith("`"):
        s = f" {s} "
    return f"{fence}{s}{fence}"


def safe_url(arxiv_id: str, kind: str = "abs") -> str:
    """``https://arxiv.org/abs/ID`` (or ``pdf``) from a validated arXiv id; ValueError otherwise."""
    if kind not in ("abs", "pdf"):
        raise ValueError(f"unknown arXiv link kind: {kind!r}")
    ident, version = parse_arxiv_id(arxiv_id)
    suffix = f"v{version}" if version is not None else ""
    return f"https://arxiv.org/{kind}/{ident}{suffix}"


def xml_text(text: str | None) -> str:
    """Text that XML 1.0 can carry: forbidden characters removed (no escaping: the
    serialiser escapes), whitespace collapsed."""
    return collapse(_XML_FORBIDDEN.sub("", text or ""))

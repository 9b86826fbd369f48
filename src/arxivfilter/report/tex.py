"""Text-mode TeX in titles and abstracts, turned into what it means when rendering.

Stored text keeps its TeX (DESIGN.md "Text"); a digest shows ``\\emph{x}`` as *x*,
``\\textbf{x}`` as **x**, ````x''`` as “x”, ``--`` between words as an en dash, ``\\%`` as
%, accents as letters, and drops citations. :func:`text_runs` splits a piece of text that
holds no math span into styled runs; :func:`~arxivfilter.report.escape.escape_md` (with
``tex=True``) escapes each run and adds the Markdown for its style. Math spans (``$…$``)
never reach this module: they are kept as typed.
"""

from __future__ import annotations

import contextlib
import re
from typing import Literal

from pylatexenc.latex2text import LatexNodes2Text

Style = Literal["", "em", "strong", "code"]
Run = tuple[Style, str]

_LATEX = LatexNodes2Text(math_mode="verbatim", strict_latex_spaces=True)

_STYLE: dict[str, Style | None] = {
    # style commands with one braced argument; None = the argument is dropped
    "emph": "em",
    "textit": "em",
    "textsl": "em",
    "textbf": "strong",
    "texttt": "code",
    "textsc": "",
    "textrm": "",
    "textsf": "",
    "textnormal": "",
    "textup": "",
    "text": "",
    "mbox": "",
    "underline": "",
    "url": "",
    "cite": None,
    "citep": None,
    "citet": None,
    "ref": None,
    "eqref": None,
    "label": None,
    "footnote": None,
}
_GROUP_STYLE: dict[str, Style] = {"em": "em", "it": "em", "sl": "em", "bf": "strong", "tt": "code"}
_SYMBOLS = {
    "ldots": "…",
    "dots": "…",
    "textellipsis": "…",
    "LaTeX": "LaTeX",
    "TeX": "TeX",
    "textasciitilde": "~",
    "textbackslash": "\\",
    "S": "§",
    "times": "×",
    "approx": "≈",
    "sim": "~",
    "pm": "±",
    "geq": "≥",
    "leq": "≤",
    "ge": "≥",
    "le": "≤",
    "rightarrow": "→",
    "to": "→",
    "textemdash": "—",
    "textendash": "–",
    "textquoteleft": "‘",
    "textquoteright": "’",
    "textquotedblleft": "“",
    "textquotedblright": "”",
    "textregistered": "®",
    "texttrademark": "™",
    "textdegree": "°",
}

_COMMAND_ARG = re.compile(r"\\(?P<cmd>[A-Za-z]+)\s*\{(?P<arg>[^{}]*)\}")
_HREF = re.compile(r"\\href\s*\{[^{}]*\}\s*\{(?P<arg>[^{}]*)\}")
_GROUP = re.compile(r"\{\\(?P<cmd>em|it|sl|bf|tt)\b\s*(?P<arg>[^{}]*)\}")
_ACCENT = re.compile(
    r"\{\\[`'^\"~=.][A-Za-z]\}|\\[`'^\"~=.]\{?[A-Za-z]\}?|\{?\\[cvuHkr]\{[A-Za-z]\}\}?"
    r"|\{\\(?:ss|ae|AE|oe|OE|aa|AA|o|O|l|L|i)\}|\\(?:ss|ae|AE|oe|OE|aa|AA|o|O|l|L|i)\b"
)
_SYMBOL = re.compile(r"\\(?P<name>[A-Za-z]+)(?![A-Za-z])(?:\{\})?")
_ESCAPED = re.compile(r"\\([%&#_${}])")
_SPACE = re.compile(r"\\[ ,;:!]|\\\\")
_DOUBLE_QUOTE = re.compile(r"``(.+?)''")
_SINGLE_QUOTE = re.compile(r"(?<![`\w])`([^`'\s][^`']*?)'(?!\w)")
_EM_DASH = re.compile(r"(?<!-)---(?!-)")
_EN_DASH = re.compile(r"(?<=\w)--(?=\w)|(?<= )--(?= )")
_BRACED_WORD = re.compile(r"(?<![A-Za-z\\])\{([^{}\\$]*)\}")


def _accent(m: re.Match[str]) -> str:
    with contextlib.suppress(Exception):
        out = str(_LATEX.latex_to_text(m.group(0)))
        if out and "\\" not in out:
            return out
    return m.group(0)


def _symbol(m: re.Match[str]) -> str:
    return _SYMBOLS.get(m.group("name"), m.group(0))


def _plain(text: str) -> str:
    """Text-mode TeX with no style left in it: accents, symbols, quotes, dashes, escapes."""
    s = _ACCENT.sub(_accent, text)
    s = _DOUBLE_QUOTE.sub(r"“\1”", s)
    s = _SINGLE_QUOTE.sub(r"‘\1’", s)
    s = _EM_DASH.sub("—", s)
    s = _EN_DASH.sub("–", s)
    s = _SYMBOL.sub(_symbol, s)
    s = _SPACE.sub(" ", s)
    s = _BRACED_WORD.sub(r"\1", s)  # BibTeX-style {GPU} capitalisation guards
    s = _ESCAPED.sub(r"\1", s)
    return s


def text_runs(text: str) -> list[Run]:
    """``text`` (no math span in it) as styled runs of plain Unicode text."""
    runs: list[Run] = []
    pos = 0
    matches = sorted(
        [*_COMMAND_ARG.finditer(text), *_HREF.finditer(text), *_GROUP.finditer(text)],
        key=lambda m: m.start(),
    )
    for m in matches:
        if m.start() < pos:
            continue  # overlapping (an \href's inner braces)
        if m.re is _COMMAND_ARG:
            cmd = m.group("cmd")
            if cmd not in _STYLE:
                continue  # unknown command: its text stays as typed
            style: Style | None = _STYLE[cmd]
        elif m.re is _HREF:
            style = ""
        else:
            style = _GROUP_STYLE[m.group("cmd")]
        before = _plain(text[pos : m.start()])
        if style is None and text[m.end() : m.end() + 1] in (".", ",", ";", ":", ")", ""):
            before = before.rstrip()  # "shown in \cite{x}." -> "shown in."
        runs.append(("", before))
        if style is not None:
            runs.append((style, m.group("arg") if style == "code" else _plain(m.group("arg"))))
        pos = m.end()
    runs.append(("", _plain(text[pos:])))
    merged: list[Run] = []
    for style, part in runs:
        if not part:
            continue
        if merged and merged[-1][0] == style:
            merged[-1] = (style, merged[-1][1] + part)
        else:
            merged.append((style, part))
    return merged

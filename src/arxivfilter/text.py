"""Text normalisation (DESIGN.md, Text): one idempotent ``normalise`` for stored text.

* Unicode NFC, whitespace collapsed to single spaces, trimmed.
* Mojibake (UTF-8 read as Latin-1/cp1252, ``WÃ¼bben``) repaired only where it round-trips
  (ftfy's ``fix_encoding``, which leaves text alone unless the repair is unambiguous).
* NUL, other C0 controls and lone surrogates removed.
* Titles and abstracts keep their TeX and ``$...$`` verbatim; only author names have TeX
  accents turned into letters (``Jos\\'e`` -> ``José``), see :func:`normalise_author`.
"""

from __future__ import annotations

import contextlib
import hashlib
import re
import unicodedata
from functools import cache
from typing import TYPE_CHECKING

import ftfy

if TYPE_CHECKING:
    from pylatexenc.latex2text import LatexNodes2Text

_WS = re.compile(r"\s+")
# C0 controls except tab/newline/CR (those are whitespace and collapse), DEL, and C1.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\x80-\x9f]")
_ASCII_CONTROLS = dict.fromkeys([*range(0x09), 0x0B, 0x0C, *range(0x0E, 0x20), 0x7F])
_SURROGATE = re.compile(r"[\ud800-\udfff]")


@cache
def _latex() -> LatexNodes2Text:
    """The TeX-to-text converter, built on first use (its default specs take ~0.1 s to load)."""
    from pylatexenc.latex2text import LatexNodes2Text

    return LatexNodes2Text(math_mode="verbatim", strict_latex_spaces=True)


_TEX_HINT = re.compile(r"[\\{}]")
_MAX_PASSES = 8  # normalise repeats until stable; real text settles in one or two passes
_ID_RE = re.compile(
    r"^(?:(?:https?://)?(?:www\.|export\.)?arxiv\.org/(?:abs|pdf)/|oai:arxiv\.org:)?(?:arxiv:)?"
    r"(?P<id>\d{4}\.\d{4,5}|[a-z][a-z-]*(?:\.[A-Z]{2})?/\d{7})(?:v(?P<v>\d+))?(?:\.pdf)?$",
    re.IGNORECASE | re.ASCII,  # ASCII digits only: "２５１２.９００１０" is no id
)
#: The highest version a record may carry (arXiv's highest are in the tens); above it a
#: record is refused rather than stored (a 23-digit version overflows SQLite's INTEGER).
MAX_VERSION = 1000
# arXiv categories: "cs.DC", "math.CO", "hep-th", "astro-ph.GA", "cond-mat.mes-hall", "q-bio.NC"
_CATEGORY_RE = re.compile(r"^[a-z][a-z-]*(?:\.[A-Za-z][A-Za-z-]*)?$")
_ARCHIVES = {
    "astro-ph",
    "cond-mat",
    "cs",
    "econ",
    "eess",
    "gr-qc",
    "hep-ex",
    "hep-lat",
    "hep-ph",
    "hep-th",
    "math",
    "math-ph",
    "nlin",
    "nucl-ex",
    "nucl-th",
    "physics",
    "q-bio",
    "q-fin",
    "quant-ph",
    "stat",
    "acc-phys",
    "adap-org",
    "alg-geom",
    "ao-sci",
    "atom-ph",
    "bayes-an",
    "chao-dyn",
    "chem-ph",
    "cmp-lg",
    "comp-gas",
    "dg-ga",
    "funct-an",
    "mtrl-th",
    "patt-sol",
    "plasm-ph",
    "q-alg",
    "solv-int",
    "supr-con",
    "test",
}


def normalise(text: str | None) -> str:
    """Stored form of any text field. Idempotent: ``normalise(normalise(x)) == normalise(x)``.

    One pass can expose new mojibake (dropping a control between ``Ã`` and ``\\x86`` joins
    them), so passes repeat until the text stops changing.
    """
    if not text:
        return ""
    if text.isascii():  # no mojibake, nothing to compose: one pass of the rest settles it
        if text.isprintable():
            # the only whitespace left is " ": nothing to collapse unless it is doubled or
            # at an end (most stored text: one C-speed scan instead of a split and a join)
            if "  " not in text and text[0] != " " and text[-1] != " ":
                return text
        else:  # tabs, newlines or controls (str.split alone would keep \x1c-\x1f as
            text = text.translate(_ASCII_CONTROLS)  # whitespace)
        return " ".join(text.split())
    s = text
    for _ in range(_MAX_PASSES):
        t = _normalise_pass(s)
        if t == s:
            break
        s = t
    return s


def _normalise_pass(text: str) -> str:
    s = _SURROGATE.sub("", text)
    s = ftfy.fix_encoding(s)
    s = _SURROGATE.sub("", _CONTROL.sub("", s))
    s = unicodedata.normalize("NFC", s)
    return _WS.sub(" ", s).strip()


def normalise_author(name: str) -> str:
    """An author name with TeX accents and escapes turned into letters (``Przemys{\\l}aw``)."""
    s = normalise(name)
    if _TEX_HINT.search(s):
        with contextlib.suppress(Exception):  # never lose a name over markup
            s = _latex().latex_to_text(s)
        # Braces or backslashes left over (``\{`` -> ``{``) are stray markup, never part of a
        # name; dropping them keeps this idempotent.
        s = normalise(_TEX_HINT.sub("", s))
    return s


def split_creators(creator: str) -> list[tuple[str, str | None]]:
    """Split RSS ``dc:creator`` ("A (Inst), B and C") into (name, affiliation) pairs.

    Commas and " and " outside parentheses separate people; a trailing parenthesised part
    is the affiliation, kept apart from the name.
    """
    parts: list[str] = []
    depth = 0
    buf: list[str] = []
    for ch in creator:
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth = max(0, depth - 1)
        if ch == "," and depth == 0:
            parts.append("".join(buf))
            buf = []
        else:
            buf.append(ch)
    parts.append("".join(buf))
    people: list[str] = []
    for part in parts:
        # "A and B" only at the top level
        people.extend(_split_and(part))
    out: list[tuple[str, str | None]] = []
    for person in people:
        person = person.strip()
        if not person:
            continue
        affiliation: str | None = None
        m = re.match(r"^(?P<name>[^()]*?)\s*\((?P<aff>.*)\)\s*$", person)
        if m and m.group("name").strip():
            person, affiliation = m.group("name"), normalise(m.group("aff")) or None
        name = normalise_author(person)
        if name:
            out.append((name, affiliation))
    return out


def _split_and(part: str) -> list[str]:
    depth = 0
    pieces: list[str] = []
    start = 0
    i = 0
    while i < len(part):
        ch = part[i]
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth = max(0, depth - 1)
        elif depth == 0 and part.startswith(" and ", i):
            pieces.append(part[start:i])
            start = i + 5
            i += 5
            continue
        i += 1
    pieces.append(part[start:])
    return pieces


def split_authors(creator: str) -> list[str]:
    """Names only, affiliations dropped (they are kept apart by :func:`split_creators`)."""
    return [name for name, _ in split_creators(creator)]


def parse_arxiv_id(raw: str) -> tuple[str, int | None]:
    """``arXiv:2405.01234v2`` / ``https://arxiv.org/abs/2405.01234v2`` -> ("2405.01234", 2).

    Also old-style ``cs/0112017v1``, ``/pdf/...pdf`` URLs and RSS guids (``oai:arXiv.org:...``).

    Raises ValueError when the string is not an arXiv identifier.
    """
    s = raw.strip()
    m = _ID_RE.match(s)
    if not m:
        raise ValueError(f"not an arXiv id: {raw[:80]!r}")
    v = m.group("v")
    if v is not None and (len(v) > 6 or not 0 < int(v) <= MAX_VERSION):
        raise ValueError(f"not a plausible arXiv version: {raw[:80]!r}")
    return m.group("id"), int(v) if v is not None else None


def record_problem(arxiv_id: str, version: int | None) -> str | None:
    """Why a parsed record cannot be stored (an id that is no arXiv id, an absurd version)."""
    try:
        ident, _ = parse_arxiv_id(arxiv_id)
    except ValueError as exc:
        return str(exc)
    if ident != arxiv_id:
        return f"not an arXiv id: {arxiv_id[:80]!r}"
    if version is not None and not 0 < version <= MAX_VERSION:
        return f"not a plausible arXiv version: v{str(version)[:30]}"
    return None


def is_category(value: str) -> bool:
    """True for arXiv category strings (``cs.DC``, ``hep-th``), false for ACM/MSC classes."""
    v = value.strip()
    if not _CATEGORY_RE.match(v):
        return False
    return v.split(".", 1)[0] in _ARCHIVES


def clean_categories(values: list[str]) -> list[str]:
    """Categories in order, deduplicated, dropping ACM/MSC strings such as ``I.2.6; D.1.3``."""
    out: list[str] = []
    for v in values:
        for piece in re.split(r"[;\s]+", v) if ";" in v else [v]:
            piece = piece.strip()
            if is_category(piece) and piece not in out:
                out.append(piece)
    return out


def text_hash(title: str, abstract: str) -> str:
    """Hash of a paper's normalised title and abstract: the text part of every cache key."""
    blob = normalise(title) + "\x1f" + normalise(abstract)
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


def cache_key(text_hash: str, profile_hash: str, model: str, prompt_hash: str) -> str:
    """The key that decides what is already paid for: the text, the profile, the model and
    the prompt (DESIGN.md: judgements are functions of their inputs)."""
    blob = "\x1f".join((text_hash, profile_hash, model, prompt_hash))
    return hashlib.sha256(blob.encode()).hexdigest()

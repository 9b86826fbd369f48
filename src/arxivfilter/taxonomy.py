"""arXiv's category taxonomy, shipped as ``arxiv_taxonomy.txt``: validation of category names.

A name is matched case-insensitively (``cs.dc`` is ``cs.DC``) and returned as arXiv spells
it; an unknown one is a :class:`~arxivfilter.errors.UsageError` (exit 2) naming the closest
known category, so ``--categories cs.XX`` is never a silent empty success.
"""

from __future__ import annotations

import difflib
import functools
from collections.abc import Iterable
from importlib import resources

from arxivfilter.errors import UsageError

TAXONOMY_FILE = "arxiv_taxonomy.txt"


@functools.cache
def known_categories() -> tuple[str, ...]:
    """Every category of arXiv's taxonomy, as arXiv spells it (archives without subject
    classes, such as ``hep-th`` or ``quant-ph``, included)."""
    text = resources.files("arxivfilter").joinpath(TAXONOMY_FILE).read_text(encoding="utf-8")
    return tuple(
        line.strip() for line in text.splitlines() if line.strip() and not line.startswith("#")
    )


@functools.cache
def _by_folded() -> dict[str, str]:
    return {c.casefold(): c for c in known_categories()}


def canonical_category(name: str, *, where: str = "--categories") -> str:
    """``name`` as arXiv spells it; UsageError naming the closest category when unknown."""
    value = name.strip()
    found = _by_folded().get(value.casefold())
    if found is not None:
        return found
    guesses = difflib.get_close_matches(value.casefold(), list(_by_folded()), n=3, cutoff=0.6)
    names = [_by_folded()[g] for g in guesses]
    hint = f" (did you mean {' or '.join(names)}?)" if names else ""
    raise UsageError(
        f"{where}: {value!r} is not an arXiv category{hint}; "
        "see https://arxiv.org/category_taxonomy"
    )


def canonical_categories(names: Iterable[str], *, where: str = "--categories") -> list[str]:
    """Each name validated and canonicalised, in order, duplicates dropped."""
    out: list[str] = []
    for name in names:
        cat = canonical_category(name, where=where)
        if cat not in out:
            out.append(cat)
    return out

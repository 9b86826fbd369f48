"""arXiv listing pages (HTML): ``/list/<cat>/pastweek`` (alias ``recent``) and ``/list/<cat>/new``.

Pure functions from bytes to values; the HTTP client and the archive live elsewhere.

The markup follows arXiv's ``arXiv/arxiv-browse`` templates (``list/base.html``,
``list/recent.html``, ``list/new.html``, ``list/list_macros.html``)::

    <div id='dlpage'>
      <ul><li><a href="/list/cs.DC/pastweek?skip=10&show=2000">Thu, 15 Jan 2026</a></li>...</ul>
      <div class='paging'>Total of 55 entries : <span>1-50</span> <a ...>51-55</a></div>
      <div class='morefewer'>Showing up to 50 entries per page: ...</div>
      <dl id='articles'>
        <h3>Fri, 16 Jan 2026 (showing 10 of 10 entries )</h3>   (pastweek: one per mailing)
        <p>No updates for this time period.</p>                  (an empty day)
        <dt><a name='item1'>[1]</a> <a href="/abs/2601.10582" title="Abstract">arXiv:2601.10582</a>
            (cross-list from cs.IT) [pdf, html, other]</dt>
        <dd><div class='list-title'>...</div><div class='list-authors'><a>Name</a>, ...</div>
            <div class='list-subjects'><span class='primary-subject'>... (cs.DC)</span>; ...</div>
            <p class='mathjax'>abstract (``new`` pages only)</p></dd>
      </dl>

The ``new`` page has one ``<h3>Showing new listings for Friday, 16 January 2026</h3>`` and
sections "New submissions", "Cross submissions", "Replacement submissions".
``pastweek`` lists new submissions and cross-lists only (no replacements): a day read from
it carries no replacements, and counts should say so.

Paging: ``show`` tops out at 2,000; request ``skip=0``, then ``next_skip(page)`` until it
returns None (:func:`iter_listing_pages` does this with an injected ``fetch``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date
from html.parser import HTMLParser
from typing import Literal
from urllib.parse import parse_qs, urlencode, urlsplit

from arxivfilter.errors import FeedError
from arxivfilter.models import Entry
from arxivfilter.text import (
    clean_categories,
    normalise,
    normalise_author,
    parse_arxiv_id,
    split_authors,
)

ListingKind = Literal["new", "cross", "replace"]
ListType = Literal["pastweek", "new"]

MAX_SHOW = 2000
_PERIODS = ("pastweek", "recent", "new")
_MONTHS = {
    m: i + 1
    for i, m in enumerate(
        ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
    )
}
_NO_UPDATES = ("no updates for this time period", "no updates today")
_SECTIONS: tuple[tuple[str, ListingKind], ...] = (
    ("new submissions", "new"),
    ("cross submissions", "cross"),
    ("cross-lists", "cross"),
    ("replacement submissions", "replace"),
    ("replacements", "replace"),
)


@dataclass(frozen=True)
class ListingItem:
    """One entry of a listing page, as the page shows it (no abstract on pastweek pages)."""

    arxiv_id: str
    version: int | None  # 1 for new submissions; None where the page does not say
    kind: ListingKind
    index: int | None = None  # the page's running number "[n]"
    title: str | None = None
    authors: list[str] = field(default_factory=list)
    categories: list[str] = field(default_factory=list)
    primary_category: str | None = None
    comment: str | None = None
    journal_ref: str | None = None
    abstract: str | None = None


@dataclass
class ListingPage:
    """One listing page.

    ``total`` is the listing's entry count ("Total of N entries"; 0 when the page shows
    none), ``skip`` the number of entries before this page, ``shown`` the entries on this
    page, ``show`` the page size it was asked for ("Showing up to N entries per page").
    ``days`` maps each listing date to its items in page order (an empty list for a day
    the page shows with "No updates"); ``day_index`` maps the dates of the page's index
    (pastweek only) to their skip offsets, so :func:`day_counts` knows days not on the page.
    ``unreadable`` holds the text of entries whose arXiv id could not be read (counted in
    ``shown`` so paging stays right; the caller should warn about them).
    """

    url: str | None
    category: str | None
    list_type: ListType
    total: int | None
    skip: int
    shown: int
    show: int | None = None
    days: dict[date, list[ListingItem]] = field(default_factory=dict)
    day_index: dict[date, int] = field(default_factory=dict)
    unreadable: list[str] = field(default_factory=list)

    @property
    def items(self) -> list[ListingItem]:
        """All items of the page in page order."""
        return [item for items in self.days.values() for item in items]


# --------------------------------------------------------------------------- URLs


def listing_url(
    base: str,
    category: str,
    skip: int = 0,
    show: int = MAX_SHOW,
    *,
    period: Literal["pastweek", "new"] = "pastweek",
) -> str:
    """``https://export.arxiv.org/list/cs.DC/pastweek?show=2000&skip=0`` (show capped at 2,000)."""
    query = urlencode({"show": max(1, min(show, MAX_SHOW)), "skip": max(0, skip)})
    return f"{base.rstrip('/')}/list/{category}/{period}?{query}"


def next_skip(page: ListingPage) -> int | None:
    """The ``skip`` of the next page, or None when this page reaches the listing's total.

    Without a printed total, a full page (``shown == show``) is taken to have a successor.
    """
    if page.shown == 0:
        return None
    following = page.skip + page.shown
    if page.total is None:
        return following if page.show and page.shown >= page.show else None
    return following if following < page.total else None


def iter_listing_pages(
    fetch: Callable[[str], bytes | str],
    base: str,
    category: str,
    *,
    show: int = MAX_SHOW,
    max_pages: int = 100,
) -> Iterator[ListingPage]:
    """Fetch and parse a pastweek listing page by page (``fetch(url) -> body``) until its total.

    Raises FeedError when a page does not start where it was asked to (the server ignored
    ``skip``) or the chain runs past ``max_pages``.
    """
    skip: int | None = 0
    for _ in range(max_pages):
        if skip is None:
            return
        url = listing_url(base, category, skip, show)
        page = parse_listing(fetch(url), url=url)
        if page.shown and page.skip != skip:
            raise FeedError(
                f"listing page {url} starts at entry {page.skip + 1}, not {skip + 1}", url=url
            )
        yield page
        skip = next_skip(page)
    if skip is not None:
        raise FeedError(f"listing for {category} did not end after {max_pages} pages")


def merge_days(pages: Iterable[ListingPage]) -> dict[date, list[ListingItem]]:
    """Items of several pages of one listing by date, newest date first, duplicates dropped."""
    merged: dict[date, list[ListingItem]] = {}
    seen: set[tuple[date, str]] = set()
    for page in pages:
        for day, items in page.days.items():
            bucket = merged.setdefault(day, [])
            for item in items:
                if (day, item.arxiv_id) not in seen:
                    seen.add((day, item.arxiv_id))
                    bucket.append(item)
        for day in page.day_index:
            merged.setdefault(day, [])
    return dict(sorted(merged.items(), reverse=True))


def day_counts(page: ListingPage) -> dict[date, int]:
    """Entries per listing date from a pastweek page's index (all five days, on any page).

    Falls back to the items on the page when the page has no index (``new`` pages).
    """
    if not page.day_index or page.total is None:
        return {day: len(items) for day, items in page.days.items()}
    ordered = sorted(page.day_index.items(), key=lambda kv: kv[1])
    counts: dict[date, int] = {}
    for i, (day, offset) in enumerate(ordered):
        end = ordered[i + 1][1] if i + 1 < len(ordered) else page.total
        counts[day] = max(0, end - offset)
    return counts


# --------------------------------------------------------------------------- recognition


def looks_like_listing(text: str) -> bool:
    """True for an arXiv listing page (HTML with the ``dlpage`` block and listing markers)."""
    head = text[:4096].lower()
    if "<html" not in head and "<!doctype html" not in head:
        return False
    low = text.lower()
    if "dlpage" not in low:
        return False
    return any(
        marker in low
        for marker in ("list-title", "total of ", "no updates", "showing new listings for")
    )


# --------------------------------------------------------------------------- a small DOM


_VOID = frozenset(
    [
        "area",
        "base",
        "br",
        "col",
        "embed",
        "hr",
        "img",
        "input",
        "link",
        "meta",
        "param",
        "source",
        "track",
        "wbr",
    ]
)
# an open tag closes an earlier open one of these kinds, up to (not past) the boundaries
_IMPLIED_END = {
    "dt": ({"dt", "dd"}, {"dl"}),
    "dd": ({"dt", "dd"}, {"dl"}),
    "li": ({"li"}, {"ul", "ol"}),
    "p": ({"p"}, {"div", "dl", "dd", "dt", "li", "ul", "ol", "body"}),
}
_SKIP_TEXT = frozenset({"script", "style"})


@dataclass
class _Node:
    tag: str
    attrs: dict[str, str]
    children: list[_Node | str] = field(default_factory=list)

    def classes(self) -> set[str]:
        return set(self.attrs.get("class", "").split())

    def walk(self) -> Iterator[_Node]:
        """Descendants in document order (not self)."""
        for child in self.children:
            if isinstance(child, _Node):
                yield child
                yield from child.walk()

    def find(self, tag: str, cls: str | None = None) -> _Node | None:
        for node in self.walk():
            if node.tag == tag and (cls is None or cls in node.classes()):
                return node
        return None

    def find_all(self, tag: str, cls: str | None = None) -> list[_Node]:
        return [n for n in self.walk() if n.tag == tag and (cls is None or cls in n.classes())]

    def text(self, skip_class: str | None = None) -> str:
        parts: list[str] = []
        self._text(parts, skip_class)
        return " ".join("".join(parts).split())

    def _text(self, parts: list[str], skip_class: str | None) -> None:
        for child in self.children:
            if isinstance(child, str):
                parts.append(child)
            elif child.tag not in _SKIP_TEXT and not (skip_class and skip_class in child.classes()):
                child._text(parts, skip_class)


class _TreeBuilder(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.root = _Node("#root", {})
        self.stack: list[_Node] = [self.root]

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        closes = _IMPLIED_END.get(tag)
        if closes:
            kinds, bounds = closes
            for i in range(len(self.stack) - 1, 0, -1):
                open_tag = self.stack[i].tag
                if open_tag in kinds:
                    del self.stack[i:]
                    break
                if open_tag in bounds:
                    break
        node = _Node(tag, {k: v or "" for k, v in attrs})
        self.stack[-1].children.append(node)
        if tag not in _VOID:
            self.stack.append(node)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.stack[-1].children.append(_Node(tag, {k: v or "" for k, v in attrs}))

    def handle_endtag(self, tag: str) -> None:
        for i in range(len(self.stack) - 1, 0, -1):
            if self.stack[i].tag == tag:
                del self.stack[i:]
                return

    def handle_data(self, data: str) -> None:
        self.stack[-1].children.append(data)


def _parse_html(text: str) -> _Node:
    builder = _TreeBuilder()
    builder.feed(text)
    builder.close()
    return builder.root


# --------------------------------------------------------------------------- parsing


def parse_listing(body: bytes | str, url: str | None = None) -> ListingPage:
    """Parse a ``pastweek``/``recent``/``new`` listing page.

    ``url`` names the page in errors and supplies category and skip when the page does not
    show them. Raises FeedError (naming the URL) for HTML that is not a listing page.
    """
    text = body.decode("utf-8", errors="replace") if isinstance(body, bytes) else body
    where = url or "listing page"
    root = _parse_html(text)
    dlpage = next((n for n in root.walk() if n.attrs.get("id") == "dlpage"), None)
    if dlpage is None:
        title = root.find("title")
        what = f" ({title.text()})" if title is not None and title.text() else ""
        raise FeedError(f"{where} is not an arXiv listing page{what}", url=url)

    url_category, url_period, url_skip, url_show = _from_url(url)
    state = _State()
    _read(dlpage, state)
    if not state.seen_listing:
        raise FeedError(f"{where} has no listing entries, day headings or total", url=url)

    is_new = state.new_date is not None or url_period == "new"
    list_type: ListType = "new" if is_new else "pastweek"
    skip = state.first_index - 1 if state.first_index is not None else (url_skip or 0)
    total = state.total
    if total is None and state.shown == 0:
        total = 0  # arXiv prints no total for an empty listing
    return ListingPage(
        url=url,
        category=url_category or _category_from_links(root),
        list_type=list_type,
        total=total,
        skip=skip,
        shown=state.shown,
        show=state.show or url_show,
        days=state.days,
        day_index=state.day_index,
        unreadable=state.unreadable,
    )


_Pending = tuple[str, ListingKind, str | None, int | None]


@dataclass
class _State:
    days: dict[date, list[ListingItem]] = field(default_factory=dict)
    day_index: dict[date, int] = field(default_factory=dict)
    total: int | None = None
    show: int | None = None
    current: date | None = None
    new_date: date | None = None
    section: ListingKind = "new"
    shown: int = 0
    first_index: int | None = None
    pending: _Pending | None = None
    unreadable: list[str] = field(default_factory=list)
    seen_listing: bool = False


def _read(node: _Node, st: _State) -> None:
    for child in node.children:
        if not isinstance(child, _Node):
            continue
        classes = child.classes()
        if child.tag in ("h3", "h2") and _heading(child.text(), st):
            continue
        if child.tag == "div" and "paging" in classes:
            if st.total is None:
                st.total = _number_after(child.text(), "total of")
            st.seen_listing = st.seen_listing or st.total is not None
            continue
        if child.tag == "div" and "morefewer" in classes:
            st.show = (
                st.show
                or _number_after(child.text(), "up to")
                or _number_after(child.text(), "showing")
            )
            continue
        if child.tag == "ul" and st.current is None and not st.days:
            _index(child, st)
            continue
        if child.tag == "p" and child.text().lower().rstrip(".") in _NO_UPDATES:
            st.seen_listing = True
            continue
        if child.tag == "dt":
            _start_item(child, st)
            continue
        if child.tag == "dd":
            if st.pending is not None:
                _add_item(child, st)
            continue
        _read(child, st)


def _heading(text: str, st: _State) -> bool:
    """Day headings (pastweek), the ``new`` page's date and section headings."""
    low = text.lower()
    if low.startswith("showing new listings for"):
        day = _parse_day(text[len("showing new listings for") :])
        if day is not None:
            st.new_date = st.current = day
            st.days.setdefault(day, [])
            st.seen_listing = True
        return True
    for prefix, kind in _SECTIONS:
        if low.startswith(prefix):
            st.section = kind
            head = text.split("(", 1)[0]
            day = _parse_day(head.split(" for ", 1)[1]) if " for " in head else None
            if day is not None:
                st.current = day
                st.days.setdefault(day, [])
            st.seen_listing = True
            return True
    day = _parse_day(text.split("(", 1)[0])
    if day is not None:
        st.current = day
        st.days.setdefault(day, [])
        st.seen_listing = True
        return True
    return False


def _index(ul: _Node, st: _State) -> None:
    """The pastweek index: one link per mailing date with its skip offset."""
    for a in ul.find_all("a"):
        day = _parse_day(a.text())
        if day is None:
            continue
        query = parse_qs(urlsplit(a.attrs.get("href", "")).query)
        skip = query.get("skip", ["0"])[0]
        if skip.isdigit():
            st.day_index[day] = int(skip)


def _start_item(dt: _Node, st: _State) -> None:
    """Count an item at its ``<dt>``; one without a readable id is kept aside, not dropped."""
    arxiv_id, kind, primary, index = _dt(dt)
    st.shown += 1
    st.seen_listing = True
    if index is not None and (st.first_index is None or index < st.first_index):
        st.first_index = index
    if arxiv_id is None:
        st.unreadable.append(dt.text())
        st.pending = None
    else:
        st.pending = (arxiv_id, kind, primary, index)


def _dt(dt: _Node) -> tuple[str | None, ListingKind, str | None, int | None]:
    """(arxiv_id, kind, primary hint, index) from an item's ``<dt>``."""
    arxiv_id: str | None = None
    index: int | None = None
    for a in dt.find_all("a"):
        label = a.text()
        if a.attrs.get("name", "").startswith("item"):
            digits = label.strip("[]")
            index = int(digits) if digits.isdigit() else None
        elif arxiv_id is None and (
            a.attrs.get("title") == "Abstract" or label.lower().startswith("arxiv:")
        ):
            try:
                arxiv_id, _ = parse_arxiv_id(label or a.attrs.get("href", ""))
            except ValueError:
                try:
                    arxiv_id, _ = parse_arxiv_id(a.attrs.get("href", "").rsplit("/abs/", 1)[-1])
                except ValueError:
                    continue
    info = dt.text().lower()
    kind: ListingKind = "new"
    primary: str | None = None
    if "cross-list from" in info:
        kind = "cross"
        after = dt.text().split("cross-list from", 1)[1].split(")", 1)[0].strip()
        primary = after or None
    elif "(replaced)" in info:
        kind = "replace"
    return arxiv_id, kind, primary, index


def _add_item(dd: _Node, st: _State) -> None:
    assert st.pending is not None
    arxiv_id, kind, primary_hint, index = st.pending
    st.pending = None
    if st.current is None:
        raise FeedError(f"listing entry {arxiv_id} appears before any date heading")
    if kind == "new" and st.section in ("cross", "replace"):
        kind = st.section
    title = _field(dd, "list-title")
    authors_div = dd.find("div", "list-authors")
    authors: list[str] = []
    if authors_div is not None:
        links = authors_div.find_all("a")
        if links:
            authors = [name for a in links if (name := normalise_author(a.text()))]
        elif "unavailable" not in authors_div.text().lower():
            authors = split_authors(normalise(authors_div.text()))
    categories, primary = _subjects(dd.find("div", "list-subjects"))
    abstract_node = next((p for p in dd.find_all("p") if "mathjax" in p.classes()), None)
    abstract = normalise(abstract_node.text()) if abstract_node is not None else None
    item = ListingItem(
        arxiv_id=arxiv_id,
        version=1 if kind == "new" else None,
        kind=kind,
        index=index,
        title=title,
        authors=authors,
        categories=categories,
        primary_category=primary or primary_hint,
        comment=_field(dd, "list-comments"),
        journal_ref=_field(dd, "list-journal-ref"),
        abstract=abstract or None,
    )
    st.days.setdefault(st.current, []).append(item)


def _field(dd: _Node, cls: str) -> str | None:
    node = dd.find("div", cls)
    if node is None:
        return None
    return normalise(node.text(skip_class="descriptor")) or None


def _subjects(node: _Node | None) -> tuple[list[str], str | None]:
    """``Distributed, ... (cs.DC); Operating Systems (cs.OS)`` -> (["cs.DC", "cs.OS"], "cs.DC")."""
    if node is None:
        return [], None
    codes: list[str] = []
    for piece in node.text(skip_class="descriptor").split(";"):
        code = _last_parenthesised(piece)
        if code:
            codes.append(code)
    categories = clean_categories(codes)
    primary_node = node.find("span", "primary-subject")
    primary = _last_parenthesised(primary_node.text()) if primary_node is not None else None
    if primary not in categories:
        primary = categories[0] if categories else None
    return categories, primary


def _last_parenthesised(text: str) -> str | None:
    end = text.rfind(")")
    start = text.rfind("(", 0, end)
    if start < 0 or end < 0:
        return None
    return text[start + 1 : end].strip() or None


def _number_after(text: str, marker: str) -> int | None:
    low = text.lower()
    pos = low.find(marker)
    if pos < 0:
        return None
    tokens = low[pos + len(marker) :].split()
    if not tokens:
        return None
    digits = tokens[0].replace(",", "")
    return int(digits) if digits.isdigit() else None


def _parse_day(text: str) -> date | None:
    """``Fri, 16 Jan 2026`` / ``Friday, 16 January 2026`` -> date (locale-independent)."""
    tokens = text.replace(",", " ").split()
    for i in range(len(tokens) - 2):
        day, month, year = tokens[i], tokens[i + 1][:3].lower(), tokens[i + 2]
        if day.isdigit() and month in _MONTHS and len(year) == 4 and year.isdigit():
            try:
                return date(int(year), _MONTHS[month], int(day))
            except ValueError:
                return None
    return None


def _from_url(url: str | None) -> tuple[str | None, str | None, int | None, int | None]:
    """(category, period, skip, show) from a listing URL."""
    if not url:
        return None, None, None, None
    parts = urlsplit(url)
    segs = [s for s in parts.path.split("/") if s]
    category = period = None
    if len(segs) >= 3 and segs[-3] == "list" and segs[-1] in _PERIODS:
        category, period = segs[-2], segs[-1]
    query = parse_qs(parts.query)

    def _int(name: str) -> int | None:
        value = query.get(name, [""])[0]
        return int(value) if value.isdigit() else None

    return category, "new" if period == "new" else period, _int("skip"), _int("show")


def _category_from_links(root: _Node) -> str | None:
    """The listing's category from its breadcrumb/paging links ``/list/<cat>/<period>``."""
    for a in root.find_all("a"):
        category, _, _, _ = _from_url(a.attrs.get("href", ""))
        if category:
            return category
    return None


# --------------------------------------------------------------------------- entries


def to_entries(page: ListingPage) -> list[Entry]:
    """Entries as the page shows them (``source="listing"``), for replay.

    Pastweek pages carry no abstracts: the live path fetches metadata by id instead.
    """
    entries: list[Entry] = []
    for day, items in page.days.items():
        for item in items:
            entries.append(
                Entry(
                    arxiv_id=item.arxiv_id,
                    version=item.version,
                    title=item.title or "",
                    authors=item.authors,
                    abstract=item.abstract or "",
                    categories=item.categories,
                    primary_category=item.primary_category,
                    comment=item.comment,
                    journal_ref=item.journal_ref,
                    announce_date=day,
                    announce_type=item.kind,
                    source="listing",
                )
            )
    return entries

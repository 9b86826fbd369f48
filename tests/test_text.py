"""Text normalisation (DESIGN.md, Text) on the real strings the samples hold."""

from __future__ import annotations

import json
import re
import unicodedata
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from arxivfilter.text import (
    clean_categories,
    is_category,
    normalise,
    normalise_author,
    parse_arxiv_id,
    split_authors,
    split_creators,
    text_hash,
)

RSS_DIR = Path("B_rss_feeds/aioarxiv_rss_2024-11-28")
API_2026 = Path("A_api_atom/arxiv.py_golden_2026/xml_body")
LIN = Path("E_paper_metadata/LinChentang__daily-arXiv-ai-enhanced")
DC_CREATOR = "{http://purl.org/dc/elements/1.1/}creator"
ATOM = "{http://www.w3.org/2005/Atom}"
SURROGATE = re.compile(r"[\ud800-\udfff]")


def rss_creators(samples: Path, name: str = "rss_mock_feed.cs_only.xml") -> list[str]:
    """Every ``dc:creator`` string of a recorded rss.arxiv.org feed."""
    root = ET.parse(samples / RSS_DIR / name).getroot()
    return [el.text or "" for el in root.iter(DC_CREATOR)]


def creator_with(samples: Path, fragment: str) -> str:
    """The one creator string of the cs-only feed that holds ``fragment``."""
    found = [c for c in rss_creators(samples) if fragment in c]
    assert len(found) == 1, (fragment, found)
    return found[0]


def api_author_names(samples: Path) -> set[str]:
    """Every Atom ``author/name`` in the 2026 export-API goldens, as the XML holds it."""
    names: set[str] = set()
    for path in sorted((samples / API_2026).glob("*.xml")):
        for el in ET.parse(path).getroot().iter(f"{ATOM}name"):
            names.add(el.text or "")
    return names


def jsonl_records(samples: Path, pattern: str) -> list[dict]:
    """Records of the JSONL dumps matching ``pattern`` under E_paper_metadata."""
    out = []
    for path in sorted((samples / "E_paper_metadata").glob(pattern)):
        out.extend(json.loads(line) for line in path.read_text(encoding="utf-8").splitlines())
    return out


# --- TeX accents in the RSS feed's dc:creator ---------------------------------------------


def test_rss_creator_tex_accents_become_letters(samples: Path) -> None:
    """``Przemys{\\l}aw`` and ``Jaros{\\l}aw \\.Zygierewicz`` become Polish letters."""
    creator = creator_with(samples, r"Przemys{\l}aw Olbratowski")
    assert split_authors(creator) == [
        "Martyna Poziomska",
        "Marian Dovgialo",
        "Przemysław Olbratowski",
        "Paweł Niedbalski",
        "Paweł Ogniewski",
        "Joanna Zych",
        "Jacek Rogala",
        "Jarosław Żygierewicz",
    ]


def test_rss_creator_jose(samples: Path) -> None:
    """``Jos\\'e`` in a real creator string becomes ``José``."""
    creator = creator_with(samples, r"Jos\'e Roberto")
    assert split_authors(creator) == [
        "José Roberto Castilho Piqueira",
        "Felipe Freitas",
        "Luis Antonio Aguirre",
    ]


def test_rss_creator_affiliations_are_kept_apart(samples: Path) -> None:
    """``Benjamin R\\'emy (LEMTA)`` splits into the name and its affiliation."""
    creator = creator_with(samples, r"R\'emy (LEMTA)")
    assert split_creators(creator) == [
        ("Mohammed Riadh Berramdane", "IFPEN"),
        ("Alexandre Battiston", "IFPEN"),
        ("Michele Bardi", "IFPEN"),
        ("Nicolas Blet", "LEMTA"),
        ("Benjamin Rémy", "LEMTA"),
        ("Matthieu Urbain", "LEMTA"),
    ]


def test_rss_creator_commas_inside_an_affiliation_do_not_split(samples: Path) -> None:
    """A comma inside parentheses belongs to the affiliation, not to a new author."""
    creator = creator_with(samples, "Aleteia Araujo")
    people = split_creators(creator)
    assert people[0] == (
        "Aleteia Araujo",
        "University of Brasilia Brazil, The University of Melbourne Australia",
    )
    assert [name for name, _ in people] == [
        "Aleteia Araujo",
        "Breno Costa",
        "Joao Bachiega Jr",
        "Leonardo R. Carvalho",
        "Rajkumar Buyya",
    ]


def test_rss_creator_other_accent_macros(samples: Path) -> None:
    """Breve, cedilla, ring, dotless i, tilde and grave accents from real creators."""
    names = {n for c in rss_creators(samples) for n in split_authors(c)}
    for expected in [
        "Serdar Kadıoğlu",
        "Rasmus Maråk",
        "K. Selçuk",
        "Silvio Jamil F. Guimarães",
        "Bérengère Nihoul",
        "Adam Lundström",
        "Péter Dusán Ispánovity",
        "Maciej Zięba",
        "Weronika Smolak-Dyżewska",
    ]:
        assert expected in names


def test_every_rss_creator_splits_into_clean_names(samples: Path) -> None:
    """Across the whole combined feed, no name keeps TeX, parentheses or stray spaces."""
    creators = rss_creators(samples, "rss_mock_feed.xml")
    assert len(creators) == 1504
    names = [name for c in creators for name, _ in split_creators(c)]
    assert len(names) == 7028
    for name in names:
        assert name
        assert not set(name) & set("\\{}()$"), name
        assert name == normalise(name) == normalise_author(name)


# --- double-encoded UTF-8 in the 2026 export-API goldens ------------------------------------


@pytest.mark.parametrize(
    ("raw", "fixed"),
    [
        ("Dirk WÃ¼bben", "Dirk Wübben"),
        ("C. LÃ¤mmerzahl", "C. Lämmerzahl"),
        ("Florian KroiÃ\x9f", "Florian Kroiß"),  # ß's second byte is the C1 control U+009F
        ("Oliver WeiÃ\x9fl", "Oliver Weißl"),
        ("JosÃ© RaÃºl Romero", "José Raúl Romero"),
    ],
)
def test_api_golden_mojibake_is_repaired(samples: Path, raw: str, fixed: str) -> None:
    """The goldens hold these double-encoded names verbatim; normalise repairs them."""
    assert raw in api_author_names(samples)
    assert normalise(raw) == fixed
    assert normalise_author(raw) == fixed


def test_no_api_golden_name_keeps_mojibake(samples: Path) -> None:
    """All 18 double-encoded names are repaired; the other names are left as they are."""
    names = api_author_names(samples)
    broken = {n for n in names if "Ã" in n}
    assert len(broken) == 18
    for name in names:
        fixed = normalise_author(name)
        assert "Ã" not in fixed
        assert "\x9f" not in fixed
        if name not in broken:
            assert fixed == name


# --- real Unicode and TeX in the JSONL dumps ---------------------------------------------------


def test_title_keeps_inline_math_verbatim(samples: Path) -> None:
    """``$β$-CLIP`` keeps its dollars and Greek letter: rendering decides, not storage."""
    [record] = [r for r in jsonl_records(samples, "*/raw_days/2025-12-16.jsonl")
                if r["id"] == "2512.12678"][:1]  # fmt: skip
    title = record["title"]
    assert title.startswith("$β$-CLIP")
    assert normalise(title) == title


def test_jsonl_text_is_already_stable(samples: Path) -> None:
    """The dumps carry real Unicode: normalise changes no author, title or abstract."""
    records = jsonl_records(samples, "*/systems_subset/*.jsonl")
    assert len(records) == 1648
    for r in records:
        for author in r["authors"]:
            assert normalise_author(author) == author
        assert normalise(r["title"]) == " ".join(r["title"].split())
        assert normalise(r["summary"]) == " ".join(r["summary"].split())


def test_jsonl_categories_drop_acm_and_msc_classes(samples: Path) -> None:
    """ACM/MSC class strings in ``categories`` are dropped; arXiv categories keep their order."""
    records = jsonl_records(samples, "*/systems_subset/*.jsonl")
    with_junk = 0
    for r in records:
        cats = r["categories"]
        cleaned = clean_categories(cats)
        assert cleaned == list(dict.fromkeys(c for c in cats if is_category(c)))
        assert cleaned[0] == cats[0]  # the primary category stays first
        with_junk += any(not is_category(c) for c in cats)
    assert with_junk == 144  # about 1 record in 10, as the samples README says


@pytest.mark.parametrize(
    "junk",
    [
        "I.2.6; D.1.3; I.2.8",
        "68T07, 68Q32",
        "n/a",
        "C.4",
        "Primary 68W10, Secondary 65Y05, 68M20",
        "I.2.6; C.1.4; D.1.3; I.5.1; H.3.4; I.2.10; I.4.0;\n  I.4.6",
        "14J60",
        "91-08",
    ],
)
def test_acm_msc_strings_are_not_categories(junk: str) -> None:
    """Real class strings from the dumps are not categories."""
    assert not is_category(junk)
    assert clean_categories(["cs.DC", junk, "cs.DC"]) == ["cs.DC"]


@pytest.mark.parametrize(
    "cat", ["cs.DC", "cs.OS", "cs.LG", "hep-th", "astro-ph.GA", "cond-mat.mes-hall", "q-bio.NC"]
)
def test_real_categories(cat: str) -> None:
    """arXiv categories, with and without subject classes and hyphens, are recognised."""
    assert is_category(cat)


# --- synthetic shapes the samples lack ----------------------------------------------------------


@pytest.mark.parametrize(
    "name", ["王小明", "山田 太郎", "김민준", "Wang Xiaoming (王小明)", "ﾔﾏﾀﾞ ﾀﾛｳ"]
)
def test_cjk_names_pass_unchanged(name: str) -> None:
    """CJK names (none occur in the samples) are left alone: NFC, never NFKC."""
    assert normalise(name) == name
    assert normalise_author(name) == name


def test_cjk_name_with_affiliation_in_a_creator() -> None:
    """A parenthesised CJK part after a name is its affiliation, like any other."""
    assert split_creators("Wang Xiaoming (北京大学), 山田 太郎") == [
        ("Wang Xiaoming", "北京大学"),
        ("山田 太郎", None),
    ]


def test_decomposed_hangul_and_accents_become_nfc() -> None:
    """Decomposed input (``e`` + combining acute, Hangul jamo) is stored composed."""
    assert normalise("Jose\u0301") == "José"
    assert normalise("\u1100\u1161") == "가"


def test_nul_controls_and_lone_surrogates_are_removed() -> None:
    """NUL, other controls and lone surrogates vanish; tabs and newlines collapse."""
    assert normalise("Deep\x00 Learning\ud800 for\udfff\x07 GPUs") == "Deep Learning for GPUs"
    assert normalise("  a\t\tb\n\nc\u00a0d\u2028e ") == "a b c d e"
    assert normalise("\x00\ud800") == ""
    assert normalise(None) == ""


def test_titles_keep_tex_authors_lose_it() -> None:
    """TeX in a title is kept verbatim; the same markup in an author name becomes letters."""
    title = r"On G\"odel's $\alpha$-{\em theorems} for $β$ > 0"
    assert normalise(title) == title
    assert normalise_author(r"Kurt G\"odel") == "Kurt Gödel"


def test_creator_with_and_separator() -> None:
    """Older feeds join the last author with " and " outside parentheses."""
    assert split_authors("A. One, B. Two and C. Three (Dept. of X and Y)") == [
        "A. One",
        "B. Two",
        "C. Three",
    ]
    assert split_creators("C. Three (Dept. of X and Y)") == [("C. Three", "Dept. of X and Y")]


def test_stray_markup_in_a_name_is_dropped() -> None:
    """Leftover braces or backslashes are not part of a name (and stay gone)."""
    assert normalise_author(r"\{") == ""
    assert normalise_author(r"{van} Dijk") == "van Dijk"


def test_text_hash_depends_only_on_normalised_text() -> None:
    """Whitespace, NFC and mojibake differences do not change the cache key."""
    assert text_hash("A  title", "Jose\u0301 WÃ¼bben") == text_hash("A title", "José Wübben")
    assert text_hash("A title", "x") != text_hash("A title", "y")
    assert text_hash("ab", "c") != text_hash("a", "bc")


# --- arXiv ids -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("2405.01234", ("2405.01234", None)),
        ("2405.01234v2", ("2405.01234", 2)),
        ("0804.0970v1", ("0804.0970", 1)),  # four-digit numbers before 2015
        ("arXiv:2405.01234v12", ("2405.01234", 12)),
        ("  arxiv:2405.01234 ", ("2405.01234", None)),
        ("cs/0112017v1", ("cs/0112017", 1)),
        ("cs/0112017", ("cs/0112017", None)),
        ("arXiv:hep-th/9901001v3", ("hep-th/9901001", 3)),
        ("math.CO/0101001", ("math.CO/0101001", None)),
        ("http://arxiv.org/abs/1707.08567v1", ("1707.08567", 1)),
        ("https://arxiv.org/abs/2512.10964", ("2512.10964", None)),
        ("https://arxiv.org/pdf/2512.10964", ("2512.10964", None)),
        ("https://arxiv.org/pdf/2405.01234v2.pdf", ("2405.01234", 2)),
        ("http://export.arxiv.org/abs/astro-ph/0601001v1", ("astro-ph/0601001", 1)),
        ("https://www.arxiv.org/abs/2405.01234", ("2405.01234", None)),
        ("oai:arXiv.org:2411.17700v1", ("2411.17700", 1)),  # rss.arxiv.org <guid>
        ("oai:arXiv.org:0803.4354", ("0803.4354", None)),  # OAI-PMH <identifier>
    ],
)
def test_parse_arxiv_id_forms(raw: str, expected: tuple[str, int | None]) -> None:
    """Bare, prefixed, URL, guid, old-style and versioned ids all parse."""
    assert parse_arxiv_id(raw) == expected


@pytest.mark.parametrize(
    "raw",
    ["", "abc", "2405.123", "2405.123456", "0112017", "2405.01234v", "https://example.org/abs/2405.01234",
     "2405.01234 2405.01235"],
)  # fmt: skip
def test_parse_arxiv_id_rejects_non_ids(raw: str) -> None:
    """Strings that are not arXiv ids raise ValueError."""
    with pytest.raises(ValueError, match="not an arXiv id"):
        parse_arxiv_id(raw)


def test_every_sample_id_parses(samples: Path) -> None:
    """Every Atom <id>, RSS guid and JSONL id in the samples parses to the bare id."""
    raw_ids: list[str] = []
    for path in sorted((samples / "A_api_atom").rglob("*.xml")):
        root = ET.parse(path).getroot()
        raw_ids += [e.findtext(f"{ATOM}id") or "" for e in root.iter(f"{ATOM}entry")]
    root = ET.parse(samples / RSS_DIR / "rss_mock_feed.cs_only.xml").getroot()
    raw_ids += [g.text or "" for g in root.iter("guid")]
    raw_ids = [r for r in raw_ids if "api/errors" not in r]  # the error feed's entry
    records = jsonl_records(samples, "*/raw_days/*.jsonl")
    raw_ids += [r["id"] for r in records] + [r["abs"] for r in records]
    assert len(raw_ids) > 8000
    for raw in raw_ids:
        arxiv_id, _ = parse_arxiv_id(raw)
        assert arxiv_id in raw


# --- properties ---------------------------------------------------------------------------------

# Characters that make mojibake, controls, surrogates, TeX and odd whitespace likely.
TRICKY = st.text(
    st.sampled_from(
        [
            *"Ã©ÂâÅÀ€™abe \t\n\\{}'`\"~$lL",
            *["\x00", "\x1f", "\x81", "\x85", "\x86", "\x9f", "\u00a0", "\u2028", "\u3000"],
            *["\u0301", "\ud800", "\udfff", "王"],
        ]
    ),
    max_size=30,
)
ANY_TEXT = st.text(st.characters(codec=None), max_size=60)


def _assert_clean(s: str) -> None:
    assert "\x00" not in s
    assert not SURROGATE.search(s)
    assert "  " not in s
    assert s == s.strip()
    assert unicodedata.is_normalized("NFC", s)


@given(st.one_of(ANY_TEXT, TRICKY))
@example("À\x1f\x86")  # dropping the control exposed new mojibake: fixed by repeating passes
@example("Dirk WÃ¼bben\x00")
def test_normalise_is_idempotent_and_clean(s: str) -> None:
    """normalise(normalise(x)) == normalise(x); no NUL, surrogate or double space survives."""
    once = normalise(s)
    assert normalise(once) == once
    _assert_clean(once)


@given(st.one_of(ANY_TEXT, TRICKY))
@example("\\{")  # "{" after one pass used to vanish on the second
@example(r"Przemys{\l}aw")
def test_normalise_author_is_idempotent_and_clean(s: str) -> None:
    """normalise_author is idempotent and leaves no TeX braces or backslashes."""
    once = normalise_author(s)
    assert normalise_author(once) == once
    _assert_clean(once)
    assert not set(once) & set("\\{}")


@given(st.one_of(ANY_TEXT, TRICKY))
def test_split_creators_yields_normalised_names(s: str) -> None:
    """Whatever the creator string, every name is non-empty and already normalised."""
    for name, affiliation in split_creators(s):
        assert name
        assert normalise_author(name) == name
        assert affiliation is None or (affiliation and normalise(affiliation) == affiliation)


@given(st.text(st.characters(max_codepoint=127), max_size=80))
@example("a\x0b\x0cb \x7f c\t\n")
def test_normalise_ascii_fast_path_equals_the_full_passes(s: str) -> None:
    """ASCII text skips ftfy and NFC (#23: 0.1 ms a field): the same result as every pass."""
    from arxivfilter import text as text_mod

    full = s
    for _ in range(text_mod._MAX_PASSES):
        nxt = text_mod._normalise_pass(full)
        if nxt == full:
            break
        full = nxt
    assert normalise(s) == full

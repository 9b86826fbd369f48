"""The reader's feedback: ``arxivfilter like`` / ``dislike`` / ``feedback``.

A verdict is (profile, arXiv id, ``like`` or ``dislike``, the date it was given). It lives in
two places:

  * ``config/profiles/NAME.feedback.tsv`` in the working directory (beside a working-directory
    profile; for a shipped profile the working directory's ``config/profiles`` is where it is
    written): three tab-separated columns ``arxiv_id verdict date``, one row per paper,
    sorted by id, so it is committed with the profile, diffs line by line and survives a
    fresh runner. **The file is the source of truth.**
  * the ``feedback`` table, a mirror of the file (:func:`sync`), rewritten from it whenever
    the commands run and whenever the local scorer trains (a fresh runner with the file and
    no database rebuilds the same rows, hence the same model).

Likes join the profile's liked ``examples``; dislikes are strong negatives of the learned
model (``score/learned.py``). Papers not in the database are recorded anyway; a live run
fetches their text by id once, as it does for ``examples`` (``pipeline.ensure_examples``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Engine
from sqlmodel import Session

from arxivfilter import store
from arxivfilter.config import Profile, defaults_dir
from arxivfilter.errors import ConfigError, UsageError
from arxivfilter.text import parse_arxiv_id

VERDICTS = ("like", "dislike")
SUFFIX = ".feedback.tsv"
HEADER = "arxiv_id\tverdict\tdate"


@dataclass(frozen=True, order=True)
class Verdict:
    """One row of a feedback file."""

    arxiv_id: str
    verdict: str
    date: dt.date


def resolve_profile(name: str | None) -> Profile:
    """The named profile, else the only one: the only profile of the working directory's
    ``config/profiles`` (the reader's own), else the only one at all. Several and no name is
    exit 2."""
    from arxivfilter.config import load_profiles, profile_paths

    if name:
        return load_profiles([name])[0]
    own = sorted(p.stem for p in Path("config/profiles").glob("*.toml"))
    if len(own) == 1:
        return load_profiles(own)[0]
    names = list(profile_paths())
    if len(names) != 1:
        raise UsageError(
            f"several profiles are configured ({', '.join(names)}): name one with --profile"
            if names
            else "no profiles found: add config/profiles/NAME.toml"
        )
    return load_profiles(names)[0]


def feedback_path(profile: Profile) -> Path:
    """Where the profile's feedback file is written (and read first).

    Beside the profile when the profile is a working-directory file; for a shipped profile,
    ``config/profiles/NAME.feedback.tsv`` in the working directory (never inside the package).
    """
    wd = Path("config/profiles")
    if profile.path is not None:
        shipped = defaults_dir("config") / "profiles"
        folder = profile.path.parent
        if folder.resolve() != shipped.resolve():
            return folder / f"{profile.name}{SUFFIX}"
    return wd / f"{profile.name}{SUFFIX}"


def _read_paths(profile: Profile) -> list[Path]:
    paths = [feedback_path(profile)]
    if profile.path is not None:
        beside = profile.path.parent / f"{profile.name}{SUFFIX}"
        if beside not in paths:
            paths.append(beside)
    return paths


def read_file(path: Path) -> dict[str, Verdict]:
    """The verdicts of one feedback file (empty when it does not exist)."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        return {}
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read the feedback file: {exc}") from None
    out: dict[str, Verdict] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        cells = [c.strip() for c in line.split("\t")]
        if not any(cells) or (number == 1 and cells[0] == "arxiv_id"):
            continue
        where = f"{path}: line {number}"
        if len(cells) < 2 or cells[1] not in VERDICTS:
            raise ConfigError(f"{where}: expected 'arxiv_id<TAB>like|dislike<TAB>YYYY-MM-DD'")
        try:
            arxiv_id = parse_arxiv_id(cells[0])[0]
        except ValueError:
            raise ConfigError(f"{where}: {cells[0]!r} is not an arXiv id") from None
        try:
            date = dt.date.fromisoformat(cells[2]) if len(cells) > 2 and cells[2] else dt.date.min
        except ValueError:
            raise ConfigError(f"{where}: {cells[2]!r} is not a date (YYYY-MM-DD)") from None
        out[arxiv_id] = Verdict(arxiv_id, cells[1], date)
    return out


def read_feedback(profile: Profile) -> dict[str, Verdict]:
    """The profile's verdicts: the first feedback file that exists (:func:`feedback_path`)."""
    for path in _read_paths(profile):
        if path.is_file():
            return read_file(path)
    return {}


def write_file(path: Path, verdicts: Iterable[Verdict]) -> None:
    """Write the verdicts sorted by id (atomically: a temporary file renamed over it)."""
    rows = sorted(verdicts)
    path.parent.mkdir(parents=True, exist_ok=True)
    body = "".join(
        f"{v.arxiv_id}\t{v.verdict}\t{'' if v.date == dt.date.min else v.date.isoformat()}\n"
        for v in rows
    )
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(f"{HEADER}\n{body}", encoding="utf-8")
    tmp.replace(path)


def likes(profile: Profile) -> set[str]:
    """Ids the reader liked for this profile."""
    return {k for k, v in read_feedback(profile).items() if v.verdict == "like"}


def dislikes(profile: Profile) -> set[str]:
    """Ids the reader disliked for this profile."""
    return {k for k, v in read_feedback(profile).items() if v.verdict == "dislike"}


def normalise_ids(raw: Iterable[str]) -> list[str]:
    """Command-line ids, normalised (``arXiv:`` and ``vN`` dropped); a bad one is exit 2."""
    out: list[str] = []
    for value in raw:
        try:
            arxiv_id = parse_arxiv_id(value.strip())[0]
        except ValueError:
            raise UsageError(f"{value!r} is not an arXiv id (e.g. 2506.04456)") from None
        if arxiv_id not in out:
            out.append(arxiv_id)
    if not out:
        raise UsageError("name at least one arXiv id")
    return out


def sync(session: Session, profile: str, verdicts: dict[str, Verdict]) -> None:
    """Make the ``feedback`` table's rows of ``profile`` equal the file's verdicts."""
    store.sync_feedback(session, profile, {k: (v.verdict, v.date) for k, v in verdicts.items()})


def sync_engine(engine: Engine, profile: Profile) -> dict[str, Verdict]:
    """Mirror the profile's file into the database; the file's verdicts."""
    verdicts = read_feedback(profile)
    with Session(engine) as session:
        if verdicts or store.feedback_rows(session, profile.name):
            sync(session, profile.name, verdicts)
    return verdicts


@dataclass(frozen=True)
class Change:
    """What a ``like``/``dislike``/``--undo`` did: ids set, ids unchanged, the file written."""

    changed: list[str]
    unchanged: list[str]
    path: Path


def record(
    engine: Engine, profile: Profile, ids: Iterable[str], verdict: str | None, today: dt.date
) -> Change:
    """Set (``verdict`` like/dislike) or remove (None) the reader's verdict on ``ids``.

    The file is rewritten first (the source of truth), then the database mirrors it.
    """
    wanted = normalise_ids(ids)
    path = feedback_path(profile)
    verdicts = read_feedback(profile)
    changed: list[str] = []
    unchanged: list[str] = []
    for arxiv_id in wanted:
        old = verdicts.get(arxiv_id)
        if verdict is None:
            if old is None:
                unchanged.append(arxiv_id)
            else:
                del verdicts[arxiv_id]
                changed.append(arxiv_id)
        elif old is not None and old.verdict == verdict:
            unchanged.append(arxiv_id)
        else:
            verdicts[arxiv_id] = Verdict(arxiv_id, verdict, today)
            changed.append(arxiv_id)
    if changed or not path.is_file():
        write_file(path, verdicts.values())
    with Session(engine) as session:
        sync(session, profile.name, verdicts)
    return Change(changed, unchanged, path)


def stored(engine: Engine, profile: str) -> list[Verdict]:
    """The database's mirror of a profile's verdicts, sorted by id."""
    with Session(engine) as session:
        rows = store.feedback_rows(session, profile)
    return [Verdict(r.arxiv_id, r.verdict, r.date) for r in rows]

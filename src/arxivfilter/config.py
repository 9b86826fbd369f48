"""Settings (one TOML file + environment) and topic profiles, validated with clear errors.

Resolution order for every scalar key: shipped default < config file < environment.
The file is ``$ARXIVFILTER_CONFIG``, else ``config/arxivfilter.toml`` in the working
directory, else the copy shipped inside the package. ``[section] key`` is overridden by
``ARXIVFILTER_SECTION__KEY``; a few keys also have the short names DESIGN.md fixes
(``ARXIVFILTER_DB_URL``, ``OPENAI_API_KEY`` ...).
"""

from __future__ import annotations

import difflib
import functools
import hashlib
import json
import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import structlog
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from arxivfilter.errors import ConfigError, UsageError
from arxivfilter.logs import mask_url_credentials

log = structlog.get_logger(__name__)

_REPO_ROOT = Path(__file__).resolve().parents[2]


def defaults_dir(kind: str) -> Path:
    """The shipped ``config`` or ``prompts`` folder (package data, or the source checkout)."""
    packaged = Path(str(resources.files("arxivfilter"))) / "_defaults" / kind
    if packaged.is_dir():
        return packaged
    return _REPO_ROOT / kind


# --------------------------------------------------------------------------- settings


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class ArxivSettings(_Section):
    categories: list[str] = Field(default_factory=lambda: ["cs.DC", "cs.OS", "cs.LG"])
    contact: str = ""
    delay_seconds: float = Field(default=3.0, ge=3.0)
    timeout_seconds: float = Field(default=60.0, gt=0)
    retry_max_seconds: float = Field(default=900.0, gt=0)
    retry_attempts: int = Field(default=6, ge=1)
    retry_after_default_seconds: float = Field(default=30.0, ge=0)
    rss_url: str = "https://rss.arxiv.org/rss/"
    api_url: str = "https://export.arxiv.org/api/query"
    listing_url: str = "https://export.arxiv.org"
    oai_url: str = "https://oaipmh.arxiv.org/oai"
    api_batch_size: int = Field(default=200, ge=1, le=2000)

    @field_validator("categories", mode="before")
    @classmethod
    def _split(cls, v: Any) -> Any:
        if isinstance(v, str):
            v = [c.strip() for c in v.split(",") if c.strip()]
        if isinstance(v, list) and all(isinstance(c, str) for c in v):
            from arxivfilter.taxonomy import canonical_categories

            try:
                return canonical_categories(v, where="categories")
            except UsageError as exc:
                raise ValueError(str(exc)) from None
        return v


class CalendarSettings(_Section):
    holidays: list[str] = Field(default_factory=list)


class StorageSettings(_Section):
    db_url: str = "sqlite:///data/arxivfilter.db"
    raw_dir: str = "data/raw"
    busy_timeout_seconds: float = Field(default=30.0, ge=0)


#: ``[llm] mode``: how requests reach the server
LLM_MODES: tuple[str, ...] = ("direct", "batch")


class LlmSettings(_Section):
    base_url: str = ""
    api_key: str = ""
    model: str = "gpt-4.1-nano"
    concurrency: int = Field(default=8, ge=1, le=256)
    timeout_seconds: float = Field(default=120.0, gt=0)
    retry_attempts: int = Field(default=6, ge=1)
    retry_max_seconds: float = Field(default=600.0, gt=0)
    run_wait_max_seconds: float = Field(default=1200.0, gt=0)
    abstract_chars: int = Field(default=3000, ge=200)
    papers_per_call: int = Field(default=1, ge=1, le=50)
    prefilter: float = Field(default=1.0, gt=0, le=1.0)
    max_cost: float = Field(default=0.0, ge=0)
    prices: dict[str, dict[str, float]] = Field(default_factory=dict)
    price_provider: str = ""
    price_model: str = ""
    mode: str = "direct"
    batch_wait_seconds: float = Field(default=0.0, ge=0)
    batch_poll_seconds: float = Field(default=5.0, gt=0)
    batch_max_requests: int = Field(default=50_000, ge=1, le=50_000)
    batch_max_mb: float = Field(default=190.0, gt=0, le=200)
    passes: int = Field(default=1, ge=1, le=2)
    second_pass_margin: int = Field(default=10, ge=0, le=100)
    service_tier: str = ""
    temperature: float = Field(default=0.0, ge=0, le=2)
    seed: int = 0
    reasoning: str = "auto"
    reasoning_effort: str = "low"
    max_completion_tokens: int = Field(default=0, ge=0)

    @field_validator("mode")
    @classmethod
    def _mode(cls, v: str) -> str:
        if v not in LLM_MODES:
            raise ValueError(f"must be {' or '.join(LLM_MODES)}")
        return v

    @field_validator("service_tier")
    @classmethod
    def _tier(cls, v: str) -> str:
        if v not in ("", "auto", "default", "flex", "priority"):
            raise ValueError('must be "", auto, default, flex or priority')
        return v

    @field_validator("reasoning")
    @classmethod
    def _reasoning(cls, v: str) -> str:
        v = v.lower()
        if v not in ("auto", "true", "false"):
            raise ValueError("must be auto, true or false")
        return v

    @field_validator("reasoning_effort")
    @classmethod
    def _effort(cls, v: str) -> str:
        if v not in ("", "none", "minimal", "low", "medium", "high", "xhigh"):
            raise ValueError('must be "", none, minimal, low, medium, high or xhigh')
        return v


class ScoreSettings(_Section):
    scorer: str = "auto"
    # processes judging a long day with the local scorer: 0 one per usable CPU, 1 in process
    workers: int = Field(default=0, ge=0, le=64)

    @field_validator("scorer")
    @classmethod
    def _scorer(cls, v: str) -> str:
        if v not in ("auto", "llm", "local"):
            raise ValueError("must be auto, llm or local")
        return v


class ReportSettings(_Section):
    digests_dir: str = "digests"
    feed_days: int = Field(default=30, ge=1)
    excerpt_chars: int = Field(default=200, ge=40)
    site_url: str = ""
    # one threshold for every profile (the workflow's ARXIVFILTER_THRESHOLD); None = each
    # profile's own. Not part of any cache key: changing it re-lists, never re-scores.
    threshold: int | None = Field(default=None, ge=0, le=100)
    log_weeks: int = Field(default=4, ge=1, le=520)
    just_missed_margin: int = Field(default=10, ge=0, le=100)
    just_missed_max: int = Field(default=5, ge=0, le=100)
    # a link per listed paper in digests and on the web page, "{id}" and "{profile}" filled
    # in, e.g. https://github.com/OWNER/REPO/issues/new?template=like.yml&title=like+{id}+{profile}
    # ("" = no link; README "Learning from the reader")
    feedback_url: str = ""

    @field_validator("feedback_url")
    @classmethod
    def _feedback_url(cls, value: str) -> str:
        if value and not value.startswith(("https://", "http://")):
            raise ValueError("must be an http(s) URL with {id} (and optionally {profile})")
        return value


class SiteSettings(_Section):
    dir: str = "site"
    days: int = Field(default=0, ge=0)  # the kept period: 0 = every stored date
    min_relevance: int = Field(default=0, ge=0, le=100)  # 0 = every judged paper
    page_size: int = Field(default=100, ge=10, le=5000)
    recent_days: int = Field(default=7, ge=0)  # what a page loads at once; 0 = everything


class StateSettings(_Section):
    # the committed text state (state.py) that `run` keeps: "" = none (the database alone
    # keeps the state); the nightly workflow sets ARXIVFILTER_STATE_DIR=state
    dir: str = ""
    # papers whose best judgement stays below this keep no title/abstract in the state
    text_min_relevance: int = Field(default=50, ge=0, le=101)


class RunSettings(_Section):
    lock_file: str = "data/arxivfilter.lock"
    lock_timeout_seconds: float = Field(default=0.0, ge=0)


class ScheduleSettings(_Section):
    cron: str = "30 0 * * mon-fri"
    timezone: str = "America/New_York"
    misfire_grace_seconds: int = Field(default=6 * 3600, ge=0)


class Subscriber(_Section):
    """One ``[[notify.subscribers]]`` entry: who gets which profiles' papers by e-mail."""

    address: str
    profiles: list[str] = Field(default_factory=list)  # empty = every profile
    keywords: list[str] = Field(default_factory=list)  # any must match title/abstract/tags
    min_relevance: int | None = Field(default=None, ge=0, le=100)  # default: the threshold


class Webhook(_Section):
    """One ``[[notify.webhooks]]`` entry: a Slack or Discord incoming webhook.

    The URL is a secret: the config names the environment variable that holds it.
    """

    name: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9._-]+$")
    kind: str
    url_env: str = Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")
    profiles: list[str] = Field(default_factory=list)
    keywords: list[str] = Field(default_factory=list)
    min_relevance: int | None = Field(default=None, ge=0, le=100)

    @field_validator("kind")
    @classmethod
    def _kind(cls, v: str) -> str:
        if v not in ("slack", "discord"):
            raise ValueError("must be slack or discord")
        return v


class NotifySettings(_Section):
    subscribers: list[Subscriber] = Field(default_factory=list)
    webhooks: list[Webhook] = Field(default_factory=list)
    send_empty: bool = False
    unsubscribe: str = ""
    min_interval_seconds: float = Field(default=1.0, ge=0)
    timeout_seconds: float = Field(default=30.0, gt=0)
    send_deadline_seconds: float = Field(default=120.0, gt=0)
    retry_after_max_seconds: float = Field(default=60.0, ge=0)
    max_age_days: int = Field(default=7, ge=0)
    max_papers: int = Field(default=50, ge=1, le=500)
    ledger_file: str = "digests/notifications.jsonl"

    @field_validator("unsubscribe")
    @classmethod
    def _unsubscribe(cls, v: str) -> str:
        if v and not v.startswith(("mailto:", "https://", "http://")):
            raise ValueError("must be a mailto: address or an http(s) URL")
        return v

    @property
    def configured(self) -> bool:
        return bool(self.subscribers or self.webhooks)


class LogSettings(_Section):
    level: str = "info"

    @field_validator("level")
    @classmethod
    def _level(cls, v: str) -> str:
        v = v.lower()
        if v not in ("debug", "info", "warning", "error", "critical"):
            raise ValueError("must be debug, info, warning, error or critical")
        return v


class Settings(_Section):
    arxiv: ArxivSettings = Field(default_factory=ArxivSettings)
    calendar: CalendarSettings = Field(default_factory=CalendarSettings)
    storage: StorageSettings = Field(default_factory=StorageSettings)
    llm: LlmSettings = Field(default_factory=LlmSettings)
    score: ScoreSettings = Field(default_factory=ScoreSettings)
    report: ReportSettings = Field(default_factory=ReportSettings)
    site: SiteSettings = Field(default_factory=SiteSettings)
    state: StateSettings = Field(default_factory=StateSettings)
    run: RunSettings = Field(default_factory=RunSettings)
    schedule: ScheduleSettings = Field(default_factory=ScheduleSettings)
    notify: NotifySettings = Field(default_factory=NotifySettings)
    log: LogSettings = Field(default_factory=LogSettings)

    # where each value came from: "section.key" -> "default" | file path | env var
    origins: dict[str, str] = Field(default_factory=dict, exclude=True)

    @property
    def llm_configured(self) -> bool:
        return bool(self.llm.api_key or self.llm.base_url)

    def resolve_scorer(self, requested: str | None = None) -> str:
        """``auto`` -> llm when a key or base URL is set, else local. llm without either: exit 2."""
        choice = requested or self.score.scorer
        if choice == "auto":
            return "llm" if self.llm_configured else "local"
        if choice == "llm" and not self.llm_configured:
            raise UsageError(
                "--scorer llm needs an API key or a base URL: set OPENAI_API_KEY or "
                "OPENAI_BASE_URL (or [llm] api_key / base_url in the config file)"
            )
        if choice not in ("llm", "local"):
            raise UsageError(f"unknown scorer {choice!r}: use auto, llm or local")
        return choice

    @property
    def holiday_dates(self) -> set[Any]:
        import datetime as dt

        return {dt.date.fromisoformat(h) for h in self.calendar.holidays}


# Short environment names fixed by DESIGN.md -> (section, key)
ENV_ALIASES: dict[str, tuple[str, str]] = {
    "ARXIVFILTER_DB_URL": ("storage", "db_url"),
    "ARXIVFILTER_RAW_DIR": ("storage", "raw_dir"),
    "ARXIVFILTER_DIGESTS_DIR": ("report", "digests_dir"),
    "ARXIVFILTER_SITE_DIR": ("site", "dir"),
    "ARXIVFILTER_STATE_DIR": ("state", "dir"),
    "ARXIVFILTER_CONTACT": ("arxiv", "contact"),
    "ARXIVFILTER_MODEL": ("llm", "model"),
    "OPENAI_API_KEY": ("llm", "api_key"),
    "OPENAI_BASE_URL": ("llm", "base_url"),
    "ARXIVFILTER_LOCK_FILE": ("run", "lock_file"),
    "ARXIVFILTER_LOG_LEVEL": ("log", "level"),
}
# ARXIVFILTER_* variables that are not config keys
_NON_CONFIG_ENV = {
    "ARXIVFILTER_CONFIG",
    "ARXIVFILTER_TEST_PG_URL",
    "ARXIVFILTER_TEST_LLM_URL",
    "ARXIVFILTER_REQUIRE_SAMPLES",
    "ARXIVFILTER_REQUIRE_PG",
    # notify's SMTP settings: read from the environment only, never stored (notify/smtp.py)
    "ARXIVFILTER_SMTP_HOST",
    "ARXIVFILTER_SMTP_PORT",
    "ARXIVFILTER_SMTP_USER",
    "ARXIVFILTER_SMTP_PASSWORD",
    "ARXIVFILTER_SMTP_FROM",
    "ARXIVFILTER_SMTP_TLS",
    "ARXIVFILTER_TEST_CHROMIUM",
    "ARXIVFILTER_REQUIRE_BROWSER",
}
# list-of-tables keys: set in the file only, like the tables
_TABLE_LISTS = {("notify", "subscribers"), ("notify", "webhooks")}
SECRET_KEYS = {("llm", "api_key")}
#: the keys of a ``[llm.prices."MODEL"]`` table (USD per million tokens)
PRICE_KEYS = frozenset(
    f"{tier}{key}"
    for tier in ("", "batch_", "flex_")
    for key in ("input", "cached_input", "output")
)


def env_value(name: str, env: Mapping[str, str] | None = None) -> str | None:
    """An environment variable's value, None when it is unset or empty (or only blanks).

    GitHub passes an unset repository variable or secret as the empty string, so an empty
    value counts as unset everywhere the tool reads the environment.
    """
    value = (os.environ if env is None else env).get(name)
    return value if value is not None and value.strip() else None


def _closest(name: str, candidates: list[str]) -> str:
    match = difflib.get_close_matches(name, candidates, n=1, cutoff=0.5)
    return f" (did you mean {match[0]!r}?)" if match else ""


def _fields(model: type[BaseModel]) -> list[str]:
    return [n for n in model.model_fields if n != "origins"]


def config_path(env: Mapping[str, str] | None = None) -> Path:
    configured = env_value("ARXIVFILTER_CONFIG", env)
    if configured is not None:
        return Path(configured)
    local = Path("config/arxivfilter.toml")
    if local.is_file():
        return local
    return defaults_dir("config") / "arxivfilter.toml"


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except FileNotFoundError as exc:
        raise ConfigError(f"{path}: config file not found") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from exc
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror}") from exc


def _check_unknown(data: dict[str, Any], where: str) -> None:
    sections = _fields(Settings)
    for section, body in data.items():
        if section not in sections:
            raise ConfigError(f"{where}: unknown section [{section}]{_closest(section, sections)}")
        if not isinstance(body, dict):
            raise ConfigError(f"{where}: [{section}] must be a table")
        model = Settings.model_fields[section].annotation
        assert isinstance(model, type)
        keys = _fields(model)
        for key in body:
            if key not in keys:
                raise ConfigError(f"{where}: unknown key [{section}] {key}{_closest(key, keys)}")


def _coerce_env(value: str, current: Any) -> Any:
    if isinstance(current, bool):
        low = value.strip().lower()
        if low in ("1", "true", "yes", "on"):
            return True
        if low in ("0", "false", "no", "off"):
            return False
        return value
    if isinstance(current, list):
        return [v.strip() for v in value.split(",") if v.strip()]
    return value


def load_settings(env: Mapping[str, str] | None = None, path: Path | None = None) -> Settings:
    """Load and validate the effective settings. Raises ConfigError with one clear line."""
    env = dict(os.environ if env is None else env)
    path = path or config_path(env)
    data = _read_toml(path)
    _check_unknown(data, str(path))
    origins: dict[str, str] = {}
    for section, body in data.items():
        for key in body:
            origins[f"{section}.{key}"] = str(path)
    merged = _with_env_overrides(data, env, origins)
    settings = _validated(merged, origins, path)
    settings.origins = origins
    _check_holidays(settings, path)
    _check_prices(settings, path)
    return settings


def _with_env_overrides(
    data: Mapping[str, Mapping[str, Any]], env: Mapping[str, str], origins: dict[str, str]
) -> dict[str, dict[str, Any]]:
    """The file's sections with the environment's overrides applied (their origins recorded)."""
    defaults = Settings().model_dump()
    merged: dict[str, dict[str, Any]] = {s: dict(b) for s, b in data.items()}
    for name, value in sorted(env.items()):
        if env_value(name, env) is None:
            continue  # empty = unset: no override, no error, no warning
        target = _env_target(name, defaults)
        if target is None:
            continue
        section, key = target
        current = merged.get(section, {}).get(key, defaults[section][key])
        merged.setdefault(section, {})[key] = _coerce_env(value, current)
        origins[f"{section}.{key}"] = f"env {name}"
    return merged


def _env_target(name: str, defaults: Mapping[str, Any]) -> tuple[str, str] | None:
    """The (section, key) an environment variable sets, or None (an unknown ``ARXIVFILTER_``
    one is warned about). Raises ConfigError for a bad ``ARXIVFILTER_<SECTION>__<KEY>``."""
    if name in ENV_ALIASES:
        return ENV_ALIASES[name]
    if not name.startswith("ARXIVFILTER_"):
        return None
    if "__" not in name:
        if name not in _NON_CONFIG_ENV:
            log.warning("unknown environment variable ignored", variable=name)
        return None
    section, _, key = name[len("ARXIVFILTER_") :].lower().partition("__")
    sections = _fields(Settings)
    if section not in sections:
        raise ConfigError(
            f"environment: {name} names no config section{_closest(section, sections)}"
        )
    model = Settings.model_fields[section].annotation
    assert isinstance(model, type)
    keys = _fields(model)
    if key not in keys:
        hint = _closest(key, keys)
        raise ConfigError(f"environment: {name} names no key of [{section}]{hint}")
    if isinstance(defaults[section][key], dict) or (section, key) in _TABLE_LISTS:
        raise ConfigError(f"environment: [{section}] {key} is a table: set it in the file")
    return section, key


def _validated(
    merged: dict[str, dict[str, Any]], origins: Mapping[str, str], path: Path
) -> Settings:
    """The Settings model of ``merged``; its first error as one line naming where it came from."""
    try:
        return Settings.model_validate(merged)
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = err["loc"]
        where = f"[{loc[0]}] {'.'.join(str(p) for p in loc[1:])}" if len(loc) > 1 else str(loc[0])
        origin = origins.get(".".join(str(p) for p in loc[:2]), str(path))
        raise ConfigError(f"{origin}: {where}: {err['msg']}") from None


def _check_holidays(settings: Settings, path: Path) -> None:
    for h in settings.calendar.holidays:
        try:
            import datetime as dt

            dt.date.fromisoformat(h)
        except ValueError:
            raise ConfigError(
                f"{path}: [calendar] holidays: {h!r} is not a YYYY-MM-DD date"
            ) from None


def _check_prices(settings: Settings, path: Path) -> None:
    for price_model, table in settings.llm.prices.items():
        unknown = set(table) - PRICE_KEYS
        if unknown:
            raise ConfigError(
                f"{path}: [llm.prices.{price_model!r}] unknown key {sorted(unknown)[0]!r} "
                "(use input, cached_input, output, and batch_/flex_ forms of them: "
                "USD per million tokens)"
            )


def effective_config(settings: Settings) -> list[tuple[str, str, str]]:
    """(key, value, origin) for every scalar key; secrets masked."""
    rows: list[tuple[str, str, str]] = []
    dumped = settings.model_dump()
    for section, body in dumped.items():
        for key, value in body.items():
            if (section, key) in SECRET_KEYS and value:
                shown = "****" + str(value)[-4:] if len(str(value)) > 8 else "****"
            elif isinstance(value, list | dict):
                shown = mask_url_credentials(json.dumps(value))
            else:
                shown = mask_url_credentials(str(value))  # a base or database URL's password
            rows.append(
                (f"{section}.{key}", shown, settings.origins.get(f"{section}.{key}", "default"))
            )
    return rows


# --------------------------------------------------------------------------- profiles


@dataclass(frozen=True)
class Profile:
    name: str
    description: str
    threshold: int
    tags: dict[str, str]
    keywords: tuple[str, ...] = ()
    exclude: str = ""
    examples: tuple[str, ...] = ()
    examples_file: str | None = None
    path: Path | None = None
    raw: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)
    # categories this profile needs beyond the configured ones (fetched too; not in the hash:
    # what is fetched does not change a judgement)
    categories: tuple[str, ...] = ()

    def scope(self, base: list[str] | None) -> list[str] | None:
        """The categories this profile reads: ``base`` (None = all) plus its own ones."""
        if base is None:
            return None
        return [*base, *(c for c in self.categories if c not in base)]

    @functools.cached_property
    def content_hash(self) -> str:
        """Hash of everything that can change a judgement (not the file path)."""
        payload = {
            "name": self.name,
            "description": self.description,
            "tags": self.tags,
            "keywords": list(self.keywords),
            "exclude": self.exclude,
            "examples": list(self.examples),
        }
        blob = json.dumps(payload, sort_keys=True, ensure_ascii=False).encode()
        return hashlib.sha256(blob).hexdigest()


_PROFILE_KEYS = [
    "name",
    "description",
    "threshold",
    "tags",
    "keywords",
    "exclude",
    "examples",
    "examples_file",
    "categories",
]


def _profile_error(path: Path, key: str, msg: str) -> ConfigError:
    return ConfigError(f"{path}: {key}: {msg}")


def load_profile(path: Path) -> Profile:
    data = _read_toml(path)
    for key in data:
        if key not in _PROFILE_KEYS:
            raise _profile_error(path, key, f"unknown key{_closest(key, _PROFILE_KEYS)}")
    name = data.get("name", path.stem)
    if not isinstance(name, str) or not name.strip():
        raise _profile_error(path, "name", "must be a non-empty string")
    if name != path.stem:
        raise _profile_error(path, "name", f"{name!r} must match the file name {path.stem!r}")
    desc = data.get("description")
    if not isinstance(desc, str) or not desc.strip():
        raise _profile_error(path, "description", "is required (prose describing the topic)")
    threshold = data.get("threshold", 70)
    if isinstance(threshold, bool) or not isinstance(threshold, int) or not 0 <= threshold <= 100:
        raise _profile_error(
            path, "threshold", f"must be a whole number from 0 to 100, got {threshold!r}"
        )
    tags = data.get("tags", {})
    if not isinstance(tags, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in tags.items()
    ):
        raise _profile_error(path, "tags", 'must be a table of tag = "one-line meaning"')
    keywords = data.get("keywords", [])
    if not isinstance(keywords, list) or not all(isinstance(k, str) for k in keywords):
        raise _profile_error(path, "keywords", "must be a list of strings")
    exclude = data.get("exclude", "")
    if not isinstance(exclude, str):
        raise _profile_error(path, "exclude", "must be a string")
    examples = data.get("examples", [])
    if not isinstance(examples, list) or not all(isinstance(k, str) for k in examples):
        raise _profile_error(path, "examples", "must be a list of arXiv ids")
    examples_file = data.get("examples_file")
    if examples_file is not None and not isinstance(examples_file, str):
        raise _profile_error(path, "examples_file", "must be a path string")
    cats = data.get("categories", [])
    if not isinstance(cats, list) or not all(isinstance(c, str) for c in cats):
        raise _profile_error(
            path, "categories", 'must be a list of arXiv categories, e.g. ["cs.AR"]'
        )
    from arxivfilter.taxonomy import canonical_categories

    try:
        categories = canonical_categories(cats, where="categories")
    except UsageError as exc:
        raise _profile_error(path, "categories", str(exc).removeprefix("categories: ")) from None
    return Profile(
        name=name,
        description=" ".join(desc.split()),
        threshold=threshold,
        tags=dict(tags),
        keywords=tuple(keywords),
        exclude=" ".join(exclude.split()),
        examples=tuple(examples),
        examples_file=examples_file,
        path=path,
        raw=data,
        categories=tuple(categories),
    )


def profile_paths() -> dict[str, Path]:
    """NAME -> file: shipped profiles, overridden by ``config/profiles/`` in the working dir."""
    found: dict[str, Path] = {}
    for folder in (defaults_dir("config") / "profiles", Path("config/profiles")):
        if folder.is_dir():
            for p in sorted(folder.glob("*.toml")):
                found[p.stem] = p
    return dict(sorted(found.items()))


def load_profiles(names: list[str] | None = None) -> list[Profile]:
    """The named profiles (all when empty), validated. Unknown names are exit 2."""
    paths = profile_paths()
    if names:
        missing = [n for n in names if n not in paths]
        if missing:
            known = ", ".join(paths) or "none"
            raise UsageError(
                f"unknown profile {missing[0]!r}{_closest(missing[0], list(paths))}; known: {known}"
            )
        selected = {n: paths[n] for n in dict.fromkeys(names)}
    else:
        selected = paths
    if not selected:
        raise ConfigError("no profiles found: add config/profiles/NAME.toml")
    return [load_profile(p) for p in selected.values()]


def prompt_path(name: str) -> Path:
    """A prompt template: ``prompts/NAME`` in the working directory, else the shipped one."""
    local = Path("prompts") / name
    if local.is_file():
        return local
    return defaults_dir("prompts") / name

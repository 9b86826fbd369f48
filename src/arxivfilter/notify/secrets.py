"""The notify channels' secrets, which come from the environment only: their variables, and
what the log masker hides. Light on purpose: every command's logging set-up reads it."""

from __future__ import annotations

from collections.abc import Mapping

from arxivfilter.config import Settings, env_value

SMTP_ENV = {
    "host": "ARXIVFILTER_SMTP_HOST",
    "port": "ARXIVFILTER_SMTP_PORT",
    "user": "ARXIVFILTER_SMTP_USER",
    "password": "ARXIVFILTER_SMTP_PASSWORD",
    "sender": "ARXIVFILTER_SMTP_FROM",
    "tls": "ARXIVFILTER_SMTP_TLS",
}


def smtp_secrets(env: Mapping[str, str] | None = None) -> list[str]:
    """The SMTP password and user."""
    return [env_value(SMTP_ENV["password"], env) or "", env_value(SMTP_ENV["user"], env) or ""]


def webhook_secrets(settings: Settings, env: Mapping[str, str] | None = None) -> list[str]:
    """Each configured webhook's URL (it carries its token)."""
    return [env_value(w.url_env, env) or "" for w in settings.notify.webhooks]

"""SMTP settings from the environment only, and one reusable connection that sends.

The settings (host, port, user, password, from-address, TLS mode) are read from
``ARXIVFILTER_SMTP_*`` variables at send time and never stored, logged or put in an error.
``ARXIVFILTER_SMTP_TLS`` is ``starttls`` (default, port 587), ``tls`` (implicit TLS, port
465) or ``none`` (port 25; refused with a password unless the host is loopback). The server
certificate is always verified (``SSL_CERT_FILE`` names a private CA); a STARTTLS server
that does not offer STARTTLS is refused, never downgraded.

Failures are sorted by what they mean for the run: :class:`SmtpFatal` stops all sending
(authentication refused, server unreachable, TLS refused, sender refused), while
:class:`SendFailed` concerns one message (``bad_address`` for a recipient the server
refuses for good; otherwise temporary or cut off: tried again on the next run).
"""

from __future__ import annotations

import ipaddress
import smtplib
import socket
import ssl
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import parseaddr

from arxivfilter.config import env_value
from arxivfilter.errors import ConfigError
from arxivfilter.notify.secrets import SMTP_ENV
from arxivfilter.notify.secrets import smtp_secrets as smtp_secrets  # re-exported

TLS_MODES = {"starttls": 587, "tls": 465, "none": 25}
ENV = SMTP_ENV


@dataclass(frozen=True)
class SmtpConfig:
    host: str
    port: int
    sender: str
    tls: str = "starttls"
    user: str = ""
    password: str = ""

    def __repr__(self) -> str:  # never the password, not even in a traceback's locals
        return f"SmtpConfig(host={self.host!r}, port={self.port}, tls={self.tls!r})"


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def smtp_config(env: Mapping[str, str] | None = None) -> SmtpConfig:
    """The SMTP settings from the environment (empty = unset). ConfigError (exit 2)."""
    get = {k: (env_value(v, env) or "").strip() for k, v in ENV.items()}
    get["password"] = env_value(ENV["password"], env) or ""  # kept as typed
    missing = [ENV[k] for k in ("host", "sender") if not get[k]]
    if missing:
        raise ConfigError(
            f"e-mail subscribers are configured but {' and '.join(missing)} "
            f"{'is' if len(missing) == 1 else 'are'} not set"
        )
    tls = (get["tls"] or "starttls").lower()
    if tls not in TLS_MODES:
        raise ConfigError(f"{ENV['tls']}: {get['tls']!r} is not one of starttls, tls, none")
    port_text = get["port"] or str(TLS_MODES[tls])
    if not port_text.isdigit() or not 0 < int(port_text) < 65536:
        raise ConfigError(f"{ENV['port']}: {get['port']!r} is not a port number")
    _name, addr = parseaddr(get["sender"])
    if "@" not in addr:
        raise ConfigError(f"{ENV['sender']}: {get['sender']!r} is not an e-mail address")
    if bool(get["user"]) != bool(get["password"]):
        raise ConfigError(f"{ENV['user']} and {ENV['password']} are set together or not at all")
    if tls == "none" and get["password"] and not _loopback(get["host"]):
        raise ConfigError(
            f"{ENV['tls']}=none would send the password in clear to {get['host']}: "
            "use starttls or tls"
        )
    return SmtpConfig(
        host=get["host"],
        port=int(port_text),
        sender=get["sender"],
        tls=tls,
        user=get["user"],
        password=get["password"],
    )


class SmtpFatal(Exception):
    """Stops all sending; ``exit_code`` 3 (server refused or unreachable) or 2 (config)."""

    def __init__(self, message: str, exit_code: int = 3) -> None:
        super().__init__(message)
        self.exit_code = exit_code


class SendFailed(Exception):
    """One message was not accepted; ``bad_address`` when the recipient is refused for good."""

    def __init__(self, message: str, *, bad_address: bool = False) -> None:
        super().__init__(message)
        self.bad_address = bad_address


def _reply(code: int | None, text: bytes | str | None) -> str:
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    return " ".join(f"{code or ''} {text or ''}".split())[:300]


class SmtpSender:
    """One SMTP connection, opened on the first message and reopened after a drop."""

    def __init__(
        self,
        config: SmtpConfig,
        *,
        timeout: float = 30.0,
        deadline: float = 120.0,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        self.config = config
        self.timeout = timeout
        self.deadline = deadline
        self.context = ssl_context or ssl.create_default_context()
        self._smtp: smtplib.SMTP | None = None

    # ------------------------------------------------------------------ connection

    def _connect(self) -> smtplib.SMTP:
        cfg = self.config
        where = f"{cfg.host}:{cfg.port}"
        smtp: smtplib.SMTP
        try:
            if cfg.tls == "tls":
                smtp = smtplib.SMTP_SSL(
                    cfg.host, cfg.port, timeout=self.timeout, context=self.context
                )
            else:
                smtp = smtplib.SMTP(cfg.host, cfg.port, timeout=self.timeout)
            with self._watch(smtp):
                smtp.ehlo()
                if cfg.tls == "starttls":
                    if not smtp.has_extn("starttls"):
                        smtp.close()
                        raise SmtpFatal(
                            f"SMTP server {where} does not offer STARTTLS "
                            "(set ARXIVFILTER_SMTP_TLS=tls for implicit TLS)"
                        )
                    smtp.starttls(context=self.context)
                    smtp.ehlo()
                if cfg.user:
                    smtp.login(cfg.user, cfg.password)
        except SmtpFatal:
            raise
        except smtplib.SMTPAuthenticationError as exc:
            raise SmtpFatal(
                f"SMTP server {where} refused the login for the configured user: "
                f"{_reply(exc.smtp_code, exc.smtp_error)}"
            ) from None
        except smtplib.SMTPNotSupportedError:
            raise SmtpFatal(
                f"SMTP server {where} offers no AUTH (ARXIVFILTER_SMTP_USER is set)"
            ) from None
        except ssl.SSLError as exc:
            raise SmtpFatal(f"TLS with SMTP server {where} failed: {exc.reason or exc}") from None
        except smtplib.SMTPResponseException as exc:
            raise SmtpFatal(
                f"SMTP server {where} refused the session: {_reply(exc.smtp_code, exc.smtp_error)}"
            ) from None
        except (smtplib.SMTPException, OSError) as exc:
            raise SmtpFatal(
                f"SMTP server {where} is unreachable: {type(exc).__name__}: {exc}"
            ) from None
        return smtp

    @contextmanager
    def _watch(self, smtp: smtplib.SMTP) -> Iterator[None]:
        """A total deadline: a server that drips bytes is cut off after ``deadline`` s."""

        def cut() -> None:
            sock = smtp.sock
            if sock is not None:
                with suppress(OSError):
                    socket.socket.shutdown(sock, socket.SHUT_RDWR)

        timer = threading.Timer(self.deadline, cut)
        timer.daemon = True
        timer.start()
        try:
            yield
        finally:
            timer.cancel()

    def close(self) -> None:
        if self._smtp is not None:
            try:
                self._smtp.quit()
            except (smtplib.SMTPException, OSError):
                self._smtp.close()
            self._smtp = None

    def _drop(self) -> None:
        if self._smtp is not None:
            with suppress(OSError):
                self._smtp.close()
            self._smtp = None

    # ------------------------------------------------------------------ sending

    def send(self, msg: EmailMessage) -> None:
        """Send one message; SendFailed for this message, SmtpFatal to stop."""
        if self._smtp is None:
            self._smtp = self._connect()
        smtp = self._smtp
        try:
            with self._watch(smtp):
                refused = smtp.send_message(msg)
        except smtplib.SMTPRecipientsRefused as exc:
            code, text = next(iter(exc.recipients.values()), (None, b""))
            self._reset()
            raise SendFailed(
                f"the server refused the recipient: {_reply(code, text)}",
                bad_address=code is not None and 500 <= code < 600,
            ) from None
        except smtplib.SMTPSenderRefused as exc:
            self._reset()
            permanent = 500 <= exc.smtp_code < 600
            raise SmtpFatal(
                f"the server refused the sender {self.config.sender}"
                f"{' (check ARXIVFILTER_SMTP_FROM)' if permanent else ''}: "
                f"{_reply(exc.smtp_code, exc.smtp_error)}",
                exit_code=2 if permanent else 3,
            ) from None
        except smtplib.SMTPNotSupportedError:
            self._reset()
            raise SendFailed(
                "the address is not ASCII and the server does not offer SMTPUTF8",
                bad_address=True,
            ) from None
        except smtplib.SMTPDataError as exc:
            self._reset()
            raise SendFailed(
                f"the server refused the message: {_reply(exc.smtp_code, exc.smtp_error)}"
            ) from None
        except smtplib.SMTPServerDisconnected:
            self._drop()
            raise SendFailed(
                "the server closed the connection before accepting the message"
            ) from None
        except smtplib.SMTPResponseException as exc:
            self._drop()
            raise SendFailed(
                f"the server answered {_reply(exc.smtp_code, exc.smtp_error)}"
            ) from None
        except (smtplib.SMTPException, OSError) as exc:
            self._drop()
            raise SendFailed(f"sending failed: {type(exc).__name__}: {exc}") from None
        if refused:  # some recipients refused (we send to one, so this is that one)
            code, text = next(iter(refused.values()))
            raise SendFailed(
                f"the server refused the recipient: {_reply(code, text)}",
                bad_address=500 <= code < 600,
            )

    def _reset(self) -> None:
        """RSET after a refused transaction so the connection can carry the next message."""
        if self._smtp is None:
            return
        try:
            self._smtp.rset()
        except (smtplib.SMTPException, OSError):
            self._drop()

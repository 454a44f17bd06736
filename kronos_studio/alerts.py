"""Alerts delivered: a message to a webhook (a JSON POST whose ``text`` field is the message, the shape of Slack's
incoming webhooks, the event's fields beside it) or by e-mail (SMTP, ``smtplib``), retried with exponential
backoff, each delivery reported with its attempts and last error. Nothing here knows what made the alert (the
watch's rules, ``desk.watch``) nor where deliveries are kept (the ledger's ``watch_alerts``).

No secret reaches a log, a message or a kept error: a webhook's URL is shown as ``redact.masked_url`` (its host;
the token in its path never), the SMTP password is read from the environment variable the channel names at the
moment of sending and never stored, and every error's words are stripped of both (``redact.without_secrets``).
"""
from __future__ import annotations

import json
import os
import smtplib
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from email.message import EmailMessage

from kronos_studio.redact import masked_url, without_secrets

WEBHOOK, EMAIL = "webhook", "email"  # the channels
USER_AGENT = "kronos-studio-watch"


@dataclass(frozen=True)
class Retry:
    """How a delivery is retried: ``attempts`` in all, waiting ``backoff_s``, then ``factor`` times longer each
    time; each attempt given ``timeout_s``."""

    attempts: int = 4
    backoff_s: float = 1.0
    factor: float = 2.0
    timeout_s: float = 10.0

    def waits(self) -> list[float]:
        """The waits between the attempts."""
        return [self.backoff_s * self.factor ** i for i in range(max(0, self.attempts - 1))]


@dataclass(frozen=True)
class Webhook:
    url: str

    @property
    def target(self) -> str:
        return masked_url(self.url)

    def secrets(self) -> tuple[str, ...]:
        return (self.url,)


@dataclass(frozen=True)
class Email:
    """An SMTP server and the addresses to write to; the password is read from the environment variable
    ``password_env`` when sending (None: no login)."""

    host: str
    to: tuple[str, ...]
    port: int = 25
    sender: str = "kronos-studio@localhost"
    user: str | None = None
    password_env: str | None = None
    starttls: bool = False

    @property
    def target(self) -> str:
        return ", ".join(self.to)

    def password(self) -> str | None:
        return None if self.password_env is None else os.environ.get(self.password_env)

    def secrets(self) -> tuple[str, ...]:
        return tuple(s for s in (self.password(),) if s)


@dataclass(frozen=True)
class Message:
    """One alert: the rule that raised it, the event it is about (a key: one alert per event and target), the
    series (if one), its text, and its facts as JSON (the webhook's other fields)."""

    rule: str
    event: str
    text: str
    series: str | None = None
    facts: dict = field(default_factory=dict)

    def payload(self) -> dict:
        return {"text": self.text, "rule": self.rule, "event": self.event, "series": self.series, **self.facts}


@dataclass(frozen=True)
class Delivery:
    channel: str
    target: str  # without its secret
    sent: bool
    attempts: int
    error: str | None = None  # the last attempt's, without secrets


class PermanentError(Exception):
    """A refusal retrying will not change (a 4xx answer but 408 and 429, a login refused)."""


def _post(hook: Webhook, message: Message, timeout: float) -> None:
    body = json.dumps(message.payload(), default=str).encode()
    request = urllib.request.Request(hook.url, body, {"Content-Type": "application/json", "User-Agent": USER_AGENT},
                                     method="POST")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as answer:
            answer.read()
    except urllib.error.HTTPError as e:
        if 400 <= e.code < 500 and e.code not in (408, 429):
            raise PermanentError(f"HTTP {e.code} {e.reason}") from None
        raise OSError(f"HTTP {e.code} {e.reason}") from None


def _mail(email: Email, message: Message, timeout: float) -> None:
    mail = EmailMessage()
    mail["Subject"] = f"[kronos watch] {message.text.splitlines()[0][:150]}"
    mail["From"], mail["To"] = email.sender, ", ".join(email.to)
    mail.set_content(message.text + "\n\n" + json.dumps(message.payload(), indent=2, default=str))
    try:
        with smtplib.SMTP(email.host, email.port, timeout=timeout) as smtp:
            if email.starttls:
                smtp.starttls()
            if email.user:
                smtp.login(email.user, email.password() or "")
            smtp.send_message(mail)
    except (smtplib.SMTPAuthenticationError, smtplib.SMTPRecipientsRefused, smtplib.SMTPSenderRefused) as e:
        raise PermanentError(type(e).__name__) from None


def deliver(message: Message, channel, retry: Retry = Retry(), sleep: Callable[[float], None] = time.sleep
            ) -> Delivery:
    """``message`` sent to ``channel`` (a ``Webhook`` or an ``Email``), tried ``retry.attempts`` times with its
    backoff (``sleep``: how a wait is waited, a test's records it) unless a refusal is permanent."""
    kind = WEBHOOK if isinstance(channel, Webhook) else EMAIL
    send = _post if kind == WEBHOOK else _mail
    waits, error, attempts = retry.waits(), None, 0
    for attempt in range(max(1, retry.attempts)):
        attempts = attempt + 1
        try:
            send(channel, message, retry.timeout_s)
            return Delivery(kind, channel.target, True, attempts)
        except PermanentError as e:
            error = str(e)
            break
        except (TimeoutError, OSError, smtplib.SMTPException, ValueError) as e:
            error = f"{type(e).__name__}: {e}"
        if attempt < len(waits):
            sleep(waits[attempt])
    return Delivery(kind, channel.target, False, attempts, without_secrets(error or "", channel.secrets()))

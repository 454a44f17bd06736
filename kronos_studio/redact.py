"""Secrets kept out of what the studio says: a webhook's URL shown as its host (``masked_url``), a delivery
error's words without the URLs and passwords it was given (``without_secrets``), before they reach a log, a
message or the ledger. (A server's paths are kept from its clients by the service: ``kronos_studio.service.redact``.)"""
from __future__ import annotations

from urllib.parse import urlsplit


def masked_url(url: str) -> str:
    """``url`` without what may be its secret (a webhook's token lies in its path or query, a password in its user
    part): the scheme, host and port, then '/…' ('https://hooks.slack.com/services/T0/B0/XYZ' ->
    'https://hooks.slack.com/…'); what a log, a message or an answer may say of where an alert went."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        return "…"
    if not parts.scheme or not host:
        return "…"
    rest = "/…" if (parts.path not in ("", "/") or parts.query or parts.fragment) else ""
    return f"{parts.scheme}://{host}{port}{rest}"


def without_secrets(text: str, secrets) -> str:
    """``text`` with each of ``secrets`` (a URL is replaced by its ``masked_url``, any other string by '***')
    taken out: an error's words about a delivery, before they reach a log or the ledger."""
    for secret in sorted((s for s in secrets if s), key=len, reverse=True):
        text = text.replace(secret, masked_url(secret) if "://" in secret else "***")
    return text

"""TLS for callscope's own listeners: the RingCX gRPC listener (spec §11.4: TLS only),
with ``http_tls`` the HTTP listener (``https://``, ``wss://``), and with ``sip_tls_port``
SIP over TLS for supervisors' phones.

Both read ``tls_cert`` (a PEM chain, leaf first) and ``tls_key`` (its PEM private key) at
build time; a file that cannot be read or does not match is a :class:`ConfigError` naming
the setting, before anything listens.
"""

from __future__ import annotations

import ssl
from pathlib import Path

from callscope.config import Settings
from callscope.errors import ConfigError

__all__ = ["key_pair", "server_ssl_context", "sip_ssl_context"]


def key_pair(settings: Settings) -> tuple[bytes, bytes] | None:
    """``(private key, certificate chain)`` as PEM bytes, or None when TLS is off."""
    if not settings.tls_cert:
        return None
    try:
        return Path(settings.tls_key).read_bytes(), Path(settings.tls_cert).read_bytes()
    except OSError as exc:
        raise ConfigError(f"tls_cert / tls_key cannot be read: {exc}") from exc


def server_ssl_context(settings: Settings) -> ssl.SSLContext | None:
    """The HTTP listener's TLS context (TLS 1.2 or newer), or None unless ``http_tls``."""
    if not settings.http_tls:
        return None
    return _context(settings)


def sip_ssl_context(settings: Settings) -> ssl.SSLContext | None:
    """The SIP-over-TLS listener's context, or None unless ``sip_tls_port``."""
    return _context(settings) if settings.sip_tls_port else None


def _context(settings: Settings) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    try:
        context.load_cert_chain(settings.tls_cert, settings.tls_key)
    except (OSError, ssl.SSLError) as exc:
        raise ConfigError(f"tls_cert / tls_key: {exc}") from exc
    return context

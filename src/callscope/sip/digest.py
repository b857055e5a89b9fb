"""Digest authentication, the registrar's side (RFC 2617 / RFC 7616, MD5, ``qop=auth``).

Sans-I/O. A credential is kept as HA1 = MD5(username:realm:password) — the only form from
which a digest response can be checked — never as the password. Nonces are stateless: a
timestamp signed with the server's key, valid for :data:`NONCE_TTL_S`.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass, field
from typing import Final

from aiosipua import parse_auth

__all__ = ["NONCE_TTL_S", "Digest", "DigestError", "challenge", "ha1", "response"]

NONCE_TTL_S: Final = 300


class DigestError(ValueError):
    """An Authorization header that cannot be checked (the message says why)."""


def _md5(text: str) -> str:
    return hashlib.md5(text.encode(), usedforsecurity=False).hexdigest()


def ha1(username: str, realm: str, password: str) -> str:
    """The stored form of a SIP password."""
    return _md5(f"{username}:{realm}:{password}")


def response(
    ha1_hex: str, method: str, uri: str, nonce: str, nc: str = "", cnonce: str = "", qop: str = ""
) -> str:
    """The digest response a client computes (``qop=auth``, or none: RFC 2069)."""
    ha2 = _md5(f"{method}:{uri}")
    if qop:
        return _md5(f"{ha1_hex}:{nonce}:{nc}:{cnonce}:{qop}:{ha2}")
    return _md5(f"{ha1_hex}:{nonce}:{ha2}")


@dataclass(frozen=True, slots=True)
class Digest:
    """The realm, and the key that signs its nonces."""

    realm: str
    key: bytes
    #: the highest nonce count accepted per nonce: a replayed Authorization is stale
    used: dict[str, int] = field(default_factory=dict, compare=False)

    @classmethod
    def new(cls, realm: str) -> Digest:
        return cls(realm, secrets.token_bytes(32))

    def nonce(self, now: float | None = None) -> str:
        """A new nonce: its time, a random part (each challenge its own), their signature."""
        stamp = f"{int(time.time() if now is None else now):x}.{secrets.token_hex(6)}"
        return f"{stamp}.{self._sign(stamp)}"

    def _sign(self, stamp: str) -> str:
        return hmac.new(self.key, stamp.encode(), hashlib.sha256).hexdigest()[:24]

    def fresh(self, nonce: str, now: float | None = None) -> bool:
        """Whether ``nonce`` is one of ours and not older than :data:`NONCE_TTL_S`."""
        stamp, _, sig = nonce.rpartition(".")
        if not hmac.compare_digest(sig, self._sign(stamp)):
            return False
        try:
            issued = int(stamp.partition(".")[0], 16)
        except ValueError:
            return False
        return 0 <= (time.time() if now is None else now) - issued <= NONCE_TTL_S

    def check(self, header: str, method: str, ha1_hex: str, now: float | None = None) -> bool:
        """Whether ``header`` (an Authorization value) proves the password of ``ha1_hex``."""
        return self.verify(header, method, ha1_hex, now) == "ok"

    def verify(self, header: str, method: str, ha1_hex: str, now: float | None = None) -> str:
        """``ok``; ``stale`` (a nonce not ours, too old, or a nonce count used before: a
        replay); or ``wrong`` (another password).

        Raises:
            DigestError: not a Digest MD5 header with the fields it needs, or another realm.
        """
        params = credentials(header)
        if params["realm"] != self.realm:
            raise DigestError(f"realm {params['realm']!r}: this registrar is {self.realm!r}")
        nonce = params["nonce"]
        if not self.fresh(nonce, now):
            return "stale"
        given = params["response"].lower()
        if not hmac.compare_digest(self._expected(params, method, ha1_hex), given):
            return "wrong"
        try:
            count = int(params.get("nc", "0"), 16)
        except ValueError as exc:
            raise DigestError("nc must be 8 hex digits") from exc
        if count <= self.used.get(nonce, -1):
            return "stale"
        if len(self.used) > 10_000:  # forget nonces that expired
            for old in [n for n in self.used if not self.fresh(n, now)]:
                del self.used[old]
        self.used[nonce] = count
        return "ok"

    @staticmethod
    def _expected(params: dict[str, str], method: str, ha1_hex: str) -> str:
        return response(
            ha1_hex,
            method,
            params["uri"],
            params["nonce"],
            params.get("nc", ""),
            params.get("cnonce", ""),
            params.get("qop", ""),
        )


def credentials(header: str) -> dict[str, str]:
    """The fields of a Digest Authorization header.

    Raises:
        DigestError: another scheme or algorithm, a field missing, or a qop other than auth.
    """
    parsed = parse_auth(header, credentials=True)
    if parsed.scheme.lower() != "digest":
        raise DigestError(f"scheme {parsed.scheme!r}: use Digest")
    params = parsed.params
    missing = [k for k in ("username", "realm", "nonce", "uri", "response") if k not in params]
    if missing:
        raise DigestError(f"Authorization lacks {', '.join(missing)}")
    if params.get("algorithm", "MD5").upper() != "MD5":
        raise DigestError(f"algorithm {params['algorithm']!r}: use MD5")
    qop = params.get("qop", "")
    if qop and (qop != "auth" or "nc" not in params or "cnonce" not in params):
        raise DigestError("qop must be auth, with nc and cnonce")
    return params


def challenge(digest: Digest, *, stale: bool = False) -> str:
    """A WWW-Authenticate value."""
    out = f'Digest realm="{digest.realm}", nonce="{digest.nonce()}", algorithm=MD5, qop="auth"'
    return out + (", stale=true" if stale else "")

"""Password hashing, token hashing and HS256 JWTs.

* Passwords: scrypt (RFC 7914) at N=2^17, r=8, p=1 with a per-password salt; verified in
  constant time. The stored string names its parameters (``scrypt$17$8$1$<salt>$<digest>``)
  so they can be raised later: :func:`needs_rehash` tells a login to store a stronger hash.
  The first format, ``scrypt$<salt>$<digest>``, is N=2^14 and still verifies.
  A test suite may lower N for the servers it starts through ``CALLSCOPE_TEST_SCRYPT_LOG2_N``
  (10-17; unset, as in production, means 2^17): hashes still name what they used.
  One hash needs 128·r·N bytes (128 MiB) and a few hundred ms of one core: callers run it in
  a thread pool (``hashlib.scrypt`` releases the GIL), never on the event loop.
* Client secrets and bearer tokens are high-entropy random strings: stored as SHA-256 hashes
  (a database dump yields nothing usable) and compared in constant time.
* JWT credentials (the jwt-bearer grant's assertion, spec §2.1) are HS256-signed (RFC 7519,
  through PyJWT) with a server key kept in the database, so every node verifies them. The
  algorithm list is pinned to HS256: ``alg: none`` and key-confusion tricks are refused.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final

import jwt

__all__ = [
    "SCRYPT_LOG2_N",
    "InvalidJwt",
    "hash_password",
    "hash_token",
    "jwt_decode",
    "jwt_encode",
    "needs_rehash",
    "new_secret",
    "verify_password",
    "verify_token_hash",
]

#: the cost of new hashes: N = 2^17, r = 8, p = 1 (OWASP's scrypt minimum is 2^17)
SCRYPT_LOG2_N: Final = 17
_R: Final = 8
_P: Final = 1
_DKLEN: Final = 32
#: the parameters of hashes stored as ``scrypt$<salt>$<digest>`` (before they were named)
_LEGACY_LOG2_N: Final = 14
#: what a stored string may ask for: a database row must not make a login allocate gigabytes
_MAX_LOG2_N: Final = 20
_MAX_R: Final = 16
_MAX_P: Final = 4
#: a test suite's lower cost of new hashes (its servers log in hundreds of times); never set
#: in production, where 2^17 is the floor
TEST_LOG2_N_ENV: Final = "CALLSCOPE_TEST_SCRYPT_LOG2_N"
_MIN_TEST_LOG2_N: Final = 10
_ALGORITHMS: Final = ["HS256"]
_MIN_KEY_BYTES: Final = 32  # RFC 7518 §3.2: an HS256 key at least as long as the hash


@dataclass(frozen=True, slots=True)
class _Scrypt:
    log2_n: int
    r: int
    p: int
    salt: bytes
    digest: bytes

    def derive(self, password: str) -> bytes:
        n = 1 << self.log2_n
        return hashlib.scrypt(
            password.encode(),
            salt=self.salt,
            n=n,
            r=self.r,
            p=self.p,
            dklen=len(self.digest),
            # OpenSSL refuses above maxmem (default 32 MiB); 128·r·N is the big array,
            # the slack covers its small ones
            maxmem=128 * self.r * (n + self.p + 2) + (1 << 20),
        )

    @property
    def weaker_than_current(self) -> bool:
        return (self.log2_n, self.r, self.p) < (_log2_n(), _R, _P)


def _log2_n() -> int:
    """The N of new (and dummy) hashes: 2^17, or a test suite's lower one."""
    raw = os.environ.get(TEST_LOG2_N_ENV)
    if not raw:
        return SCRYPT_LOG2_N
    try:
        log2_n = int(raw)
    except ValueError:
        log2_n = 0
    if not _MIN_TEST_LOG2_N <= log2_n <= SCRYPT_LOG2_N:
        raise ValueError(
            f"{TEST_LOG2_N_ENV}={raw!r}: use {_MIN_TEST_LOG2_N}-{SCRYPT_LOG2_N}, or unset it "
            "(production)"
        )
    return log2_n


def new_secret(nbytes: int = 32) -> str:
    """A random URL-safe string of ``nbytes`` bytes that never starts with ``-``: ids and
    passwords made here are typed after an option on a command line (``--revoke ID``),
    where a leading dash reads as another option."""
    while True:
        value = secrets.token_urlsafe(nbytes)
        if not value.startswith("-"):
            return value


def hash_password(password: str) -> str:
    """A salted scrypt hash at the current parameters, as stored.

    Slow on purpose (hundreds of ms, 128 MiB): call it from a worker thread.
    """
    params = _Scrypt(_log2_n(), _R, _P, secrets.token_bytes(16), b"\0" * _DKLEN)
    digest = params.derive(password)
    return f"scrypt${params.log2_n}${_R}${_P}${params.salt.hex()}${digest.hex()}"


def _parse(stored: str | None) -> _Scrypt | None:
    """The parameters of a stored hash, or None when it is not one we can verify."""
    if not stored:
        return None
    parts = stored.split("$")
    try:
        if len(parts) == 3 and parts[0] == "scrypt":
            salt, digest = bytes.fromhex(parts[1]), bytes.fromhex(parts[2])
            return _Scrypt(_LEGACY_LOG2_N, 8, 1, salt, digest)
        if len(parts) == 6 and parts[0] == "scrypt":
            log2_n, r, p = int(parts[1]), int(parts[2]), int(parts[3])
            salt, digest = bytes.fromhex(parts[4]), bytes.fromhex(parts[5])
            if 1 <= log2_n <= _MAX_LOG2_N and 1 <= r <= _MAX_R and 1 <= p <= _MAX_P and digest:
                return _Scrypt(log2_n, r, p, salt, digest)
    except ValueError:
        return None
    return None


def verify_password(password: str, stored: str | None) -> bool:
    """Whether ``password`` matches the stored hash (either format).

    A missing or unreadable hash still costs one hash at the current parameters, so a
    missing account is not told apart by timing. Slow: call it from a worker thread.
    """
    params = _parse(stored)
    if params is None:
        _Scrypt(_log2_n(), _R, _P, b"\0" * 16, b"\0" * _DKLEN).derive(password)
        return False
    return hmac.compare_digest(params.derive(password), params.digest)


def needs_rehash(stored: str | None) -> bool:
    """True when a (verified) stored hash is weaker than what :func:`hash_password` makes."""
    params = _parse(stored)
    return params is not None and params.weaker_than_current


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def verify_token_hash(token: str, stored_hash: str) -> bool:
    return hmac.compare_digest(hash_token(token), stored_hash)


class InvalidJwt(ValueError):
    """The JWT is malformed, badly signed, expired or of the wrong kind (message: which).

    Attributes:
        expired: the JWT was valid but its ``exp`` has passed.
    """

    def __init__(self, message: str, *, expired: bool = False) -> None:
        super().__init__(message)
        self.expired = expired


def _check_key(key: bytes) -> None:
    if len(key) < _MIN_KEY_BYTES:
        raise ValueError(f"an HS256 key needs at least {_MIN_KEY_BYTES} bytes")


def jwt_encode(claims: dict[str, Any], key: bytes) -> str:
    """Sign ``claims`` as an HS256 JWT (RFC 7519)."""
    _check_key(key)
    return jwt.encode(claims, key, algorithm="HS256")


def jwt_decode(
    token: str,
    key: bytes,
    *,
    audience: str | None = None,
    issuer: str | None = None,
    require: Sequence[str] = (),
) -> dict[str, Any]:
    """Verify an HS256 JWT and return its claims.

    ``exp``, when present, is always checked; ``audience`` and ``issuer``, when given, must
    match the ``aud`` and ``iss`` claims (which are then required); a token that carries an
    ``aud`` is refused when no ``audience`` is given. ``require`` names further claims that
    must be present.

    Raises:
        InvalidJwt: malformed, not HS256, wrongly signed, expired, for another audience or
            issuer, or lacking a required claim.
    """
    _check_key(key)
    needed = [*require, *(["aud"] if audience else []), *(["iss"] if issuer else [])]
    try:
        claims: dict[str, Any] = jwt.decode(
            token,
            key,
            algorithms=_ALGORITHMS,
            audience=audience,
            issuer=issuer,
            options={"require": needed},
        )
    except jwt.ExpiredSignatureError as exc:
        raise InvalidJwt("JWT has expired", expired=True) from exc
    except jwt.InvalidSignatureError as exc:
        raise InvalidJwt("JWT signature does not match") from exc
    except jwt.InvalidAlgorithmError as exc:
        raise InvalidJwt("unsupported JWT algorithm (HS256 expected)") from exc
    except jwt.MissingRequiredClaimError as exc:
        raise InvalidJwt(f"JWT lacks the {exc.claim!r} claim") from exc
    except jwt.InvalidAudienceError as exc:
        raise InvalidJwt("JWT is meant for another audience") from exc
    except jwt.InvalidIssuerError as exc:
        raise InvalidJwt("JWT is from another issuer") from exc
    except jwt.DecodeError as exc:
        raise InvalidJwt(f"not a well-formed JWT ({exc})") from exc
    except jwt.PyJWTError as exc:
        raise InvalidJwt(f"JWT refused ({exc})") from exc
    return claims

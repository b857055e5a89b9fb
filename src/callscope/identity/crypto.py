"""Password hashing, token hashing and HS256 JWTs, from the standard library only.

* Passwords: scrypt (n=2^14, r=8, p=1) with a per-password salt; verified in constant time.
* Client secrets and bearer tokens are high-entropy random strings: stored as SHA-256 hashes
  (a database dump yields nothing usable) and compared in constant time.
* JWT credentials (the jwt-bearer grant's assertion, spec §2.1) are HS256-signed with a
  server key kept in the database, so every node verifies them.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
from typing import Any

__all__ = [
    "InvalidJwt",
    "hash_password",
    "hash_token",
    "jwt_decode",
    "jwt_encode",
    "new_secret",
    "verify_password",
    "verify_token_hash",
]

_SCRYPT = {"n": 2**14, "r": 8, "p": 1, "dklen": 32}


def new_secret(nbytes: int = 32) -> str:
    return secrets.token_urlsafe(nbytes)


def hash_password(password: str) -> str:
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, **_SCRYPT)
    return f"scrypt${salt.hex()}${digest.hex()}"


def verify_password(password: str, stored: str | None) -> bool:
    if not stored or not stored.startswith("scrypt$"):
        # Spend the same work so a missing account is not told apart by timing.
        hashlib.scrypt(password.encode(), salt=b"\0" * 16, **_SCRYPT)
        return False
    _, salt_hex, digest_hex = stored.split("$", 2)
    digest = hashlib.scrypt(password.encode(), salt=bytes.fromhex(salt_hex), **_SCRYPT)
    return hmac.compare_digest(digest.hex(), digest_hex)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def verify_token_hash(token: str, stored_hash: str) -> bool:
    return hmac.compare_digest(hash_token(token), stored_hash)


class InvalidJwt(ValueError):
    """The JWT is malformed, badly signed or of the wrong kind."""


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def jwt_encode(claims: dict[str, Any], key: bytes) -> str:
    header = _b64(json.dumps({"alg": "HS256", "typ": "JWT"}, separators=(",", ":")).encode())
    body = _b64(json.dumps(claims, separators=(",", ":"), sort_keys=True).encode())
    signing_input = f"{header}.{body}".encode()
    return f"{header}.{body}.{_b64(hmac.new(key, signing_input, hashlib.sha256).digest())}"


def jwt_decode(token: str, key: bytes) -> dict[str, Any]:
    """Verify an HS256 JWT and return its claims.

    Raises:
        InvalidJwt: malformed, not HS256, or the signature does not match.
    """
    parts = token.split(".")
    if len(parts) != 3:
        raise InvalidJwt("not a JWT (expected three dot-separated parts)")
    try:
        header = json.loads(_unb64(parts[0]))
        claims = json.loads(_unb64(parts[1]))
        signature = _unb64(parts[2])
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidJwt("JWT parts are not base64url JSON") from exc
    if not isinstance(header, dict) or header.get("alg") != "HS256":
        raise InvalidJwt("unsupported JWT algorithm (HS256 expected)")
    expected = hmac.new(key, f"{parts[0]}.{parts[1]}".encode(), hashlib.sha256).digest()
    if not hmac.compare_digest(signature, expected):
        raise InvalidJwt("JWT signature does not match")
    if not isinstance(claims, dict):
        raise InvalidJwt("JWT claims are not an object")
    return claims

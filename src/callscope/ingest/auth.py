"""Ingest authentication: a stream proves a streaming profile's secret, and its call belongs
to that profile's account.

RingCX says only that a profile's ``secret`` "can be used for server-side validation" (spec
§11.2, §14.10); how it travels is our choice: header ``X-Streaming-Secret``, or
``Authorization: Bearer``, or the query parameter ``secret`` (discouraged: query strings end
up in proxies' logs; callscope never logs them). A two-way stream may also carry it as the
``secret`` custom parameter of its ``start``.

The rules:

* The secret alone finds the profiles that hold it (stored as a keyed scrypt hash, looked up
  by that hash), and they all belong to **one** account: a secret in use by another account's
  profile cannot be set (the profile API answers 409).
* What the stream says about itself (upgrade query, then Start metadata) must name one of
  those profiles: ``subaccountId``, ``productType``, ``productId``, and, when present,
  ``rcAccountId`` (the profile's account). A value the stream claims that the profile does
  not hold refuses the stream before anything is stored.
  A value given in both the query and the Start must be the same in both.
* The call is stored under the profile's account, never under an account the sender merely
  names. Without a secret, a stream is refused (401) unless the operator opted in to
  unauthenticated streams (``ingest_allow_unauthenticated``, for labs): such a call is marked
  unauthenticated, and no supervisor's audio is ever sent into it.
* Failures are counted per client address (the login throttle's address rule,
  callscope.identity.throttle): too many in a minute hold the address back (429 with
  ``Retry-After``) before any hash is computed, so guessing costs the server nothing.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections import OrderedDict
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Protocol

from callscope.errors import IngestRefused
from callscope.identity.throttle import LoginThrottle, Outcome
from callscope.store.models import StreamingProfile

__all__ = [
    "CLAIM_KEYS",
    "IngestAuth",
    "ProfileView",
    "SecretHasher",
    "StreamGrant",
    "disagreements",
]

logger = logging.getLogger("callscope.ingest")

#: what a stream says about its product and account, in the upgrade query or the Start
CLAIM_KEYS = ("subaccountId", "productType", "productId", "rcAccountId")
#: keys whose query and Start values must agree (the ones stored with the call)
AGREE_KEYS = (
    "callId", "sessionId", "ani", "dnis", "accountId", "subaccountId", "rcAccountId",
    "agentId", "productType", "productId",
)  # fmt: skip
MIN_SECRET_CHARS = 8
#: scrypt cost of a stream secret's hash: one hash per new secret seen (results are cached)
_SCRYPT = {"n": 2**14, "r": 8, "p": 1, "dklen": 32}


@dataclass(frozen=True, slots=True)
class ProfileView:
    """The parts of a streaming profile that authenticate a stream."""

    id: int
    account_id: str
    sub_account_id: str
    product_type: str
    product_id: int
    main_account_id: str | None

    @classmethod
    def of(cls, p: StreamingProfile) -> ProfileView:
        return cls(
            p.id,
            p.rc_account_id or "",
            p.sub_account_id,
            p.product_type,
            p.product_id,
            p.main_account_id,
        )

    def disagreement(self, claim: Mapping[str, object]) -> str | None:
        """The first claimed key this profile does not hold, or None."""
        held = {
            "subaccountId": self.sub_account_id,
            "productType": self.product_type,
            "productId": str(self.product_id),
            "rcAccountId": self.account_id,
        }
        for key in CLAIM_KEYS:
            value = _norm(key, claim.get(key))
            if value is None:
                continue
            if value != held[key]:
                return key
        return None


def _norm(key: str, value: object) -> str | None:
    """A claimed value as compared; None when not given. A value of the wrong type (an
    object, a list, a boolean) compares unequal to everything."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        return "\x00" + type(value).__name__
    text = str(value).strip()
    if not text:
        return None
    return text.upper() if key == "productType" else text


def disagreements(query: Mapping[str, object], start: Mapping[str, object]) -> list[str]:
    """Keys given in both the upgrade query and the Start metadata with different values."""
    out = []
    for key in AGREE_KEYS:
        a, b = _norm(key, query.get(key)), _norm(key, start.get(key))
        if a is not None and b is not None and a != b:
            out.append(key)
    return out


@dataclass(frozen=True, slots=True)
class StreamGrant:
    """What a stream's secret let it do: stream for one of ``candidates`` (all of one
    account). No candidates: an unauthenticated stream (only with the operator's opt-in)."""

    candidates: tuple[ProfileView, ...] = ()

    @property
    def authenticated(self) -> bool:
        return bool(self.candidates)

    def narrow(self, claim: Mapping[str, object]) -> StreamGrant:
        """Keep the profiles the claim agrees with.

        Raises:
            IngestRefused: the claim names a product or account none of them holds.
        """
        if not self.candidates:
            return self
        kept = tuple(p for p in self.candidates if p.disagreement(claim) is None)
        if not kept:
            keys = sorted({k for p in self.candidates if (k := p.disagreement(claim))})
            raise IngestRefused(
                403,
                "CMN-401",
                "The stream's "
                + ", ".join(keys)
                + " do not match the streaming profile its secret belongs to",
                "claim_mismatch",
            )
        return StreamGrant(kept)

    def profile(self) -> ProfileView | None:
        """The one profile the stream streams for; None when unauthenticated.

        Raises:
            IngestRefused: the stream has not said enough to tell its profiles apart.
        """
        if not self.candidates:
            return None
        if len(self.candidates) > 1:
            raise IngestRefused(
                403,
                "CMN-401",
                "This secret belongs to several streaming profiles: the stream must name its "
                "subaccountId, productType and productId",
                "claim_ambiguous",
            )
        return self.candidates[0]


class SecretHasher:
    """Stream secrets as stored: scrypt keyed by the installation's ingest salt, so a
    database dump alone does not give them away and a look-up by hash finds the profile.

    Hashes are computed off the event loop on one thread of their own (a flood of guesses
    cannot take every core), once per secret however many streams present it at the same
    moment, and the last ``cache_size`` results are kept (a pure function of the secret).
    """

    def __init__(self, salt: bytes = b"", *, cache_size: int = 4096) -> None:
        #: the installation's ingest salt; the app sets it at start-up (ProfileRepository)
        self.salt = salt
        self.cache_size = cache_size
        #: sha256(secret) → hash (bounded, least recently used dropped first)
        self._known: OrderedDict[bytes, str] = OrderedDict()
        self._pending: dict[bytes, asyncio.Future[str]] = {}
        self._executor: ThreadPoolExecutor | None = None

    def hash_now(self, secret: str) -> str:
        if not self.salt:
            raise RuntimeError("the ingest salt is not loaded yet")
        digest = hashlib.scrypt(secret.encode(), salt=self.salt, **_SCRYPT)
        return "v1$" + digest.hex()

    async def hash(self, secret: str) -> str:
        """The stored form of ``secret``."""
        key = hashlib.sha256(secret.encode()).digest()
        known = self._known.get(key)
        if known is not None:
            self._known.move_to_end(key)
            return known
        pending = self._pending.get(key)
        if pending is None:
            if self._executor is None:
                self._executor = ThreadPoolExecutor(1, thread_name_prefix="callscope-secrets")
            loop = asyncio.get_running_loop()
            pending = loop.run_in_executor(self._executor, self.hash_now, secret)
            self._pending[key] = pending
            try:
                hashed = await asyncio.shield(pending)
            finally:
                self._pending.pop(key, None)
            self._known[key] = hashed
            while len(self._known) > self.cache_size:
                self._known.popitem(last=False)
            return hashed
        return await asyncio.shield(pending)

    def close(self) -> None:
        """Stop the hashing thread; it is gone when this returns (a hash under way, one scrypt,
        is the longest wait), so a stopped server leaves no thread behind."""
        if self._executor is not None:
            self._executor.shutdown(wait=True, cancel_futures=True)
            self._executor = None


class ProfileLookup(Protocol):
    """What :class:`IngestAuth` needs of the profile store."""

    async def by_secret_hash(self, secret_hash: str) -> list[StreamingProfile]: ...


class IngestAuth:
    """Decides, per stream, which profile and account it streams for."""

    def __init__(
        self,
        profiles: ProfileLookup,
        hasher: SecretHasher,
        *,
        allow_unauthenticated: bool,
        throttle: LoginThrottle,
    ) -> None:
        self.profiles = profiles
        self.hasher = hasher
        self.allow_unauthenticated = allow_unauthenticated
        self.throttle = throttle

    def check_peer(self, peer: str) -> None:
        """Refuse (429) an address held back after too many failures."""
        self._admit(peer)
        self.throttle.done(peer, None, Outcome.OTHER)

    def _admit(self, peer: str) -> None:
        """Start an attempt of ``peer`` (429 when it is held back); end it with ``done``."""
        refusal = self.throttle.admit(peer, None)
        if refusal is not None:
            raise IngestRefused(
                429,
                "CMN-301",
                "Request rate exceeded: too many refused streams from this address",
                "rate_limited",
                retry_after_s=refusal.retry_after_s,
            )

    async def authenticate(
        self, secret: str | None, claim: Mapping[str, object], peer: str
    ) -> StreamGrant:
        """The grant of a stream presenting ``secret`` and saying ``claim`` about itself.

        Raises:
            IngestRefused: 401 no secret (and unauthenticated streams are not allowed), 403 a
                wrong secret or a claim its profiles do not hold, 429 the address is held back.
        """
        self._admit(peer)
        outcome = Outcome.FAILURE
        try:
            grant = await self._authenticate(secret, claim)
            outcome = Outcome.SUCCESS
            return grant
        finally:
            self.throttle.done(peer, None, outcome)

    async def _authenticate(self, secret: str | None, claim: Mapping[str, object]) -> StreamGrant:
        if not secret:
            if self.allow_unauthenticated:
                return StreamGrant()
            raise IngestRefused(
                401,
                "OAU-123",
                "A stream must present its streaming profile's secret: in the "
                "X-Streaming-Secret header or as Authorization: Bearer (a two-way stream: or "
                "as the secret custom parameter of its start)",
                "secret_missing",
            )
        hashed = await self.hasher.hash(secret)
        rows = await self.profiles.by_secret_hash(hashed)
        accounts = {p.rc_account_id for p in rows}
        if not rows or len(accounts) != 1:
            raise IngestRefused(
                403, "CMN-401", "The presented streaming secret is not valid", "secret_wrong"
            )
        return StreamGrant(tuple(ProfileView.of(p) for p in rows)).narrow(claim)

    def settle(
        self, grant: StreamGrant, query: Mapping[str, object], start: Mapping[str, object]
    ) -> ProfileView | None:
        """At Start: the query and the Start metadata agree, and name one profile of the grant.

        Raises:
            IngestRefused: they disagree, or the stream's profile is still not known.
        """
        differ = disagreements(query, start)
        if differ:
            raise IngestRefused(
                403,
                "CMN-401",
                "The upgrade query and the Start metadata disagree on " + ", ".join(differ),
                "claim_mismatch",
            )
        merged = {**{k: v for k, v in start.items() if v is not None}, **query}
        return grant.narrow(merged).profile()

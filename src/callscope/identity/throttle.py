"""Login rate limiting: failures per username and per client address, sans I/O.

The OAuth token endpoint (spec §2.1) asks :meth:`LoginThrottle.admit` before a password or
JWT grant runs and tells :meth:`LoginThrottle.done` how it ended. A refused attempt costs a
dictionary lookup: no database, no scrypt, so a guesser gains nothing by sending more.

* **Per username** (as typed, case-folded; ``<account id>*<extension number>`` and the email
  of one user are two names): ``max_failures_per_user`` failed grants within
  ``user_window_s`` lock the name for ``lockout_s``; each further lockout doubles, up to
  ``lockout_max_s``. The doubling is forgotten after ``lockout_max_s`` without a failure.
  A successful login resets the name. While locked, even the right password is refused.
* **Per client address**: ``max_failures_per_ip`` failed grants within ``ip_window_s`` hold
  the address back until the oldest of them leaves the window. A success does not reset
  it (one valid account must not buy a guesser more tries at others).
* **Attempts in progress** count as failures once a key has failed at all, so parallel
  guesses cannot overshoot the limit; a user who has not failed may log in concurrently.

State lives in this process's memory: it is per node and is lost on restart. With N nodes
behind a load balancer a guesser gets up to N times the budget. Both maps are bounded
(``max_tracked`` keys each): when full, keys with nothing to remember go first, then the
least recently failed.

Times are ``time.monotonic()`` seconds from the injected clock; nothing here sleeps.
"""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import Enum

__all__ = ["LoginThrottle", "Outcome", "Refusal", "ThrottleLimits", "username_key"]


class Outcome(Enum):
    """How an admitted attempt ended."""

    SUCCESS = "success"
    #: the credentials were wrong (invalid_grant): counts against the name and the address
    FAILURE = "failure"
    #: the request failed for another reason (malformed, busy, server error): not counted
    OTHER = "other"


@dataclass(frozen=True, slots=True, kw_only=True)
class ThrottleLimits:
    """The budget of failed logins (see the module docstring)."""

    max_failures_per_user: int = 5
    user_window_s: float = 300.0
    lockout_s: float = 30.0
    lockout_max_s: float = 900.0
    max_failures_per_ip: int = 20
    ip_window_s: float = 60.0
    max_tracked: int = 100_000

    def __post_init__(self) -> None:
        if self.max_failures_per_user < 1 or self.max_failures_per_ip < 1:
            raise ValueError("max_failures_per_user and max_failures_per_ip must be ≥ 1")
        if not 0 < self.lockout_s <= self.lockout_max_s:
            raise ValueError("need 0 < lockout_s ≤ lockout_max_s")
        if self.user_window_s <= 0 or self.ip_window_s <= 0:
            raise ValueError("user_window_s and ip_window_s must be > 0")
        if self.max_tracked < 1:
            raise ValueError("max_tracked must be ≥ 1")


@dataclass(frozen=True, slots=True)
class Refusal:
    """An attempt refused before it ran; ``retry_after_s`` is whole seconds (Retry-After)."""

    reason: str  # "user_locked", "ip_limited" or "pending"
    retry_after_s: int


@dataclass(slots=True)
class _Track:
    failures: deque[float]
    pending: int = 0
    locked_until: float = 0.0
    lockouts: int = 0
    last_failure: float = field(default=-math.inf)


def username_key(username: str, extension: str | None = None) -> str:
    """The name a password grant is counted under: case-folded, with its extension."""
    name = username.strip().casefold()
    if extension and "*" not in name:
        name = f"{name}*{extension.strip()}"
    return name[:320]  # an email is at most 254; longer names still map to one key


def _seconds(delay: float) -> int:
    return max(1, math.ceil(delay))


class LoginThrottle:
    """Counts failed logins per username and per client address; refuses over budget."""

    def __init__(
        self, limits: ThrottleLimits | None = None, *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.limits = limits or ThrottleLimits()
        self._clock = clock
        self._users: dict[str, _Track] = {}
        self._ips: dict[str, _Track] = {}

    # -- the two calls around an attempt ----------------------------------------------------

    def admit(self, ip: str, user: str | None) -> Refusal | None:
        """None: go on (the attempt is now pending until :meth:`done`); else the refusal."""
        now = self._clock()
        lim = self.limits
        ip_track = self._ips.get(ip)
        if ip_track is not None:
            self._prune(ip_track, now, lim.ip_window_s)
            n = len(ip_track.failures)
            if n >= lim.max_failures_per_ip:
                wait = ip_track.failures[n - lim.max_failures_per_ip] + lim.ip_window_s - now
                return Refusal("ip_limited", _seconds(wait))
            if n and n + ip_track.pending >= lim.max_failures_per_ip:
                return Refusal("pending", 1)
        user_track = self._users.get(user) if user is not None else None
        if user_track is not None:
            if now < user_track.locked_until:
                return Refusal("user_locked", _seconds(user_track.locked_until - now))
            self._prune(user_track, now, lim.user_window_s)
            n = len(user_track.failures)
            if n and n + user_track.pending >= lim.max_failures_per_user:
                return Refusal("pending", 1)
        self._track(self._ips, ip, now).pending += 1
        if user is not None:
            self._track(self._users, user, now).pending += 1
        return None

    def done(self, ip: str, user: str | None, outcome: Outcome) -> None:
        """An admitted attempt ended: count a failure, reset on success."""
        now = self._clock()
        lim = self.limits
        ip_track = self._ips.get(ip)
        if ip_track is not None:
            ip_track.pending = max(0, ip_track.pending - 1)
        user_track = self._users.get(user) if user is not None else None
        if user_track is not None:
            user_track.pending = max(0, user_track.pending - 1)
        if outcome is Outcome.SUCCESS and user_track is not None:
            user_track.failures.clear()
            user_track.lockouts = 0
            user_track.locked_until = 0.0
        if outcome is not Outcome.FAILURE:
            return
        if ip_track is None:  # dropped to make room while the attempt ran
            ip_track = self._track(self._ips, ip, now)
        self._fail(self._ips, ip, ip_track, now)
        if user is None:
            return
        if user_track is None:
            user_track = self._track(self._users, user, now)
        if user_track.lockouts and now >= user_track.locked_until + lim.lockout_max_s:
            user_track.lockouts = 0  # quiet long enough: start again at lockout_s
        self._fail(self._users, user, user_track, now)
        self._prune(user_track, now, lim.user_window_s)
        if len(user_track.failures) >= lim.max_failures_per_user:
            lock_s = min(lim.lockout_s * 2**user_track.lockouts, lim.lockout_max_s)
            user_track.locked_until = now + lock_s
            user_track.lockouts += 1
            user_track.failures.clear()

    # -- what it knows ------------------------------------------------------------------------

    def locked_for_s(self, user: str) -> float:
        """Seconds until ``user`` may try again (0: not locked)."""
        track = self._users.get(user)
        return max(0.0, track.locked_until - self._clock()) if track is not None else 0.0

    @property
    def tracked(self) -> tuple[int, int]:
        """(usernames, addresses) held in memory."""
        return len(self._users), len(self._ips)

    # -- bookkeeping ----------------------------------------------------------------------------

    def _fail(self, table: dict[str, _Track], key: str, track: _Track, now: float) -> None:
        track.failures.append(now)
        track.last_failure = now
        table.pop(key, None)  # most recently failed last: eviction takes the front
        table[key] = track

    @staticmethod
    def _prune(track: _Track, now: float, window_s: float) -> None:
        while track.failures and track.failures[0] <= now - window_s:
            track.failures.popleft()

    def _track(self, table: dict[str, _Track], key: str, now: float) -> _Track:
        track = table.get(key)
        if track is None:
            if len(table) >= self.limits.max_tracked:
                self._make_room(table, now)
            size = max(self.limits.max_failures_per_user, self.limits.max_failures_per_ip)
            track = table[key] = _Track(deque(maxlen=size))
        return track

    def _idle(self, track: _Track, now: float) -> bool:
        lim = self.limits
        window = max(lim.user_window_s, lim.ip_window_s)
        return (
            track.pending == 0
            and now >= track.locked_until + (lim.lockout_max_s if track.lockouts else 0.0)
            and now - track.last_failure >= window
        )

    def _make_room(self, table: dict[str, _Track], now: float) -> None:
        """Drop keys with nothing to remember; if that frees too little, the oldest ones."""
        for key in [k for k, t in table.items() if self._idle(t, now)]:
            del table[key]
        target = self.limits.max_tracked * 9 // 10
        while len(table) > target:
            del table[next(iter(table))]

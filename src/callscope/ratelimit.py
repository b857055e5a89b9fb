"""Failure windows: how many times a key (a client address, a user name) failed lately.

Pure and synchronous: the caller passes the clock. Used to hold back guessers before any
expensive check runs (a password hash, a secret hash), so a flood costs the server nothing
but a dictionary look-up. State is per process; several nodes each keep their own.
"""

from __future__ import annotations

from collections import OrderedDict, deque
from dataclasses import dataclass, field

__all__ = ["FailureWindow"]


@dataclass(slots=True)
class _Entry:
    failures: deque[float] = field(default_factory=deque)
    #: held back until this time (monotonic seconds); 0 = not held
    until: float = 0.0
    #: how many times the key has been held back in a row (the hold doubles each time)
    holds: int = 0


class FailureWindow:
    """``max_failures`` within ``window_s`` hold a key back for ``hold_s`` (doubling on each
    further hold, at most ``max_hold_s``); a success clears the key.

    At most ``max_keys`` keys are kept (the least recently failed are forgotten), so a flood
    of distinct keys cannot grow memory without bound.
    """

    def __init__(
        self,
        *,
        max_failures: int,
        window_s: float,
        hold_s: float,
        max_hold_s: float | None = None,
        max_keys: int = 100_000,
    ) -> None:
        if max_failures < 1 or window_s <= 0 or hold_s <= 0:
            raise ValueError("need max_failures ≥ 1, window_s > 0 and hold_s > 0")
        self.max_failures = max_failures
        self.window_s = window_s
        self.hold_s = hold_s
        self.max_hold_s = max(hold_s, max_hold_s if max_hold_s is not None else hold_s)
        self.max_keys = max_keys
        self._keys: OrderedDict[str, _Entry] = OrderedDict()

    def retry_after(self, key: str, now: float) -> float:
        """Seconds until ``key`` may try again; 0 when it may try now."""
        entry = self._keys.get(key)
        if entry is None or entry.until <= now:
            return 0.0
        return entry.until - now

    def failed(self, key: str, now: float) -> float:
        """Count a failure; returns the hold it caused (0 when none)."""
        entry = self._keys.pop(key, None) or _Entry()
        self._keys[key] = entry  # most recent last
        while entry.failures and entry.failures[0] <= now - self.window_s:
            entry.failures.popleft()
        entry.failures.append(now)
        hold = 0.0
        if len(entry.failures) >= self.max_failures:
            hold = min(self.max_hold_s, self.hold_s * 2**entry.holds)
            entry.holds += 1
            entry.until = now + hold
            entry.failures.clear()
        while len(self._keys) > self.max_keys:
            self._keys.popitem(last=False)
        return hold

    def succeeded(self, key: str) -> None:
        self._keys.pop(key, None)

    def __len__(self) -> int:
        return len(self._keys)

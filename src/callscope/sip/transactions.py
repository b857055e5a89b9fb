"""Server transactions (RFC 3261 §17.2): a request a phone sends again over UDP because the
answer was slow, or lost, is the same request, not a new one.

A phone retransmits a REGISTER every T1 (0.5 s) until it hears an answer. Handled as a new
request, the copy of an authenticated REGISTER is a digest replay (its nonce count was used)
and answered 401 stale, and if that answer overtakes the first one's 200 OK the phone's
transaction ends on it; two copies in flight at once also race each other into the
registrar. Here a copy that arrives while its request is being handled is absorbed, and one
that arrives after the answer gets the same answer again (same To tag), for timer J (64 × T1)
after the request.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Final

from aiosipua import SipMessage, SipRequest

__all__ = ["LIFETIME_S", "ServerTransactions"]

#: RFC 3261 timer J (64 × T1): how long a server transaction absorbs retransmissions
LIFETIME_S: Final = 32.0
#: transactions remembered at most (a flood of new branches pushes out the oldest)
MAX_TRANSACTIONS: Final = 10_000

Key = tuple[str, int, str, int, str]


def transaction_key(message: SipMessage, peer: tuple[str, int]) -> Key | None:
    """Who sent it, its top Via's branch and its CSeq (RFC 3261 §17.2.3), or None for a
    message without an RFC 3261 branch or a readable CSeq (such a request is handled each
    time it arrives)."""
    try:
        vias, cseq = message.via, message.cseq
    except ValueError:  # a CSeq number that is no number
        return None
    branch = vias[0].branch if vias else None
    if not branch or not branch.startswith("z9hG4bK") or cseq is None or not cseq.method:
        return None
    return (peer[0], peer[1], branch, cseq.seq, cseq.method)


class ServerTransactions:
    """The requests being handled or answered lately, and their final answers."""

    def __init__(
        self,
        lifetime_s: float = LIFETIME_S,
        limit: int = MAX_TRANSACTIONS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.lifetime_s = lifetime_s
        self.clock = clock
        self.limit = limit
        #: key → (when it arrived, its final answer once sent); oldest first
        self._seen: dict[Key, tuple[float, bytes | None]] = {}
        self.absorbed = 0

    def begin(self, request: SipRequest, peer: tuple[str, int]) -> tuple[bool, bytes | None]:
        """``(True, None)`` for a new request (handle it); ``(False, answer)`` for a copy of
        one seen before: ``answer`` is what to send again, None while it is being handled."""
        key = transaction_key(request, peer)
        if key is None:
            return True, None
        now = self.clock()
        self._forget(now)
        seen = self._seen.get(key)
        if seen is not None:
            self.absorbed += 1
            return False, seen[1]
        self._seen[key] = (now, None)
        return True, None

    def answered(self, response: SipMessage, data: bytes, peer: tuple[str, int]) -> None:
        """``data`` (``response`` serialised) answered a request from ``peer``: kept if it is
        final (provisional answers are not repeated)."""
        status = getattr(response, "status_code", 0)
        key = transaction_key(response, peer)
        if status < 200 or key is None:
            return
        seen = self._seen.get(key)
        if seen is not None:
            self._seen[key] = (seen[0], data)

    def _forget(self, now: float) -> None:
        while self._seen:
            key, (since, _) = next(iter(self._seen.items()))
            if now - since < self.lifetime_s and len(self._seen) < self.limit:
                return
            del self._seen[key]

    def __len__(self) -> int:
        return len(self._seen)

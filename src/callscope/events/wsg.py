"""The WebSocket gateway's delivery rules (spec §8.3), sans-I/O: which notifications of a
session the client may still lose, when to ask it, and what to send again on recovery.

The WSG protocol has no acknowledgement of notifications: a frame written to a socket is
not a frame read (a half-open connection takes writes into its kernel buffers and loses
them). So a notification counts as delivered only once the client has answered a
WebSocket ping sent after it: a WebSocket peer reads frames in order and answers a ping
when it reads it (RFC 6455 §5.5.2-3), and every ping callscope sends carries the
``wsc.sequence`` of the last notification written before it, which the pong echoes.

* Every notification written is kept in the session's recovery buffer (the database) with
  its ``wsc.sequence``; the buffer keeps the last ``recoveryBufferSize`` (100).
* At most that many may be unconfirmed: the sender waits for pongs beyond it, so the
  buffer never drops one the client may still lose.
* A client that recovers the session (``&wsc=<token>``) gets, in order and before anything
  new, the buffered notifications after the last one it holds: the one it names with
  ``wscSequence`` or, without it, the last one a pong confirmed.

UNCONFIRMED (spec §8.3, §14): RingCentral's clients convey only the token on recovery
(``ringcentral-extensible`` ws: ``&wsc=<token>``; the Python SDK the same), not the last
sequence they hold, and the WSG's own rule for what it replays is not published.
``wscSequence`` is callscope's addition for clients that track ``wsc.sequence``; without it
the pongs decide (a notification read just before the drop, whose pong did not make it
back, comes again with the same ``uuid``: at-least-once). ``ConnectionDetails`` of a
recovered session carries ``wsc.sequence`` = the last sequence the client is taken to hold,
so the replayed ones follow it without a gap.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from callscope.digits import is_digits

__all__ = [
    "ABSOLUTE_TIMEOUT_S",
    "HEARTBEAT_S",
    "PONG_TIMEOUT_S",
    "RECOVERY_BUFFER_SIZE",
    "RECOVERY_TIMEOUT_S",
    "RecoveryWindow",
    "notification_frame",
    "parse_sequence",
    "replay_start",
]

#: notifications kept per session for recovery, and most sent but not yet confirmed
RECOVERY_BUFFER_SIZE = 100
#: how long a session whose socket is gone can be recovered (``events_ws_recovery_s``)
RECOVERY_TIMEOUT_S = 180
#: ``absoluteTimeout`` shown in ``ConnectionDetails`` (not enforced)
ABSOLUTE_TIMEOUT_S = 86_400
#: a ping at least this often, confirmations or not
HEARTBEAT_S = 30.0
#: a ping unanswered this long means the connection is dead (spec §8.3 says clients pong
#: within 10 s; a busy client gets more)
PONG_TIMEOUT_S = 15.0
#: the largest sequence a client may name (JSON numbers stay exact below 2⁵³)
_MAX_SEQUENCE = 2**53 - 1


def parse_sequence(text: str) -> int:
    """A ``wsc.sequence`` from a query parameter or a pong.

    Raises:
        ValueError: not a whole number 0 … 2⁵³−1.
    """
    if not is_digits(text) or len(text) > 16:
        raise ValueError(f"{text[:20]!r} is not a sequence number")
    value = int(text)
    if value > _MAX_SEQUENCE:
        raise ValueError(f"{value} is beyond the largest sequence number")
    return value


def replay_start(
    sequence: int, acked: int, client_sequence: int | None, size: int = RECOVERY_BUFFER_SIZE
) -> int:
    """The sequence after which a recovered session's notifications are sent again.

    Args:
        sequence: the session's last sequence.
        acked: the last one a pong confirmed.
        client_sequence: the last one the client says it holds (None: it did not say).
        size: the recovery buffer's size: older ones are not kept.
    """
    start = acked if client_sequence is None else client_sequence
    return max(min(start, sequence), sequence - size, 0)


def notification_frame(token: str, sequence: int, notification: dict[str, Any]) -> list[Any]:
    """A ``ServerNotification`` frame (spec §8.3)."""
    meta = {
        "type": "ServerNotification",
        "messageId": notification["uuid"],
        "status": 200,
        "headers": {"RCRequestId": uuid.uuid4().hex},
        "wsc": {"token": token, "sequence": sequence},
    }
    return [meta, notification]


@dataclass(slots=True)
class RecoveryWindow:
    """What one connection of a session has written and what its client has confirmed.

    Attributes:
        sequence: the last sequence written to the socket.
        acked: the last sequence the client holds (a pong, or its word on recovery).
        size: most written and unconfirmed at once.
    """

    sequence: int = 0
    acked: int = 0
    size: int = RECOVERY_BUFFER_SIZE
    #: the sequence named by the newest ping not answered yet, and when the oldest
    #: unanswered one was sent
    _pinged: int = -1
    _unanswered_since: float | None = None
    _last_ping: float = float("-inf")

    def space(self) -> int:
        """How many more may be written before the client confirms some."""
        return max(0, self.size - (self.sequence - self.acked))

    def written(self, sequence: int) -> None:
        """A notification with this sequence was written to the socket."""
        self.sequence = max(self.sequence, sequence)

    def confirm_due(self) -> bool:
        """Whether a ping should go out now to learn what the client has read."""
        return self.sequence > self.acked and self._unanswered_since is None

    def heartbeat_due(self, now: float, interval_s: float = HEARTBEAT_S) -> bool:
        return now - self._last_ping >= interval_s and self._unanswered_since is None

    def ping(self, now: float) -> bytes:
        """The payload of a ping sent now: the last sequence written before it."""
        self._pinged = self.sequence
        self._last_ping = now
        if self._unanswered_since is None:
            self._unanswered_since = now
        return str(self.sequence).encode()

    def pong(self, payload: bytes) -> int:
        """A pong arrived; returns how many notifications it newly confirms. A pong that
        echoes no ping of ours (an unsolicited one, another payload) changes nothing."""
        try:
            confirmed = parse_sequence(payload.decode("ascii", "replace"))
        except ValueError:
            return 0
        if confirmed > self._pinged:
            return 0  # no ping of ours said that much
        if confirmed == self._pinged:
            self._unanswered_since = None
        newly = max(0, confirmed - self.acked)
        self.acked = max(self.acked, confirmed)
        return newly

    def overdue(self, now: float, timeout_s: float = PONG_TIMEOUT_S) -> bool:
        """Whether a ping has gone unanswered too long (the connection is dead)."""
        return self._unanswered_since is not None and now - self._unanswered_since > timeout_s

"""Party status as an enum state machine (spec §7.1 ``status.code``).

The stream drives it: ``Start`` → Setup → Proceeding → Answered; ``Stop`` or a vanished
sender → Disconnected. Hold and Gone (a party that left by transfer) are modelled for the
supervision and transfer work that builds on this.
"""

from __future__ import annotations

import enum
import logging

from callscope.errors import InvalidState

__all__ = ["PartyStatus", "transition"]

logger = logging.getLogger("callscope.calls")


class PartyStatus(enum.StrEnum):
    SETUP = "Setup"
    PROCEEDING = "Proceeding"
    ANSWERED = "Answered"
    HOLD = "Hold"
    GONE = "Gone"
    DISCONNECTED = "Disconnected"


_ALLOWED: dict[PartyStatus, frozenset[PartyStatus]] = {
    PartyStatus.SETUP: frozenset(
        {PartyStatus.PROCEEDING, PartyStatus.ANSWERED, PartyStatus.DISCONNECTED}
    ),
    PartyStatus.PROCEEDING: frozenset({PartyStatus.ANSWERED, PartyStatus.DISCONNECTED}),
    PartyStatus.ANSWERED: frozenset({PartyStatus.HOLD, PartyStatus.GONE, PartyStatus.DISCONNECTED}),
    PartyStatus.HOLD: frozenset({PartyStatus.ANSWERED, PartyStatus.GONE, PartyStatus.DISCONNECTED}),
    PartyStatus.GONE: frozenset(),
    PartyStatus.DISCONNECTED: frozenset(),
}


def transition(current: PartyStatus, new: PartyStatus, *, party_id: str = "?") -> PartyStatus:
    """Check and return the next status.

    Raises:
        InvalidState: the move is not allowed (e.g. anything after Disconnected).
    """
    if new not in _ALLOWED[current]:
        raise InvalidState(f"party {party_id}: cannot go from {current} to {new}")
    if logger.isEnabledFor(logging.DEBUG):
        logger.debug("party %s: %s → %s", party_id, current, new)
    return new

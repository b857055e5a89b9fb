"""A step that is someone else's, said first as the agent's, pure: the agent's act done in the
call that hands the matter to a third party whose own step follows ("I've booked an engineer
visit for Wednesday. The engineer will replace the board."), and the company's promise said in
the plural that the next sentence gives to the third party who carries it out ("We'll bring the
car to you. One of our drivers, Luis, will deliver your CR-V on Saturday."). Used by
:mod:`callscope.insights.nextsteps`.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import TYPE_CHECKING, Final

from callscope.insights.clauses import clauses
from callscope.insights.leadins import LEADING

if TYPE_CHECKING:
    from callscope.insights.nextsteps import Candidate

__all__ = ["handed_over"]

#: an agent's act done in the call that hands the matter on ("I've booked an engineer visit",
#: "I'm passing this to our cold chain team")
_HANDING: Final = frozenset(("past", "progressive"))
#: acts the agent's side carries out itself, whoever acts next ("I'm shipping the ninth
#: edition out today. The warehouse will email you a tracking number.")
_OWN_ACTS: Final = frozenset(("ship", "post", "mail", "courier", "deliver", "refund", "credit"))


def handed_over(c: Candidate, kept: Sequence[Candidate]) -> bool:
    """Whether ``c`` is the agent's act done in the call that hands the matter to a third
    party whose own step follows in the same sentence or the next one of the same turn ("I've
    booked an engineer visit for Wednesday. The engineer will replace the board."): the third
    party's step is the one to come, the hand-over is done. An act with its own consequence
    hands nothing over ("I'm putting a credit on your account, so it'll come off your March
    invoice. Our invoicing team will email you a credit note")."""
    if _we_then_them(c, kept):
        return True
    if (
        c.frame.kind not in _HANDING
        or c.frame.owner != "agent"
        or c.frame.verb in _OWN_ACTS
        or c.frame.consequence
    ):
        return False
    return any(
        o.frame.owner == "third party"
        and o.sentence.utterance is c.sentence.utterance
        and (
            o.index == c.index + 1
            or (o.index == c.index and o is not c and kept.index(o) > kept.index(c))
        )
        for o in kept
    )


#: the company's promise in the plural: "We'll bring the car to you."
_WE_WILL = re.compile(
    r"^(?:and\s+|so\s+)?we(?:'ll|\s+will|'re\s+going\s+to|\s+are\s+going\s+to)\s", re.I
)


def _we_then_them(c: Candidate, kept: Sequence[Candidate]) -> bool:
    """Whether ``c`` is what the agent's side will do, said in the plural as a sentence of its
    own, and the next sentence of the turn names the third party who does it: "We'll bring
    the car to you. One of our drivers, Luis, will deliver your CR-V on Saturday." (one step,
    the driver's)."""
    return (
        c.frame.kind == "future"
        and c.frame.owner == "agent"
        and len(clauses(c.sentence.text, c.sentence.speaker)) == 1
        and bool(_WE_WILL.match(LEADING.sub("", c.clause.text)))
        and any(
            o.frame.owner == "third party"
            and o.sentence.utterance is c.sentence.utterance
            and o.index == c.index + 1
            and not _ADDS.match(o.sentence.text)
            for o in kept
        )
    )


#: a sentence that adds a matter of its own: "And Karen will ring you tomorrow…"
_ADDS = re.compile(r"^(?:and|also|plus|oh|then)\b", re.I)

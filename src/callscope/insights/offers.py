"""The agent's offer the customer takes, read as the agent's promise, pure: "Shall I email you
the form?" — "Yes please." is the agent's step "I'll email you the form"; so are "Would it help
if I booked you in for a dehumidifier on Tuesday?" — "That'd be great." and "Do you want me to
send you a copy?" — "Please.". An offer turned down or left unanswered promises nothing.
Used by :func:`callscope.insights.nextsteps.candidates`.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Final

from callscope.insights.types import Sentence
from callscope.insights.verbs import base_form

__all__ = ["taken_offers"]

_OFFER: Final = re.compile(
    r"^(?:(?:so|and|right|okay|ok|well)[,.]?\s+)?(?:(?:shall|should)\s+(?P<who>i|we)\s+|"
    r"(?:do|would)\s+you\s+(?:want|like)\s+(?P<who2>me|us)\s+to\s+|"
    r"would\s+it\s+help\s+if\s+(?P<who3>i|we)\s+)(?P<verb>[a-z]+)\b(?P<rest>[^?]*)\?\s*$",
    re.I,
)
#: the customer's yes to an offer
_YES: Final = re.compile(
    r"^(?:oh,?\s+)?(?:yes|yeah|yep|yup|please|that'd|that\s+would|lovely|perfect|great|sure|"
    r"go\s+on|ok|okay|brilliant|if\s+you\s+could|would\s+you)\b"
    # (not "Okay, no thanks", "That would be too late")
    r"(?![^.?!]{0,24}\b(?:no|not|don't|won't|too)\b)",
    re.I,
)


def taken_offers(sents: Sequence[Sentence]) -> list[Sentence]:
    """``sents`` with each offer the customer's next sentence takes said as the promise."""
    out = list(sents)
    for i, s in enumerate(sents):
        m = _OFFER.match(s.text.strip()) if s.speaker != "customer" else None
        if m is None:
            continue
        reply = next((t for t in sents[i + 1 :] if t.utterance is not s.utterance), None)
        if reply is None or reply.speaker != "customer" or not _YES.match(reply.text.strip()):
            continue
        verb = base_form(m.group("verb")) or m.group("verb")
        who = (
            "we"
            if (m.group("who") or m.group("who3") or m.group("who2")).lower() in ("we", "us")
            else "I"
        )
        out[i] = Sentence(s.utterance, f"{who}'ll {verb}{m.group('rest')}.")
    return out

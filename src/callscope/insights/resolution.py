"""Which of the agent's sentences is the call's resolution highlight, pure.

In order of preference, each after the customer's problem:

1. **The agent's confirmation** that the matter is settled, usually near the end of the
   call — "that's all sorted", "you're all set", "I've processed the refund", "the transfer
   has been reversed", "done, it's booked" — the first one that is not negated ("I can't
   sort that out today"), a question ("Is that all sorted?"), a condition ("Once that's
   processed…"), a hypothetical ("that would be all set if…") or what ought to have happened
   ("the status page should have been updated").
2. **The first act on the problem**: the earlier of the agent's first act done in the call
   (past or present progressive: "I've blocked the card", "I'm booking a visit") and the
   result reported after a hold ("Thanks for waiting. I've re…" — the sentence after the
   thanks, which stays the result when the recogniser garbles its verb).
3. A sentence stating a fix ("it has been restored"), else the sentence of the first next
   step the agent said.

The rule reads the words only (no timings), so it holds on the recogniser's output: its
slips change a verb more often than the closing words or the thanks for holding.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Final

from callscope.insights.clauses import NEGATED
from callscope.insights.types import Sentence

__all__ = ["confirmation", "confirms", "resolution"]

_SETTLED = (
    r"(?:sorted|set(?!\s+to\b)|done|fixed|resolved|taken care of|good to go|squared away|"
    r"complete|finished)"
)
_CONFIRMED: Final = re.compile(
    r"\b(?:"
    # "that's all sorted", "you're all set", "everything is done", "we're good to go"
    r"(?:you're|you are|we're|we are|that's|that is|that has|it's|it is|it has|this is|"
    r"everything's|everything is|everything has|they're|they are)\s+(?:now\s+|all\s+|now all\s+)?"
    rf"(?:been\s+)?{_SETTLED}\b"
    # "you should be all set", "it should be working now"
    r"|should\s+(?:now\s+)?(?:be\s+)?(?:all\s+)?(?:set|sorted|good to go|working(?: again| now)?)\b"
    # "I've processed the refund", "I have submitted it"
    r"|(?:i've|i have|we've|we have)\s+(?:now\s+|just\s+|already\s+)?(?:processed|completed|"
    r"finali[sz]ed|submitted|sorted(?: out)?|fixed|resolved|cleared|reversed|reinstated|"
    r"reactivated|restored)"
    # "the line is restored", "your account is now unlocked": a state
    r"|(?:is|are|has been|have been)\s+(?:now\s+|all\s+)?(?:fixed|resolved|unlocked|restored|"
    r"reactivated|back (?:up|on|online))"
    # "your refund has been processed", "the fee is now waived": an event, said as done (not
    # "payments are processed on the first")
    r"|(?:has been|have been|(?:is|are) now|(?:is|are) all|was just)\s+(?:now\s+)?(?:refunded|"
    r"updated|processed|credited|waived|approved|reversed|cancell?ed)"
    r"|back up and running|(?:up and )?running again|working again"
    # "Done, it's booked.", "that's confirmed": an arrangement said as made
    r"|(?:it's|it is|that's|that is|you're|you are)\s+(?:all\s+|now\s+)?(?:booked|confirmed|"
    r"arranged|scheduled)(?!\s+(?:for|to|until)\s+(?:cancel|close|end))"
    r")",
    re.I,
)
_CONDITIONAL: Final = re.compile(
    r"^\s*(?:and\s+|so\s+|but\s+)?(?:if|unless|once|as soon as|when)\b", re.I
)
_IF: Final = re.compile(r"\b(?:if|unless|once|as soon as|provided)\b", re.I)
_HYPOTHETICAL: Final = re.compile(
    r"\b(?:would|could|might|hopefully|wish|supposed to)\b"
    # what ought to have happened: "the status page should have been updated"
    r"|\b(?:should|ought to)(?:\s+not)?\s+have\b|\bshould've\b",
    re.I,
)
_NEGATED_EXTRA: Final = re.compile(r"\b(?:nothing|yet|no longer|haven't|hasn't|wasn't)\b", re.I)
_AFTER_HOLD: Final = re.compile(
    r"\b(?:thanks|thank you)(?:\s+so much)?\s+(?:for\s+)?(?:waiting|holding|(?:your\s+)?"
    r"patience|bearing with me|hanging on)\b|\bsorry (?:for|about) the wait\b",
    re.I,
)
_FIX: Final = re.compile(
    r"\b(?:(?:is|has been|have been)\s+(?:now\s+)?(?:fixed|resolved|unlocked|restored|"
    r"refunded|updated|processed|credited|waived|approved))\b",
    re.I,
)


def confirms(text: str) -> bool:
    """Whether an agent's ``text`` says the matter is settled (see the module docstring),
    vetoes applied to the part of the sentence that says it."""
    if text.rstrip().endswith("?") or _CONDITIONAL.search(text):
        return False  # a question, or "If the photos are clear, you're all set."
    for part in re.split(r"[,;]\s*|\s+(?:but|and|so)\s+", text):
        m = _CONFIRMED.search(part)
        if m is None:
            continue
        before = part[: m.end()]
        if NEGATED.search(before) or _NEGATED_EXTRA.search(part):
            continue
        if _CONDITIONAL.search(part) or _HYPOTHETICAL.search(part) or _IF.search(part):
            continue
        return True
    return False


def confirmation(sents: Sequence[Sentence], *, after: float = 0.0) -> Sentence | None:
    """The agent's first confirming sentence (:func:`confirms`) said at or after ``after``
    (seconds), if any."""
    return next(
        (
            s
            for s in sents
            if s.speaker != "customer" and s.utterance.start >= after and confirms(s.text)
        ),
        None,
    )


def _after_hold(sents: Sequence[Sentence], after: float) -> Sentence | None:
    """The agent's first sentence after a "thanks for waiting" (the hold's result)."""
    for i, s in enumerate(sents):
        if s.speaker == "customer" or s.utterance.start < after or not _AFTER_HOLD.search(s.text):
            continue
        rest = _AFTER_HOLD.split(s.text, maxsplit=1)[-1].strip(" .,!")
        if len(rest.split()) >= 4:
            return s  # "Thanks for your patience, I've rebooked you…": the sentence itself
        nxt = next((t for t in sents[i + 1 :] if t.speaker != "customer"), None)
        if nxt is not None and nxt.utterance.id == s.utterance.id:
            return nxt
        return None
    return None


def resolution(
    sents: Sequence[Sentence],
    done: Sequence[Sentence],
    step_sentences: Sequence[Sentence],
    *,
    after: float = 0.0,
) -> Sentence | None:
    """The resolution highlight's sentence (see the module docstring). ``done``: the
    sentences of the agent's acts done in the call, in order; ``step_sentences``: those of
    the next steps; ``after``: when the problem was stated (seconds)."""
    settled = confirmation(sents, after=after)
    if settled is not None:
        return settled
    acts = [s for s in (_after_hold(sents, after), *done[:1]) if s is not None]
    acts = [s for s in acts if s.utterance.start >= after]
    if acts:
        return min(acts, key=lambda s: (s.utterance.start, sents.index(s)))
    fixed = [
        s
        for s in sents
        if s.speaker != "customer" and s.utterance.start >= after and _FIX.search(s.text)
    ]
    if fixed:
        return fixed[0]
    later = [s for s in step_sentences if s.speaker != "customer" and s.utterance.start >= after]
    return later[0] if later else None

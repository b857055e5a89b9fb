"""A next step said again, pure: a recap's "I'll ring you on Friday afternoon" after "I'll call
you on Friday afternoon to check the work" (:func:`said_before`), a goodbye that names the
day of a call already promised, and a turn that sums up what was agreed (:data:`RECAP`,
:func:`recapped`). Used by :mod:`callscope.insights.nextsteps`.
"""

from __future__ import annotations

import re
from typing import Final

from callscope.insights.clauses import Frame
from callscope.insights.types import NextStep

__all__ = ["ASKS_RECAP", "RECAP", "key", "recapped", "said_before"]


def key(text: str) -> str:
    return " ".join(re.findall(r"[a-z0-9']+", text.lower()))


def said_before(value: str, owner: str, step: NextStep) -> bool:
    """Whether ``value`` is ``step`` said again, the same or with less: a recap's "I'll ring
    you on Friday afternoon" after "I'll call you on Friday afternoon to check the work"."""
    words = key(value).split()
    if owner != step.owner:
        return False
    talk = _TALK_THEN.match(value)
    if talk:
        # a goodbye, "I'll speak to you Monday", after "I'll call you back on Monday afternoon"
        return bool(_CONTACT.search(step.value)) and set(key(talk.group(1)).split()) <= set(
            key(step.value).split()
        )
    return set(words) <= set(key(step.value).split())


#: a goodbye that names when the speaker will be in touch again (see :func:`said_before`)
_TALK_THEN = re.compile(r"^(?:speak|talk|chat)\s+to\s+the\s+customer\s+((?:on\s+)?\w+)\.?$", re.I)
_CONTACT = re.compile(r"\b(?:call|ring|phone|email|text|contact)\b", re.I)


#: a turn that sums up what was agreed: "So, just to recap", "Let me go over it"
RECAP = re.compile(
    r"\b(?:(?:quick|short|brief)\s+(?:recap|summary)|(?:just\s+)?to\s+(?:recap|sum\s+up|"
    r"summari[sz]e|go\s+over\s+(?:it|that|everything)|run\s+through\s+(?:it|that|everything))|"
    r"(?:just\s+)?so\s+you(?:'ve|\s+have)\s+got\s+it\s+all|just\s+to\s+confirm|"
    # the customer's: "So just so I'm clear. I send the KvK extract today…"
    r"(?:just\s+)?so\s+i(?:'m|\s+am)\s+clear|(?:just\s+)?so\s+i(?:'ve|\s+have)\s+got\s+it\s+"
    r"(?:straight|right)|"
    r"to\s+confirm(?=\s*:)|let\s+me\s+(?:recap|summari[sz]e|sum\s+up|run\s+it\s+back|"
    r"run\s+through\s+it|go\s+over"
    r"\s+(?:it|that|everything)))\b",
    re.I,
)
#: the customer asking for a recap: "Will you go over it once more for me?", "Can you run
#: through that again?" (the agent's answer is one)
ASKS_RECAP = re.compile(
    r"\b(?:go|run)\s+(?:over|through)\s+(?:it|that|this|everything|all\s+that)\s+"
    r"(?:once\s+more|again|one\s+more\s+time)|\brepeat\s+(?:that|it|everything)\b",
    re.I,
)
#: words that say nothing of what a step is, for :func:`recapped`
_FILLER_WORDS: Final = """a an the to of for and or in on at by with it this that customer
customer's their them they agent company"""
_FILLER: Final = frozenset(_FILLER_WORDS.split())


def recapped(value: str, f: Frame, step: NextStep) -> bool:
    """Whether ``value``, said in a recap, is ``step`` said again: the same owner, and two of
    its words or half of the shorter one's in the other (``value``'s act only: "I'll call you
    at ten, the rush fee is going back on your card")."""
    a = set(key(value.split(",")[0]).split()) - _FILLER  # the act, not its consequence
    b = set(key(step.value).split()) - _FILLER
    shared = len(a & b)
    if f.owner != step.owner and {f.owner, step.owner} != _PEOPLE:
        return False
    if f.owner == step.owner == "third party" and _actor(value) == _actor(step.value):
        return True  # "the courier swaps them over" after "Courier to take the box back…"
    return bool(a and b) and (shared >= 2 or shared >= min(len(a), len(b)) / 2)


#: the customer's people and a third party, whom a recap may name alike: "Luis will be there
#: from nine" recaps "Customer's head chef Luis to be at the shop from nine"
_PEOPLE: Final = frozenset(("customer", "third party"))


def _actor(value: str) -> str:
    """Who a third party's step names: "Courier" in "Courier to swap them over."."""
    return key(value.split(" to ", 1)[0])

"""Whether a clause's act is done in the call itself or after it, pure.

The agent's act in the conversation ("let me check", "I'll put you on hold", "I'll tell you
what the problem is") is no next step, nor an act said as under way now ("I'm emailing the
certificate to you now": done by the time the call ends); an in-call verb put off to a
time after the call is one: "I'll check the readings tomorrow morning", "could you read your
meter tonight?", "I'll let you know by Friday", and asking a team to act ("I'm asking our
hardship department to send you a form").
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Final

from callscope.insights.numbers import DEADLINE
from callscope.insights.verbs import IN_CALL_VERBS

__all__ = ["ASK_TEAM", "BE_PLACES", "NOW", "SAID_NOW", "is_in_call", "is_later", "under_way"]


_ON_HOLD = re.compile(
    r"\bwhile (?:we're|we are|you're|you are)(?: still)? on the (?:line|phone|call)\b|"
    r"\bwhile I(?:'ve| have)(?: still)? got you\b|"
    r"\b(?:put|place|transfer|connect)\w*\s+you\b|\byou\s+on\s+(?:a\s+)?(?:\w+\s+)?hold\b|"
    r"\bneed your\b|\bhave to (?:ask|check|verify|"
    r"confirm|look|read)\b|\bbefore we (?:start|begin|get started|go on|continue|proceed)\b|"
    # "Give me two minutes, I'm going to ring the warehouse": done while the customer waits
    r"\bgive me\s+(?:a|one|two|five|a few|a couple of)\s+(?:minutes?|moments?|secs?|seconds?)\b",
    re.I,
)
#: logging in, done on the line unless asked of the customer for later ("make sure you log
#: into your account and switch off auto-renew before next October")
_LOG_IN = re.compile(r"\blog(?:ging|ged)?\s+(?:in|into|on|onto)\b", re.I)


#: asking a team to act is a step, not a question in the call: "I'm asking our hardship
#: department to send you a form" (the recogniser's "asking how your hardship department…"),
#: "I'll ask Jamie, our editor, to go through the raw files"
ASK_TEAM = re.compile(
    r"\bask(?:ing|ed)?\s+(?!you\b|me\b)(?:the|our|a|an|my|your|[A-Z][a-z]+)\b"
    r"(?:,?\s+[\w']+){0,3}?,?\s+to\s+[a-z]+",
    re.I,
)


#: in-call verbs that name a step when put off to a time after the call ("I'll check the
#: readings tomorrow morning", "I'll ask the office about it on Monday")
_DEFERRABLE: Final = frozenset(("ask", "check", "look", "verify", "confirm", "search", "test"))
#: "be" as a step: being somewhere for a visit ("someone will need to be home", "please be
#: there by nine")
#: where someone is for a visit, after "be" (and "at")
BE_PLACES: Final = r"home|there|in|available|present|around|on site"
_BE_THERE = re.compile(rf"\bbe\s+(?:at\s+)?(?:{BE_PLACES})\b", re.I)


#: a check run or a record opened to answer the customer in the call
_LOOK_UP = re.compile(
    r"\b(?:run|running|ran|open|opening|opened)\s+(?:up\s+)?(?:a|an|the|your|our|my)\s+"
    r"(?:[a-z-]+\s+){0,2}(?:test|check|diagnostic|diagnostics|log|file|record|records|notes|"
    r"history|account|system|report)\b(?:\s+(?:for|from|of)\s+[\w-]+)?",
    re.I,
)
#: a record brought up on the screen: "One moment, I'll bring it up.", "let me pull your
#: account up"
_ON_SCREEN = re.compile(
    r"\b(?:bring|pull|have|get)\s+(?:it|that|this|them|(?:your|the)\s+(?:[a-z-]+\s+){0,2}?"
    r"(?:account|booking|record|details|file|order|notes|policy|reservation|docket))\s+up\b"
    # "I'll have it up and running", "get them up to you": no record on screen
    r"(?!\s+(?:and|to|for|on\s+(?:the|your)\s+wall)\b)",
    re.I,
)
_LET_KNOW = re.compile(r"\blet\s+(?:[\w']+,?\s+){1,4}?know\b", re.I)
#: the verbs of telling: "I'll ring you and tell you what's happening" is a call, not telling
_TELLING: Final = frozenset(("tell", "show", "explain", "go", "walk", "run", "talk"))
#: telling or explaining something in the call: "I'll tell you what the problem is"
_TELL_NOW = re.compile(
    r"\b(?:tell|show)\s+you\s+(?:what|how|why|where|about|a (?:bit|little))\b|"
    r"\b(?:explain|go through|walk you through|run through)\b",
    re.I,
)


#: "now" of an act ("I'm sending it now", "right now"), not "from now on" or "until now"
NOW: Final = r"(?<!from )(?<!until )(?:right now|now)(?!\s+on\b)"
#: the same, as a word in a clause
SAID_NOW: Final = re.compile(rf"\b{NOW}\b", re.I)
#: an act said as under way while the call goes on: "I'm emailing the certificate to you now",
#: "I'm moving them over to the office 3B profile right now"
_UNDER_WAY = re.compile(
    rf"\b(?:{NOW}|as we speak|while we(?:'re| are)? (?:talk|speak)\w*)\b",
    re.I,
)


def under_way(kind: str, text: str) -> bool:
    """Whether the act is said as under way now, and so done by the time the call ends; not
    when something of it comes later ("I'm sending you the confirmation now, and it should be
    in your inbox within the hour"). Done in the call, it is still an act the agent did."""
    return (
        kind == "progressive"
        and bool(_UNDER_WAY.search(text))
        and not is_later(text)
        and not _SEEN_LATER.search(text)
    )


#: what the customer will see of the act after the call: "…, and you'll see it on your next
#: bill, on the ninth"
_SEEN_LATER = re.compile(
    r"\byou(?:'ll|\s+will|\s+should)\s+(?:see|get|receive|find)\b[^.;?!]*\b(?:next|bill|"
    r"statement|inbox|post)\b",
    re.I,
)


@lru_cache(maxsize=8192)
def is_later(text: str) -> bool:
    """Whether ``text`` names a time after the call (not "in a minute"); asked of the same
    clause by several rules, so the answers are kept."""
    m = DEADLINE.search(text)
    return m is not None and not re.search(r"minute|second|moment", m.group(0), re.I)


#: the agent asking the customer to go on: "Please tell me." (no thing told, no time)
_GO_AHEAD: Final = re.compile(
    r"^(?:(?:yes|okay|ok|right|so),?\s+)?(?:please\s+)?(?:tell|go\s+on\s+and\s+tell)\s+(?:me|us)"
    r"(?:,?\s+(?:please|madam|sir))?[.!]?$",
    re.I,
)
#: a return to a topic of the call: "then we'll come back to what went wrong"
_BACK_TO_TOPIC: Final = re.compile(
    r"\bcome\s+back\s+to\s+(?:what|that|this|it|the\s+(?:question|point|issue|rest))\b", re.I
)


def is_in_call(kind: str, speaker: str, verb: str, text: str) -> bool:
    """The agent's act in the conversation itself ("let me check", "I'll put you on hold")."""
    if speaker == "customer" or kind == "third":
        return False
    if verb == "ask" and ASK_TEAM.search(text):
        return False
    if _ON_HOLD.search(text) or _BACK_TO_TOPIC.search(text) or _GO_AHEAD.match(text):
        return True
    if under_way(kind, text):
        return True
    if verb in _DEFERRABLE and kind == "future" and is_later(text):
        return False
    if kind == "instruction" and is_later(text):
        # "could you read your meter tonight", "please check your inbox tomorrow", "could you
        # pull the shelving away from the wall tonight"
        return False
    if _LOG_IN.search(text):
        return True
    if verb == "let" and kind == "future" and _LET_KNOW.search(text):
        return False  # "I'll let you know by Friday", "I'll let the team know"
    if _TELL_NOW.search(text) and verb in _TELLING:
        return not is_later(text)  # "I'll go through the options with you on Friday": a step
    if verb == "be" and kind == "instruction" and _BE_THERE.search(text):
        return False
    return _looked_up(verb, text) or verb in IN_CALL_VERBS


def _looked_up(verb: str, text: str) -> bool:
    """A record brought up or a check run to answer in the call."""
    if verb in ("bring", "pull", "have", "get"):
        # "One moment, I'll bring it up.", "Give me one second and I'll have it up." (not "I'll
        # bring it up at the meeting tomorrow")
        return bool(_ON_SCREEN.search(text)) and not is_later(text)
    # "I'm running a remote signal test now", "I'm just opening the lift log for Tuesday" (the
    # log's day, not a date to come)
    return (
        verb in ("run", "open")
        and bool(_LOOK_UP.search(text))
        and not is_later(_LOOK_UP.sub("", text))
    )

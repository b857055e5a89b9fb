"""Acts the speaker has someone else do, read as that someone's own, pure: "I've asked the
branch manager to call you" → "the branch manager will call you", "I'll have the lads in
dispatch post a replacement out" → "the lads in dispatch will post…", "I'm sending a technician
out to fix it" → "a technician will fix it", "It'll be my husband picking it up" → "my husband
will pick it up". Used by :func:`callscope.insights.rewrites.rewritten`.
"""

from __future__ import annotations

import re
from typing import Final

from callscope.insights.actors import HOUSEHOLD, TRADES
from callscope.insights.numbers import WEEKDAY
from callscope.insights.verbs import ACTION_WORDS, ACTIONS, base_form

__all__ = ["FROM_WHOM", "NAMED_AFTER", "SUBJECT_OF", "delegated"]

#: who is to get in touch, said from the customer's side: "you'll get a call from the surveyor
#: on Monday", "you'll be contacted by our claims team" — read as "the surveyor will call you…"
FROM_WHOM = (
    r"(?P<who>(?:the|our|a|an|your)\s+(?:[a-z'-]+\s+){0,3}?[a-z'-]+?)(?=\s+(?:on|at|in|within|by|"
    r"before|after|tomorrow|today|tonight|this|next|between|when|once|as soon as|shortly|soon|"
    r"later|about|to|with|for|the\s+(?:day|night|morning|evening|week)\b)\b|\s*[.,!?]|\s*$)"
)
#: the object pronoun's subject form
SUBJECT_OF: Final = {"him": "he", "her": "she", "them": "they"}

#: the agent's request to someone else, done in the call: "I've asked the branch manager to
#: call you by tomorrow evening" — read as "the branch manager will call you…"; likewise
#: someone booked to act: "I've booked her to visit you on Monday" — "she will visit you…"
_ASKED_TO = re.compile(
    r"\b(?:I|we)(?:(?:'ve|\s+have)\s+(?:also\s+|just\s+)?(?:asked|booked|scheduled|arranged\s+for)|"
    r"(?:'m|\s+am|'re|\s+are)\s+(?:also\s+)?(?:asking|booking|scheduling|sending|getting))\s+"
    r"(?P<who>(?:the|our|my|a|an)\s+"
    r"(?:[a-z'-]+\s+){0,3}?[a-z'-]+(?:,\s+(?-i:[A-Z][a-z'-]+(?:\s+[A-Z][a-z'-]+)?),)?|him|her|"
    # a team said bare, or a colleague by name: "I've asked accounts to take the fee off"
    r"accounts|billing|dispatch|finance|payroll|(?-i:(?!I\b)[A-Z][a-z'-]+(?:\s+[A-Z][a-z'-]+){0,2})"
    # where they work or who they are: "Deborah in our inspections team", "Sipho, who did
    # your install,", "Jodie, our party coordinator,"
    r"(?:\s+(?:in|from)\s+(?:our|the)\s+(?:[a-z'-]+\s+){0,2}(?:team|department|office|desk)|"
    r",\s+(?:who\s+|our\s+|the\s+)[^,]{1,40},)?|"
    # "I'm sending them to our lab": a place, no one sent to act
    # sent out to act: "I'm sending Shane back out to look at it"
    r"them)(?:\s+(?:back\s+)?(?:out|round|over))?\s+to\s+"
    r"(?!(?:the|a|an|our|your|my|his|her|their|its|this|that|these|those)\b)"
    r"(?P<verb>[a-z]+)\b",
    re.I,
)
#: someone booked to act, said in the passive: "Craig is booked to come back on Thursday to fit
#: the island top" — read as "Craig will come back on Thursday…"; a time booked comes after
#: the act: "Manny's booked for tomorrow at nine to install it" — "Manny will install it
#: tomorrow at nine"
_BOOKED_TO = re.compile(
    r"(?P<who>\b(?!(?:it|that|this|there|he|she|they|everything|which|what)\b)"
    r"(?-i:[A-Z][a-z'-]+)(?:\s+(?-i:[A-Z][a-z'-]+))?|\b(?:the|our|an?)\s+(?:[a-z'-]+\s+)?"
    r"(?:"
    + TRADES
    + r"|team|crew))(?:\s+(?:is|are)|'s)\s+(?:now\s+|also\s+|still\s+)?(?:booked|scheduled)"
    r"\s+(?:for\s+(?P<when>(?:[a-z]+\s+){0,2}?(?:today|tonight|tomorrow|" + WEEKDAY + r")"
    r"(?:\s+(?:morning|afternoon|evening))?(?:\s+at\s+[a-z0-9:]+"
    r"(?:\s+[ap]\.?m\.?)?)?)\s+)?to\s+(?P<verb>[a-z]+)\b(?P<rest>[^,.;!?]*)",
    re.I,
)
#: a team made to act by someone: "Angela's going to have our claims team void that one" —
#: read as "our claims team will void that one"
_HAVE_TEAM = re.compile(
    r"\b(?:(?-i:(?!(?:Let|That|It|What|There|Here|He|She)'s)[A-Z][a-z]+)'s|(?:he|she|I|we)"
    r"(?:'ll|'s|'m|'re|\s+(?:is|are|am|will)))\s+(?:going\s+to\s+)?(?:have|get)\s+"
    r"(?P<who>(?:the|our)\s+(?:[a-z'-]+\s+){0,2}(?:team|department|desk))\s+(?:to\s+)?"
    r"(?P<verb>[a-z]+)\b",
    re.I,
)
#: the name said after who acts, set off by commas: "our contractor, Fenwick and Sons, …"
NAMED_AFTER = r"(?P<name>,\s+(?-i:[A-Z][\w'-]*(?:\s+(?:and\s+)?[A-Z][\w'-]*)*),)?"
#: "you'll hear from our contractor, Fenwick and Sons, to book it in" — read as "our
#: contractor, Fenwick and Sons, will contact you to book it in"
_HEAR_FROM = re.compile(
    r"\byou(?:'ll|\s+will|\s+should)\s+(?:also\s+)?(?:hear|be\s+hearing)\s+from\s+"
    + FROM_WHOM
    + NAMED_AFTER,
    re.I,
)
#: someone sent to act: "Our partner, AquaServ, is sending an engineer, Dave Rooney, to swap
#: the unit this afternoon", "I'm sending a technician out to fix it" — read as "an engineer,
#: Dave Rooney, will swap the unit this afternoon"
_SENDING = re.compile(
    r"^[^.;?]*?(?:'s|'re|'m|\s+is|\s+are|\s+am|\s+will\s+be|'ll\s+be)\s+sending\s+"
    r"(?P<who>(?:someone|somebody|(?:a|an|the|our|one of our)(?:\s+[a-z'-]+){0,2}?\s+"
    r"(?:" + TRADES + r"|team|crew|assessors?|doctors?|cleaners?|porters?|staff|person|people|"
    r"members? of staff))"
    r"(?:\s*,\s*[A-Z][a-z'-]+(?:\s+[A-Z][a-z'-]+)?\s*,)?)\s+(?:out\s+|round\s+|over\s+)?"
    r"to\s+(?P<verb>[a-z]+)\b",
)
#: someone the agent will have act: "I'll get her to call you by Friday", "we'll have the
#: engineer ring you" — read as "she will call you by Friday"
_GET_TO = re.compile(
    r"\b(?:I|we)(?:'ll|\s+will)\s+(?:get|have)\s+(?P<who>him|her|them|accounts|billing|dispatch|"
    r"(?:the|our|my|a|an)\s+(?:[a-z'-]+\s+){0,3}?[a-z'-]+)\s+(?:to\s+)?(?P<verb>call|ring|phone|"
    r"email|text|contact|visit|send|check|review|look|come|write|credit|refund|post)\b",
    re.I,
)
#: a person or a team had to do any listed act: "I'll have her scan my licence", "I'll have
#: the lads in dispatch post a replacement out" (not "I'll get a hold put on…", "I'll get my
#: son to help")
_GET_PERSON_TO = re.compile(
    r"\b(?:I|we)(?:'ll|\s+will)\s+(?:get|have)\s+(?P<who>him|her|them|"
    r"(?:the|our|my)\s+(?:[a-z'-]+\s+){0,2}(?:lads|guys|crew|gang|team|department|"
    rf"{TRADES}|{HOUSEHOLD})(?:\s+in\s+[a-z]+)?|"
    # a colleague by name, said aside to be the company's: "I'll get Ken, he's our in-house
    # astronomy nerd, to ring you Thursday evening" (not the customer's "I'll get Fiona, my
    # manager, to email you…": their own step)
    r"(?-i:[A-Z][a-z]+),\s+(?:(?:he|she)(?:'s|\s+is)\s+)?our\s+[^,]{1,40},)\s+(?:to\s+)?"
    rf"(?P<verb>{ACTION_WORDS})\b",
    re.I,
)


#: someone told or asked to act: "I'll tell him to keep an ear out for the gate and sign for
#: it", "we'll ask her to call you" — read as "he will keep an ear out…"
_TELL_TO = re.compile(
    # (not a step named only as "do that": "I'll ask her to do that" is the asking)
    r"\b(?:I|we)(?:'ll|\s+will)\s+(?:tell|ask)\s+(?P<who>him|her|them)\s+to\s+(?!do\b)"
    rf"(?P<verb>{ACTION_WORDS})\b",
    re.I,
)
#: the customer's person said as who it will be: "It'll be my husband picking it up on the
#: sixth" — read as "my husband will pick it up on the sixth"
_IT_WILL_BE = re.compile(
    r"\bit(?:'ll|\s+will)\s+be\s+(?P<who>my\s+(?:[a-z]+\s+)?(?:" + HOUSEHOLD + r"))\s+"
    r"(?P<verb>[a-z]+ing)\b",
    re.I,
)


def delegated(text: str) -> str:
    """``text`` with an act the speaker has someone else do said as theirs (see the module
    docstring)."""
    text = _ASKED_TO.sub(_will_act, text)
    text = _BOOKED_TO.sub(
        lambda m: (
            f"{_will_act(m)}{m.group('rest')}" + (f" {m.group('when')}" if m.group("when") else "")
        ),
        text,
    )
    text = _HAVE_TEAM.sub(
        lambda m: (
            _will_act(m) if base_form(m.group("verb")) == m.group("verb").lower() else m.group(0)
        ),
        text,
    )
    text = _HEAR_FROM.sub(
        lambda m: f"{m.group('who')}{m.group('name') or ''} will contact you", text
    )
    text = _SENDING.sub(_will_act, text)
    text = _GET_TO.sub(_will_act, text)
    text = _GET_PERSON_TO.sub(_will_act, text)
    text = _TELL_TO.sub(_will_act, text)
    return _IT_WILL_BE.sub(_their_part, text)


def _their_part(m: re.Match[str]) -> str:
    verb = base_form(m.group("verb"))
    return f"{m.group('who')} will {verb}" if verb in ACTIONS else m.group(0)


def _will_act(m: re.Match[str]) -> str:
    """ "(who) will (verb)", an object pronoun as its subject: "I'll get her to call you" →
    "she will call you"."""
    who = m.group("who")
    return f"{SUBJECT_OF.get(who.lower(), who)} will {m.group('verb')}"

"""The speaker's own acts in a clause, pure: a first-person future ("I'll send…", "we're
going to…"; "I'll be at the NEC on the twentieth to hand the stand over" is the handing over),
"let me" with a time after the call ("Let me send you a letter after we hang up"), the present
progressive ("I'm adding…"; not "the printout I'm sending you shows…", which describes a
thing) and the past ("I've put in…"). Third parties are :mod:`callscope.insights.actors`'.
"""

from __future__ import annotations

import re
from typing import Final

from callscope.insights.verbs import ACTIONS, IN_CALL_VERBS, base_form

__all__ = ["FUTURE_1", "guessed_base", "own_act"]

#: the first-person future
FUTURE_1 = re.compile(
    r"\b(?:i|we)(?:'ll|\s+will|\s+shall|'m going to|\s+am going to|'re going to|\s+are going to)"
    r"\s+(?:also\s+|now\s+|then\s+|just\s+|personally\s+|definitely\s+)?(?P<verb>[a-z]+)",
    re.I,
)
_PROGRESSIVE_1 = re.compile(
    r"\b(?:i'm|i am|we're|we are)\s+(?:also\s+|now\s+|just\s+)?(?P<verb>[a-z]+ing)\b", re.I
)
#: the agent's present progressive with a verb that is no listed action but has an object:
#: the recogniser garbles the verb ("I'm booting a loaner car" for "putting"); the classifier
#: judges it (:attr:`Frame.guessed`)
_PROGRESSIVE_GUESS = re.compile(
    r"\b(?:i'm|i am|we're|we are)\s+(?:also\s+|now\s+|just\s+)?(?P<verb>[a-z]{2,}ing)\s+"
    r"(?:a|an|the|your|you|this|that|it|these|those)\b",
    re.I,
)
#: -ing words after "I'm" that are no act on the customer's matter
_NOT_ACT_WORDS: Final = """going trying calling speaking seeing showing hoping thinking
wondering having reading saying guessing assuming noticing finding missing waiting expecting
lacking struggling experiencing"""
_NOT_ACTS: Final = frozenset(_NOT_ACT_WORDS.split())
_PAST_1 = re.compile(
    r"\b(?:i|we)(?:'ve|\s+have|\s+just|\s+already)?\s+(?:also\s+|just\s+|now\s+|already\s+)?"
    r"(?P<verb>[a-z]+(?:ed|t|n|d))\b",
    re.I,
)


def own_act(
    body: str, first: re.Match[str] | None, *, later: bool, customer: bool
) -> tuple[str, str] | None:
    """(kind, verb) of the speaker's own act in ``body`` (``first``: its first-person future,
    ``later``: the clause names a time after the call, ``customer``: the customer speaks, whose
    progressive and past say what happened, not what they will do)."""
    if first:
        return "future", _future_verb(first, body, customer=customer)
    let = _LET_ME_LATER.match(body)
    # (not "let me sort Monday first": done now, before the rest of the call)
    first_now = re.search(r"\bfirst\b", body, re.I) is not None
    if let and later and not first_now and base_form(let.group("verb")) in ACTIONS - IN_CALL_VERBS:
        return "future", base_form(let.group("verb")) or ""
    if customer:
        # a plan of the customer's with a time and a purpose: "I'm seeing my family doctor on
        # Monday to get the referral" (not "I'm calling about…", "I'm going on holiday")
        m = _PROGRESSIVE_1.search(body) if later else None
        verb = base_form(m.group("verb")) if m else None
        if m and verb and verb != "go" and _PURPOSE_TO.search(body[m.end() :]):
            return "future", verb
        if m and verb in _CUSTOMER_PLANS and _THING_AFTER.match(body[m.end() :]):
            # "I'm setting up fraud alerts with the other two this afternoon"
            return "future", verb
        can = _CAN_1.search(body) if later else None
        verb = base_form(can.group("verb")) if can else None
        if verb in _CUSTOMER_PLANS:
            return "future", verb or ""  # "I filed one on Saturday. I can upload it tonight."
        return None
    can = _CAN_1.search(body) if later else None
    if can and can.group("verb").lower() in _SENDS_OUT and _OUT_TO_YOU.match(body[can.end() :]):
        # "I can get Gavin, who fitted it, back out to you on Thursday morning": the offer made
        return "future", can.group("verb").lower()
    m = _PROGRESSIVE_1.search(body)
    if m and _NAMES_A_THING.search(body[: m.start()]):
        m = None  # "the printout I'm sending you shows…": a thing described, no act
    if m and m.group("verb").lower() != "going" and base_form(m.group("verb")):
        return "progressive", base_form(m.group("verb")) or ""
    m = _PROGRESSIVE_GUESS.search(body)
    if m and m.group("verb").lower() not in _NOT_ACTS and base_form(m.group("verb")) is None:
        return "progressive", guessed_base(m.group("verb"))
    m = _PAST_1.search(body)
    if m and _is_past(m):
        return "past", base_form(m.group("verb")) or ""
    return None


def _future_verb(first: re.Match[str], body: str, *, customer: bool) -> str:
    """The act of a first-person future: its verb's base form, or what the speaker will be
    somewhere to do ("I'll be at the NEC on the twentieth to hand the stand over to you")."""
    verb = base_form(first.group("verb")) or first.group("verb")
    if verb != "be":
        return verb
    after = body[first.end() :]
    # (not the customer's "…, I'll be ringing someone else": a threat, or "I'll be waiting")
    doing = None if customer else _BE_DOING.match(after)
    if doing and base_form(doing.group("verb")):
        return base_form(doing.group("verb")) or verb  # "I'll be checking the site myself…"
    sure = _BE_SURE_TO.match(after)
    if sure and base_form(sure.group("verb")):
        return base_form(sure.group("verb")) or verb  # "I'll be sure to lodge the claim…"
    there = _BE_THERE_TO.match(after)
    act = base_form(there.group("verb")) if there else None
    return act if act in ACTIONS and act not in IN_CALL_VERBS else verb


#: "be" somewhere to act: "…be at the NEC myself on the morning of the twentieth to hand…"
_BE_THERE_TO = re.compile(
    r"\s+(?:at|in|there|round|over|on site|with you)\b[^,.;?!]{0,60}?\bto\s+(?P<verb>[a-z]+)\b",
    re.I,
)
#: a promise said as being sure: "I'll be sure to lodge the claim as soon as we hang up"
_BE_SURE_TO = re.compile(r"\s+(?:sure|certain)\s+to\s+(?P<verb>[a-z]+)\b", re.I)
#: the future said in the progressive: "I'll be checking the site myself on Saturday"
_BE_DOING = re.compile(r"\s+(?P<verb>[a-z]+ing)\b", re.I)
#: the customer's acts that, said in the progressive with a time to come, are their plan (not
#: "I'm flying out on Friday", "I'm working Saturday")
_CUSTOMER_PLANS: Final = frozenset(
    ("set", "send", "post", "drop", "bring", "upload", "email", "fill", "sign", "return", "book",
     "call", "ring", "take", "pay", "order", "cancel", "collect", "pick", "fax", "submit")
)  # fmt: skip
#: the customer's offer: "I can upload it tonight"
_CAN_1 = re.compile(r"\b(?:i|we)\s+can\s+(?:also\s+|just\s+)?(?P<verb>[a-z]+)\b", re.I)
#: the agent's offer of someone sent to the customer (:data:`_CAN_1`)
_SENDS_OUT: Final = frozenset(("get", "send", "have"))
_OUT_TO_YOU = re.compile(
    r"\s+(?:[^.;?!]{1,40}?\s+)?(?:back\s+)?(?:out|round|over)\s+to\s+(?:you|your)\b", re.I
)
#: an object after the act: "setting up fraud alerts", "sending the form"
_THING_AFTER = re.compile(
    r"\s+(?:up\s+|off\s+|back\s+|in\s+|out\s+|over\s+)?(?:a|an|the|my|our|it|them|those|these|"
    r"that|this|some|(?:[a-z'-]+\s+)?[a-z]+s)\b",
    re.I,
)
#: what a customer's plan is for: "…on Monday to get the referral"
_PURPOSE_TO = re.compile(r"\bto\s+(?:get|pick|collect|drop|sign|sort|bring|have)\b", re.I)
#: "let me" with an act put off to after the call (see :func:`_kind`)
_LET_ME_LATER = re.compile(r"^let\s+me\s+(?:just\s+|also\s+)?(?P<verb>[a-z]+)\b", re.I)
#: a noun just before the speaker's act, which it describes: "the printout I'm sending you"
_NAMES_A_THING = re.compile(r"\b(?:the|a|an|this|that|these|those)\s+[a-z'-]+\s+$", re.I)


def guessed_base(ing: str) -> str:
    """The base form of an unlisted -ing word, guessed: "booting" → "boot", "putting" →
    "put"."""
    stem = ing.lower()[:-3]
    if len(stem) > 2 and stem[-1] == stem[-2] and stem[-1] not in "lsz":
        stem = stem[:-1]
    return stem


def _is_past(m: re.Match[str]) -> bool:
    """ "I've put in", "I just sent", "we refunded": a perfect or a distinct past form ("I've
    got" is having, no act)."""
    verb = m.group("verb").lower()
    if verb == "got" and re.search(r"'ve|\bhave\b", m.group(0)):
        return False
    base = base_form(verb)
    if base is None:
        return False
    return verb != base or bool(re.search(r"'ve|\bhave\b|\bjust\b|\balready\b", m.group(0)))

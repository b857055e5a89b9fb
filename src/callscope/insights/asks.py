"""What the agent asks of the customer, pure: an instruction ("please send us the receipt",
"you'll need to bring your ID", "make sure you…", "when the card arrives, activate it"), a
request put as a question ("could you send us a photo of the tear?") or someone on the
customer's side who must act ("someone will need to be home"). A request answered in the call
("could you give me the agreement number?") and advice for a case that may not come ("if it
doesn't match, just call us") ask for no step. Used by :mod:`callscope.insights.clauses`.
"""

from __future__ import annotations

import re
from typing import Final

from callscope.insights.actors import HAPPENINGS, HOUSEHOLD
from callscope.insights.incall import ASK_TEAM, SAID_NOW, is_later
from callscope.insights.verbs import ACTIONS, IN_CALL_VERBS, base_form

__all__ = ["INSTRUCT", "REQUEST", "instruction"]

#: words after "please" that ask for no step ("please bear with me", "please don't worry")
_NOT_IMPERATIVE_WORDS: Final = """bear be enjoy feel accept excuse forgive allow don dont
not never kindly understand rest relax"""
_NOT_IMPERATIVES: Final = frozenset(_NOT_IMPERATIVE_WORDS.split())


#: an unnamed someone who must act, said by the agent: someone on the customer's side ("someone
#: will need to be home to let him in", "someone at your office will have to sign")
_SOMEONE_MUST = re.compile(
    r"\b(?:someone|somebody)(?:\s+(?:at|from|in)\s+(?:your|the)\s+[a-z]+)?\s+(?:will\s+(?:need|"
    r"have)\s+to|needs\s+to|has\s+to|must)\s+(?P<verb>[a-z]+)",
    re.I,
)


#: the agent's request put as a question: "could you send us a photo of the tear?", "would
#: you mind sending us the receipt?" (the customer's step)
REQUEST = re.compile(
    r"^(?:(?:could|can|would|will)\s+you\s+(?:(?:please|just|also|mind|be able to)\s+){0,2}|"
    # "Can I ask you to take a few photos…?", "Are you able to box up the shirts…?"
    r"(?:can|could|may)\s+i\s+ask\s+you\s+to\s+|are\s+you\s+able\s+to\s+|"
    # asked of the customer's own people: "could your drivers switch their ignitions on…?"
    rf"(?:could|can|would)\s+(?P<people>your\s+(?:[a-z]+\s+)?(?:{HOUSEHOLD}|drivers|crew|lads|"
    r"team))\s+)"
    r"(?P<verb>[a-z]+)\b",
    re.I,
)
#: requests answered on the call itself: "could you give me the agreement number?"
_ASKED_NOW: Final = IN_CALL_VERBS | {"give", "tell", "read", "spell", "confirm", "hold"}


INSTRUCT = re.compile(
    r"^(?:so\s+|then\s+|just\s+|now\s+)*(?:please\s+(?:just\s+)?(?P<verb>[a-z]+)|(?:you'll|you\s+"
    r"will|you)\s+(?:just\s+)?(?:need|have|want)\s+to\s+(?P<verb2>[a-z]+)|just\s+(?P<verb3>(?![a-z]+(?:ing|ed)\b)[a-z]+)|"
    r"go ahead and\s+(?P<verb4>[a-z]+)|(?:(?:i|we)(?:'d|\s+would|'ll|\s+will)?\s+need\s+you|"
    r"(?:i|we)(?:'d|\s+would)\s+like\s+you|"
    r"all\s+you\s+need\s+to\s+do\s+is|(?:please\s+)?(?:remember|don't forget|do not forget))"
    r"\s+(?:to\s+)?(?P<verb5>[a-z]+)|(?:please\s+)?make\s+sure\s+(?:that\s+)?"
    # someone of the customer's: "Make sure he brings the signed medical form"
    r"(?:you|he|she|they)\s+(?P<verb6>[a-z]+)|"
    r"you\s+should\s+(?:also\s+)?(?P<verb7>[a-z]+))\b",
    re.I,
)


def _asked_of_customer(body: str) -> str:
    """The verb of the agent's request put as a question or of what someone on the customer's
    side must do; "" when neither. A request answered in the call ("could you read me the
    number?") is none, unless it names a time after the call ("could you read your meter
    tonight?") or asks the customer to ask someone else ("could you ask your vet to…")."""
    m = REQUEST.search(body)
    asked = base_form(m.group("verb")) if m else None
    rest = body[m.end() :] if m else ""
    if m and asked == "do" and _FAVOUR.match(rest):
        return ""  # "Could you do something for me this evening?": the request follows
    if (
        m
        and m.group("verb").lower() == "have"
        and (_HAVE_THING.match(rest) or _HAVE_SOMEONE.match(rest))
    ):
        return "have"  # "could you have any empties out the front, ready for him?"
    if m and asked == "make" and re.match(r"\s+(?:that|it)\W*$", rest, re.I):
        return ""  # "Can you make that?": whether the time suits, asked after the request
    if asked and (
        asked not in _ASKED_NOW
        or (asked == "ask" and ASK_TEAM.search(body))
        or (asked not in ("hold", "give", "tell", "spell", "repeat") and is_later(body))
        or (bool(_TO_SOMEONE_ELSE.search(body)) and not SAID_NOW.search(body))
    ):
        return asked
    if (
        m
        and asked is None
        and m.group("verb").lower() not in _ASKED_NOW
        and _OBJECT_AHEAD.match(body[m.end() :])
        and is_later(body)
    ):
        # an unlisted verb with an object and a time after the call: "could you run a failover
        # test this week…" (its verb guessed)
        return m.group("verb").lower()
    m = _SOMEONE_MUST.search(body)
    return m.group("verb").lower() if m else ""


#: a request announced before it is made
_FAVOUR = re.compile(
    r"\s+(?:something|one thing|me a favou?r|(?:two|three|a couple of|a few)\s+(?:quick\s+)?"
    r"things)\b",
    re.I,
)
_TO_SOMEONE_ELSE = re.compile(
    r"\b(?:give|tell|send)\s+(?:him|her|them|your\s+[a-z]+)\s+(?:our|my|the|a|an)\b", re.I
)
#: an object after an unlisted verb: "could you run a test" (a request, its verb guessed)
_OBJECT_AHEAD = re.compile(r"\s+(?:a|an|the|your|this|that|these|those|it|them|all|both)\b", re.I)


#: "if it doesn't match, (just) call us": advice for a case that may not come, no step
_CONTACT_US = re.compile(
    r"^(?:(?:just|please|then|so|simply)\s+)*(?:(?:call|contact|ring|phone|email|text|message)"
    r"\s+(?:us|me|back)|give\s+(?:us|me)\s+a\s+(?:call|ring|shout)|get in touch|let (?:us|me) know|"
    r"reply\s+to\s+(?:my|our|the|this|that)\s+(?:[a-z]+\s+)?(?:email|message|text|letter)|write\s+to\s+(?:us|me))"
    r"\b",
    re.I,
)


_INSTRUCT_VERBS: Final = ("verb", "verb2", "verb3", "verb4", "verb5", "verb6", "verb7")
_EXPECTED = re.compile(r"^\s*(?:and\s+)?(?:then\s+)?(?:when|once|as soon as)\b", re.I)


#: someone the customer must have somewhere: "(you'll need to) have someone with a licence
#: there to sign for it", "have an adult at home"
_HAVE_SOMEONE = re.compile(
    r"\s+(?:someone|somebody|an?\s+(?!(?:look|go|think|read|chat|word|try|break|feel)\b)"
    r"[a-z]+)\b[^,.;]{0,60}?\b(?:there|at home|home|on site|"
    r"available|present|in|at)\b",
    re.I,
)

#: a thing to be made ready or put somewhere for a visit: "have it off the bed frame", "have
#: the boxes by the door", "have your ID with you", "have both modules finished"
_HAVE_THING = re.compile(
    r"\s+(?:it|them|everything|all\s+of\s+(?:it|them)|(?:the|your|any|some)\s+[a-z'-]+(?:\s+[a-z'-]+)?)"
    r"\s+(?:ready|off|out|cleared|unplugged|emptied|packed|near|by\s+the|at\s+the|outside|"
    r"downstairs|with\s+you)\b"
    # something done by then: "have both of your modules finished before the first day"
    r"|\s+(?:[\w'-]+\s+){1,4}?(?:finished|done|completed|signed|filled\s+in|sorted|stacked)\b"
    # a place made clear: "have the path down the left side of the studio cleared"
    r"|\s+(?:the|your)\s+(?:[\w'-]+\s+){1,8}?(?:cleared|unlocked|emptied|tidied|moved)\b",
    re.I,
)


def instruction(text: str, body: str, conditional: bool, *, opens: bool = True) -> str:
    """The verb of the agent's instruction or request to the customer in ``body`` (``text``
    with a leading condition dropped, ``conditional`` when one was; ``opens`` when the clause
    opens its sentence); "" when none."""
    if conditional and _CONTACT_US.match(body):
        return ""
    m = INSTRUCT.search(body)
    if m:
        said = next((v for v in m.group(*_INSTRUCT_VERBS) if v), "")
        verb = base_form(said)
        if verb and not (m.group("verb7") and verb in HAPPENINGS):
            return verb  # not "you should receive it tomorrow": a consequence
        if said.lower() == "have" and (
            _HAVE_SOMEONE.match(body[m.end() :]) or _HAVE_THING.match(body[m.end() :])
        ):
            # "you'll need to have someone there to sign for it", "…to have it off the bed
            # frame and near the front door"
            return "have"
        plea = (m.group("verb") or "").lower()
        if len(plea) > 2 and plea not in _NOT_IMPERATIVES and not plea.endswith(("ing", "ed")):
            return plea  # "please avoid chewing…": guessed
    asked = _asked_of_customer(body)
    if asked:
        return asked
    # a bare imperative after an event to come: "when the card arrives, activate it in the
    # app" ("if it happens again, restart the router" is advice for a case that may not come)
    first = re.match(r"(?:(?:just|simply)\s+)?([a-z]+)", body, re.I)
    if first and conditional and _EXPECTED.search(text):
        word = first.group(1).lower()
        if base_form(word) == word and word not in IN_CALL_VERBS:
            return word
    return "" if conditional or not is_later(body) else _told_with_a_time(body, opens=opens)


def _told_with_a_time(body: str, *, opens: bool) -> str:
    """The verb of an act the customer is told to do with a time to come in ``body``: a bare
    imperative ("Email it to me by Friday, so I've got time…"; not the last of a list of
    someone's acts: "They'll call you…, and get it back to you within ten days"), or the
    customer's part of a plan said in the present ("…, and you bring the damaged one into the
    shop on Saturday morning"; not "you get priority handling": what they get)."""
    bare = _BARE_IMPERATIVE.match(body) if opens else None
    if bare:
        word = bare.group(1).lower()
        if word in ACTIONS and word not in IN_CALL_VERBS:
            return word
    if opens and _LET_KNOW.match(body):
        return "let"  # "let me know by Monday week": an answer owed after the call
    planned = _YOU_PLANNED.match(body)
    if planned:
        word = planned.group(1).lower()
        if word in ACTIONS and word not in IN_CALL_VERBS and word not in HAPPENINGS:
            return word
    return ""


_LET_KNOW = re.compile(r"let\s+(?:me|us)\s+know\b", re.I)
_YOU_PLANNED = re.compile(
    r"you\s+(?:just\s+|then\s+)?([a-z]+)\s+(?:it|them|the|your|this|that|these|those|us)\b",
    re.I,
)


#: a verb opening the clause with its object after it: "email it to me", "send us the form"
_BARE_IMPERATIVE = re.compile(
    r"([a-z]+)\s+(?:it|them|me|us|the|a|an|your|this|that|these|those|him|her)\b", re.I
)

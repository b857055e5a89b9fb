"""Clause-level reading of a call's sentences for next steps, pure.

A sentence is cut into clauses at conjunctions (", and", ", so", ", but", ";", "so that", and an
"and" that opens a subject of its own with a modal: "…the claim and a plumber will call"); a clause
that only states a consequence ("you'll see it on your next bill", "it should arrive in five
days") stays with the action before it. Each clause gets a **frame**: who acts (the speaker,
a third party — "the team will", "they'll", "a technician will", any noun phrase or name
opening the clause that acts on something: "your bank will return…", "Marco, our depot
supervisor, is going to search…" — or, when the agent tells the customer to do something,
the customer), how (first-person future, present progressive, past with a consequence, a
conditional promise, an instruction) and the signs that it is no commitment (negation, a
question, a hypothetical, in-call procedure, a complaint about an earlier promise; an in-call
verb put off to a time after the call is no in-call procedure: "I'll check the readings
tomorrow morning", "could you read your meter tonight?"). "You'll get a text from us…" and "a
calendar invite will follow by email" are read as the speaker's "we'll text you…", "we'll send
you a calendar invite…"; a named third party who "will be with you" or "be there" visits.
:func:`step_text` writes a committed clause as a next step in the RingSense style (spec §10,
seed ``ringsense-for-sales``): owner + action + object + deadline —
"Email the customer the list of approved glass shops.", "Network team to push a fix tonight.",
"Customer to send the photos of the damage tonight." — with the deadline normalised and put
last, and the pronouns made third person in grammatical English.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final

from callscope.insights.misheard import repaired
from callscope.insights.verbs import IN_CALL_VERBS, base_form, past_form

__all__ = [
    "Clause", "Frame", "clauses", "done_text", "frame", "is_consequence", "spoken_numbers",
    "step_text", "third_person",
]  # fmt: skip

#: "and" opening a clause with a subject of its own and a modal: the recogniser drops the
#: comma of "I've approved the claim, and a plumber will contact you", and the agent's act
#: must not be read as part of the third party's
_NEW_SUBJECT = (
    r"(?:i|we)(?:'ll|\s+will|'m going to|\s+am going to|'re going to|\s+are going to)\b"
    r"|(?:they|he|she)(?:'ll|\s+will|'re going to|\s+are going to|'s going to|\s+is going to)\b"
    r"|(?:the|a|an|our|your)\s+(?:[a-z]+\s+){0,4}?[a-z]+(?:'ll|\s+will|\s+is going to|"
    r"\s+are going to)\s+(?!be\b)[a-z]+"
)
_SPLIT = re.compile(
    r"\s*(?:;|,\s*(?:and|so|but|then|and then|plus)\b|,\s*(?=please\b)|\s+and then\b|"
    r"\s+so that\b|\s+and\s+(?=" + _NEW_SUBJECT + r"))\s*",
    re.I,
)
_CONSEQUENCE = re.compile(
    r"^(?:and\s+|so\s+)?(?:you|you'll|it|it'll|that|this|the(?: \w+){1,3})\s*"
    r"(?:'ll|will|should|would|can|'s going to|is going to)?\s*"
    r"(?:see|get|receive|show|arrive|take|be|appear|reach)\b",
    re.I,
)
_FUTURE_1 = re.compile(
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
wondering having reading saying guessing assuming noticing finding"""
_NOT_ACTS: Final = frozenset(_NOT_ACT_WORDS.split())
#: words after "please" that ask for no step ("please bear with me", "please don't worry")
_NOT_IMPERATIVE_WORDS: Final = """bear be enjoy feel accept excuse forgive allow don dont
not never kindly understand rest relax"""
_NOT_IMPERATIVES: Final = frozenset(_NOT_IMPERATIVE_WORDS.split())
_PAST_1 = re.compile(
    r"\b(?:i|we)(?:'ve|\s+have|\s+just|\s+already)?\s+(?:also\s+|just\s+|now\s+|already\s+)?"
    r"(?P<verb>[a-z]+(?:ed|t|n|d))\b",
    re.I,
)
_THIRD = re.compile(
    r"(?P<who>\b(?:they|he|she|someone|somebody|(?:dr|mr|mrs|ms|miss|doctor)\.?\s+[a-z]+|"
    r"(?:(?:our|the|a|an|my|your)\s+)(?:[a-z']+\s+){0,2}"
    r"(?:team|department|engineers?|technician|mechanic|manager|supervisor|adjuster|"
    r"specialist|office|pharmacist|plumber|installer|courier|carrier|warehouse|desk|lab|"
    r"driver|agent|store|billing|dispatch|representative|doctor|nurse|provider)|billing|"
    r"accounts payable|dispatch))\s*(?:'ll|will|is going to|are going to|'s going to|'re going"
    r" to|should(?!\s+(?:have|not|never)\b))\s+(?:also\s+|then\s+|now\s+)?(?P<verb>[a-z]+)",
    re.I,
)
#: a third party named by any noun when it is to get in touch: "the adjuster will call you"
#: (the recogniser may have garbled the noun: "the juster will contact you")
_THIRD_CONTACT = re.compile(
    r"(?P<who>\b(?:the|our|your)\s+[a-z']+)\s*(?:'ll|will|is going to)\s+(?:also\s+|then\s+)?"
    r"(?P<verb>contact|call|email|text|reach out to|phone|message|visit)\s+you\b",
    re.I,
)


#: an unnamed someone who must act, said by the agent: someone on the customer's side ("someone
#: will need to be home to let him in", "someone at your office will have to sign")
_SOMEONE_MUST = re.compile(
    r"\b(?:someone|somebody)(?:\s+(?:at|from|in)\s+(?:your|the)\s+[a-z]+)?\s+(?:will\s+(?:need|"
    r"have)\s+to|needs\s+to|has\s+to|must)\s+(?P<verb>[a-z]+)",
    re.I,
)


#: the agent's request put as a question: "could you send us a photo of the tear?", "would
#: you mind sending us the receipt?" (the customer's step)
_REQUEST = re.compile(
    r"^(?:could|can|would|will)\s+you\s+(?:(?:please|just|also|mind|be able to)\s+){0,2}"
    r"(?P<verb>[a-z]+)\b",
    re.I,
)
#: requests answered on the call itself: "could you give me the agreement number?"
_ASKED_NOW: Final = IN_CALL_VERBS | {"give", "tell", "read", "spell", "confirm", "hold"}
#: the customer's bare yes to a request ("I'll do that tonight", "will do"): the step is the
#: request itself
_ACCEPT = re.compile(
    r"^\s*(?:(?:that|it|this|so)\b(?:\s+for\s+you)?(?:\s+[a-z]+){0,2}\s*)?[.!]?$"
    # the recogniser's "Will do thank you for sorting it out" (no stop after "will do")
    r"|^\s*(?:(?:that|it|this)\b)?[\s,.!]*(?:thanks|thank you|cheers)\b",
    re.I,
)


#: words that open a clause but name no one who could act
_NOT_ACTOR_WORDS: Final = """i we you it that this there which who what everything nothing
something anything he she they someone somebody one mine yours then so also tomorrow today
tonight later next first once if when all each both either neither none"""
_NOT_ACTORS: Final = frozenset(_NOT_ACTOR_WORDS.split())
#: the things of a support call, which do not act of themselves ("the portal will email you a
#: receipt", "our policy will cover the repair"): no third party
_THING_WORDS: Final = """policy warranty cover coverage plan contract system app portal website
site software card order parcel package payment refund fee charge price voucher credit
discount form letter email message router modem device meter machine screen update fix bill
invoice statement subscription membership booking ticket receipt code link money balance
reminder confirmation tariff rate deal offer insurance scheme process"""
_THINGS: Final = frozenset(_THING_WORDS.split())
#: a third party named by any noun phrase or name opening the clause, an appositive allowed:
#: "your bank will return…", "the crew will empty…", "Medwise will write…", "Marco, our depot
#: supervisor, is going to search…", "your new teacher, Ms. Ortega, will send…"
_THIRD_OPEN = re.compile(
    r"^(?P<subject>(?:the|our|your|a|an|my|their)\s+(?:[a-z'-]+\s+){0,3}?[a-z'-]+|"
    r"[a-z][a-z'-]+(?:\s+[a-z][a-z'-]+)?(?:\s+(?:in|from|at)\s+(?:the\s+)?[a-z'-]+)?)"
    r"(?:\s*,\s*(?P<appos>[^,]{2,40}?(?:,\s*[^,]{1,20}?)?)\s*,)?\s*"
    r"(?:'ll|\s+will|\s+is going to|\s+are going to|'s going to|"
    r"\s+should(?!\s+(?:have|not|never)\b))\s+"
    r"(?:also\s+|then\s+|now\s+|personally\s+|(?:him|her)self\s+)?(?P<verb>[a-z]+)\b"
    r"(?P<rest>.*)$",
    re.I,
)
#: after an open subject the act must reach someone or something ("…will empty your bin",
#: or as the recogniser heard it, "…will empty year-bin"), or be a visit or a call: "the
#: order will ship tomorrow" says what happens to a thing
_NO_OBJECT = re.compile(
    r"^\s*(?:$|[.,;!?]|(?:on|at|in|by|from|within|before|after|until|around|tomorrow|today|"
    r"tonight|next|automatically|overnight|soon|shortly|later|now|again|off|as|when|once|if|"
    r"and|or|but|so|this (?:morning|afternoon|evening|week|month))\b)",
    re.I,
)
_INTRANSITIVE_ACTS: Final = frozenset(("visit", "come", "call", "ring", "phone", "contact"))
#: verbs after an open subject that say what happens, not what someone does
_HAPPENINGS: Final = frozenset(("be", "have", "see", "get", "receive", "show", "arrive", "take",
                                "appear", "reach", "go", "need", "let", "come"))  # fmt: skip


def _third_open(body: str) -> tuple[str, str] | None:
    """(who, verb) of a third party named by any noun phrase or name opening ``body``."""
    m = _THIRD_OPEN.match(body)
    if m is None:
        return None
    said = re.split(r"\s+(?:in|from|at)\s+", m.group("subject"))[0].split()
    words = [w.lower() for w in said]
    name = any(w[:1].isupper() for w in said[1:])  # "Hollis Insurance will write…"
    if words[0] in _NOT_ACTORS or words[-1] in _NOT_ACTORS or (_thing(words[-1]) and not name):
        return None
    verb = base_form(m.group("verb"))
    if verb == "be" and _BE_WITH_YOU.match(m.group("rest")):
        return _who(m), "be"  # "Luis will be with you between 8 and 9": a visit
    if verb is None or (verb in _HAPPENINGS and verb not in _INTRANSITIVE_ACTS):
        return None
    if verb not in _INTRANSITIVE_ACTS and _NO_OBJECT.match(m.group("rest")):
        return None
    return _who(m), verb


def _who(m: re.Match[str]) -> str:
    """The third party as said: the name of "Marco, our depot supervisor," or of "your new
    teacher, Ms. Ortega,"."""
    appos = (m.group("appos") or "").strip()
    return appos if appos[:1].isupper() else m.group("subject")


#: "be" as a visit by a third party: "Luis will be with you between 8 and 9", "the fitter
#: will be there by noon", "the crew will be at your house at 7"
_BE_WITH_YOU = re.compile(
    r"\s+(?:with you|there|at your|round|over|out to you|on site|at the (?:house|property|"
    r"site|flat|door))\b",
    re.I,
)


def _thing(noun: str) -> bool:
    return noun in _THINGS or noun.removesuffix("s") in _THINGS


def _third(text: str) -> re.Match[str] | None:
    """The first third party's act in ``text``."""
    contact = _THIRD_CONTACT.search(text)
    if contact and _thing(contact.group("who").split()[-1].lower()):
        contact = None  # "the portal will email you…"
    found = [m for m in (_THIRD.search(text), contact) if m]
    return min(found, key=lambda m: m.start()) if found else None


_INSTRUCT = re.compile(
    r"^(?:so\s+|then\s+|just\s+|now\s+)*(?:please\s+(?:just\s+)?(?P<verb>[a-z]+)|(?:you'll|you\s+"
    r"will|you)\s+(?:just\s+)?(?:need|have|want)\s+to\s+(?P<verb2>[a-z]+)|just\s+(?P<verb3>[a-z]+)|"
    r"go ahead and\s+(?P<verb4>[a-z]+)|(?:(?:i|we)(?:'d|\s+would)?\s+need\s+you|"
    r"all\s+you\s+need\s+to\s+do\s+is|(?:please\s+)?(?:remember|don't forget|do not forget))"
    r"\s+(?:to\s+)?(?P<verb5>[a-z]+)|(?:please\s+)?make\s+sure\s+(?:that\s+)?you\s+(?P<verb6>[a-z]+)|"
    r"you\s+should\s+(?:also\s+)?(?P<verb7>[a-z]+))\b",
    re.I,
)
#: a purpose or reason clause after the promise: its negation ("I'll drop off two heaters so
#: you're not cold tonight") is no veto of the promise before it
_PURPOSE = re.compile(r"\s+(?:so that|so|because|since|in case|or else|otherwise)\s+", re.I)
NEGATED: Final = re.compile(
    r"\b(?:won't|will not|shan't|am not going to|'m not going to|are not going to|aren't going"
    r" to|never|cannot|can't|not able|unable|wouldn't|don't|doesn't|isn't|not)\b",
    re.I,
)
_CONDITION = re.compile(
    r"^\s*(?:and\s+)?(?:if|unless|in case|once|as soon as|when|should\s+(?:it|you|the|that|this|"
    r"they|there|anything|your)\b)\b",
    re.I,
)
_HYPOTHETICAL = re.compile(
    r"\b(?:would|could|might|hypothetically|were|had)\b(?!\s+(?:been\s+)?(?:to\b))", re.I
)
_COMPLAINT = re.compile(
    r"\b(?:you|they|he|she|someone|somebody|the last \w+|your colleague)\s+(?:said|promised|told"
    r"|was supposed)|\b(?:was|were)\s+(?:told|promised)|\bnever (?:did|happened|came|showed|"
    r"arrived)|\bnothing happened|\bpromised to\b",
    re.I,
)
_QUESTION = re.compile(r"\?\s*$")
_LEADING = re.compile(
    r"^(?:(?:ok(?:ay)?|so|yes|sure|great|alright|right|well|and|then|also|now|good news|"
    r"perfect|thanks|thank you|fine|got it|understood|in the meantime|to make up for it|"
    r"anyway|maybe later|i understand|of course|absolutely|certainly|no problem|but)[,.!]?\s+)+",
    re.I,
)
_SMALL_NUMBERS: Final = (
    "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen "
    "fifteen sixteen seventeen eighteen nineteen twenty"
)
_NUMBER_WORDS: Final = {w: i for i, w in enumerate(_SMALL_NUMBERS.split())}
_TENS: Final = {"twenty": 20, "thirty": 30, "forty": 40, "fifty": 50, "sixty": 60, "ninety": 90}
_WEEKDAY = r"(?:monday|tuesday|wednesday|thursday|friday|saturday|sunday)"
_MONTH = (
    r"(?:january|february|march|april|may|june|july|august|september|october|november|december)"
)
_UNIT = r"(?:business\s+days?|working\s+days?|days?|hours?|minutes?|weeks?|months?)"
_NUMBER_WORD = (
    r"(?:one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|fourteen|fifteen|"
    r"twenty|thirty|forty|fifty|sixty|seventy|eighty|ninety|a few|several|a couple of)"
)
_N = rf"(?:\d+|{_NUMBER_WORD}(?:[- ]{_NUMBER_WORD})?)"
DEADLINE: Final = re.compile(
    r"(?:\b(?:by|before|on|until|within|in|after|no later than|at|for)\s+)?(?:"
    rf"(?:the\s+)?end of (?:the|this|next) (?:day|week|month)|{_N}\s+(?:to|or)\s+{_N}\s+{_UNIT}|"
    rf"(?:in|within|after|for|takes?)\s+(?:a|an|{_N})\s+{_UNIT}|(?:next|this)\s+(?:{_WEEKDAY}|week|month|morning|afternoon|"
    rf"evening)|{_WEEKDAY}(?:\s+(?:morning|afternoon|evening|night))?|{_MONTH}\s+\d+(?:st|nd|rd"
    r"|th)?|the\s+\d+(?:st|nd|rd|th)|tomorrow(?:\s+(?:morning|afternoon|evening|night))?|"
    r"today|tonight|this (?:morning|afternoon|evening)|first thing in the morning|the same day|"
    r"same day|\d{1,2}(?::\d\d)?\s*(?:am|pm|a\.m\.|p\.m\.)|noon|right after we hang up|after "
    r"(?:this|the) call|the hour)\b",
    re.I,
)
_NOW = re.compile(r",?\s*\b(?:right now|as we speak|now|right away)\b", re.I)


@dataclass(frozen=True, slots=True)
class Frame:
    """What kind of act a clause is (see the module docstring)."""

    owner: str  # agent | customer | third party | "" (no actor found)
    who: str  # the third party as said ("the billing team", "they")
    kind: str  # future | progressive | past | third | instruction | ""
    verb: str  # the action's base form
    conditional: bool
    negated: bool
    question: bool
    hypothetical: bool
    in_call: bool
    complaint: bool
    consequence: bool
    deadline: str
    #: the verb is no listed action, its base form guessed (a progressive the recogniser may
    #: have garbled, an unlisted verb after "please"): only the classifier's score makes it
    #: an act
    guessed: bool = False
    #: a third party found by no listed role, only as a noun phrase or name opening the clause
    #: ("Medwise will write…", and "the portal will email…"): the classifier weighs it
    open_actor: bool = False

    @property
    def candidate(self) -> bool:
        """Whether the clause could be a next step at all (it names an actor and an action)."""
        return bool(self.kind)


@dataclass(frozen=True, slots=True)
class Clause:
    text: str  # the action clause (a consequence that followed it appended)
    sentence: str
    speaker: str


def is_consequence(sentence: str) -> bool:
    """Whether a sentence only says what follows from an act ("It'll take three days.")."""
    sentence = repaired(sentence.strip())
    return bool(_CONSEQUENCE.search(sentence)) and not _third(sentence)


#: who is to get in touch, said from the customer's side: "you'll get a call from the surveyor
#: on Monday", "you'll be contacted by our claims team" — read as "the surveyor will call you…"
_FROM_WHOM = (
    r"(?P<who>(?:the|our|a|an|your)\s+(?:[a-z'-]+\s+){0,3}?[a-z'-]+?)(?=\s+(?:on|at|in|within|by|"
    r"before|after|tomorrow|today|tonight|this|next|between|when|once|as soon as|shortly|soon|"
    r"later|about|to|with|for)\b|\s*[.,!?]|\s*$)"
)
_GET_FROM = re.compile(
    r"\b(?:you(?:'ll|\s+will|'re going to|\s+are going to|\s+should)\s+(?:also\s+)?(?:receive|"
    r"get|have)|expect)\s+(?:an?|that|the|this)\s+(?:phone\s+)?(?P<what>call|callback|call back|"
    r"visit|email|text|letter)\s+from\s+" + _FROM_WHOM,
    re.I,
)
#: the same from someone named just before: "I've flagged this with our operations manager,
#: and you'll get a call from her by Friday" — read as "she will call you by Friday"
_GET_FROM_PRONOUN = re.compile(
    r"\byou(?:'ll|\s+will|'re going to|\s+are going to|\s+should)\s+(?:also\s+)?(?:receive|get|"
    r"have)\s+(?:an?|that|the|this)\s+(?:phone\s+)?(?P<what>call|callback|call back|visit|email|"
    r"text|letter)\s+from\s+(?P<who>him|her|them)\b",
    re.I,
)
_PRONOUN_OF: Final = {"him": "he", "her": "she", "them": "they"}
#: a contact with no sender named is the speaker's side's: "you'll also get a text reminder on
#: Friday" — read as "we'll text you a reminder on Friday"
_GET_CONTACT = re.compile(
    r"\byou(?:'ll|\s+will|'re going to|\s+are going to|\s+should)\s+(?:also\s+)?(?:receive|get)"
    r"\s+(?:an?|the)\s+(?P<what>call|email|text|letter)(?:\s+(?P<kind>reminder|confirmation))?"
    r"\b(?![^,.;]*\bfrom\b)",
    re.I,
)
#: money the customer will see back: "you'll see both as one credit of $63.50 on your next
#: statement" — read as "we'll put both as one credit of $63.50 on your next statement"
_YOU_WILL_SEE = re.compile(
    r"\byou(?:'ll|\s+will|\s+should)\s+see\s+(?P<what>(?:[^,.;]|(?<=\d)[.,](?=\d))*?(?:credit|"
    r"refund|\$|money|difference)(?:[^,.;]|(?<=\d)[.,](?=\d))*?)\s+on\s+your\s+"
    r"(?P<where>(?:next\s+)?(?:statement|bill|invoice|card|account))\b",
    re.I,
)
#: money paid back, said in the passive: "this month's rent of $129 will be refunded to your
#: card" — read as "we'll refund this month's rent of $129 to your card"
_WILL_BE_REFUNDED = re.compile(
    r"(?P<pre>^|[,;]\s*|\band\s+)(?P<what>(?:the|your|this|that|a|an|our|[\w]+'s|\$)"
    r"(?:[^,.;]|(?<=\d)[.,](?=\d)){0,60}?)"
    r"\s+(?:will|'ll|is going to)\s+be\s+(?P<verb>refunded|credited|reimbursed|paid back|returned)"
    r"\s+to\s+(?P<where>you\b|your\s+[\w-]+(?:\s+[\w-]+)?)",
    re.I,
)
_REFUND_OF: Final = {
    "refunded": "refund", "credited": "credit", "reimbursed": "reimburse",
    "paid back": "pay back", "returned": "return",
}  # fmt: skip
#: the agent's request to someone else, done in the call: "I've asked the branch manager to
#: call you by tomorrow evening" — read as "the branch manager will call you…"
_ASKED_TO = re.compile(
    r"\b(?:I|we)(?:'ve|\s+have)\s+(?:also\s+)?asked\s+(?P<who>(?:the|our|my|a|an)\s+"
    r"(?:[a-z'-]+\s+){0,3}?[a-z'-]+)\s+to\s+(?P<verb>[a-z]+)\b",
    re.I,
)
#: an adverb before "going to" ("I'm also going to send…") goes after it, where the future
#: is read
_ADVERB_GOING = re.compile(
    r"\b(?P<who>i'm|i am|we're|we are|he's|he is|she's|she is|they're|they are)\s+"
    r"(?P<adv>also|just|then|now|definitely)\s+going\s+to\b",
    re.I,
)
#: "you'd need to fill in the form" in answer to "how do I claim?" is the customer's step, as
#: "you'll need to…"; with an "if" (or "otherwise") it stays a hypothetical
_YOUD_NEED = re.compile(r"\byou(?:'d|\s+would)\s+need\s+to\b", re.I)
_IF_ANY = re.compile(r"\b(?:if|unless|otherwise|in case)\b", re.I)
#: a purpose said before the agent's request: "So Rosa can get in, could you leave the gate
#: unlocked?" — the request is read on its own
_PURPOSE_FIRST = re.compile(
    r"^\s*(?:so(?:\s+that)?|to|in order to|for|as for|about|regarding)\b[^,?]{1,60},\s*"
    r"(?=(?:could|can|would|will)\s+you\b)",
    re.I,
)
#: the same from the speaker's side: "you'll get a text from us this evening", "you'll get
#: that email from me in a few minutes" — read as "we'll text you…", "I'll email you…"
_GET_FROM_US = re.compile(
    r"\byou(?:'ll|\s+will|'re going to|\s+are going to|\s+should)\s+(?:also\s+)?(?:receive|get|"
    r"have)\s+(?:an?|that|the|this)\s+(?:phone\s+)?(?P<what>call|callback|call back|email|text|"
    r"letter)\s+from\s+(?P<who>us|me)\b",
    re.I,
)
#: anything else the customer is to get from the speaker's side: "you'll get the corrected
#: invoice from us by email", "you'll also get a 5 euro ride credit from us" — read as
#: "we'll send you the corrected invoice…"
_THING_FROM_US = re.compile(
    r"\byou(?:'ll|\s+will|'re going to|\s+are going to|\s+should)\s+(?:also\s+)?(?:receive|get)"
    r"\s+(?P<what>(?:an?|that|the|this|your)\s+(?:[\w$'-]+\s+){0,6}?[\w$'-]+)\s+from\s+"
    r"(?P<who>us|me)\b",
    re.I,
)
#: a document the speaker's side sends, said as a thing that follows: "a calendar invite will
#: follow by email", "the contract will be sent to you by post" — read as "we'll send you…"
_WILL_FOLLOW = re.compile(
    r"(?P<pre>^|[,;]\s*)(?:(?:and|also|then|so)\s+)*(?P<what>(?:a|an|the|your)\s+(?:[\w$'-]+\s+){0,6}?"
    r"(?:invite|invitation|confirmation|copy|contract|letter|email|receipt|quote|form|link|"
    r"voucher|label|statement|invoice|summary|schedule|report|code)"
    r"(?:\s+(?:for|of|with)\s+(?:[\w$'-]+\s+){0,4}?[\w$'-]+)?)\s+"
    r"(?:will|'ll|is going to)\s+(?:follow|be\s+(?:sent|emailed|posted|texted|mailed)(?:\s+(?:to\s+"
    r"you|out))?)\b",
    re.I,
)
_BY_WHOM = re.compile(
    r"\byou(?:'ll|\s+will|\s+should)\s+be\s+(?P<what>contacted|called|visited|emailed|texted|"
    r"phoned|rung)\s+(?:back\s+)?by\s+" + _FROM_WHOM,
    re.I,
)
_ACT_OF: Final = {
    "call": "call", "callback": "call", "call back": "call", "visit": "visit", "email": "email",
    "text": "text", "letter": "write to", "contacted": "contact", "called": "call",
    "visited": "visit", "emailed": "email", "texted": "text", "phoned": "phone", "rung": "ring",
}  # fmt: skip


def _actively(text: str) -> str:
    """ "you'll get a call from the surveyor on Monday" → "the surveyor will call you on
    Monday" (and "you'll be contacted by our claims team…" likewise)."""
    for pattern in (_GET_FROM, _BY_WHOM):
        text = pattern.sub(
            lambda m: f"{m.group('who')} will {_ACT_OF[m.group('what').lower()]} you", text
        )
    text = _GET_FROM_PRONOUN.sub(
        lambda m: (
            f"{_PRONOUN_OF[m.group('who').lower()]} will {_ACT_OF[m.group('what').lower()]} you"
        ),
        text,
    )
    text = _GET_FROM_US.sub(lambda m: f"{_we(m)}'ll {_ACT_OF[m.group('what').lower()]} you", text)
    text = _THING_FROM_US.sub(lambda m: f"{_we(m)}'ll send you {m.group('what')}", text)
    text = _GET_CONTACT.sub(
        lambda m: (
            f"we'll {_ACT_OF[m.group('what').lower()]} you"
            + (f" a {m.group('kind').lower()}" if m.group("kind") else "")
        ),
        text,
    )
    text = _YOU_WILL_SEE.sub(
        lambda m: f"we'll put {m.group('what')} on your {m.group('where')}", text
    )
    text = _WILL_BE_REFUNDED.sub(
        lambda m: (
            f"{m.group('pre')}we'll {_REFUND_OF[m.group('verb').lower()]} "
            f"{m.group('what')[:1].lower()}{m.group('what')[1:]} to {m.group('where')}"
        ),
        text,
    )
    text = _ASKED_TO.sub(lambda m: f"{m.group('who')} will {m.group('verb')}", text)
    text = _PURPOSE_FIRST.sub("", text)
    text = _ADVERB_GOING.sub(lambda m: f"{m.group('who')} going to {m.group('adv')}", text)
    if not _IF_ANY.search(text):
        text = _YOUD_NEED.sub("you'll need to", text)
    return _WILL_FOLLOW.sub(_we_send, text)


def _we(m: re.Match[str]) -> str:
    """ "from me" is "I", "from us" is "we"."""
    return "I" if m.group("who").lower() == "me" else "we"


def _we_send(m: re.Match[str]) -> str:
    """ "…, a calendar invite will follow by email" → "…, and we'll send you a calendar invite
    by email"."""
    what, pre = m.group("what"), m.group("pre")
    return f"{pre}{'and ' if pre else ''}we'll send you {what[:1].lower()}{what[1:]}"


#: "what I'll do is send you a new link" is "I'll send you a new link"
_WHAT_I_DO = re.compile(
    r"\bwhat (i|we)(?:'ll|\s+will|'m going to|\s+am going to|'re going to|\s+are going to)\s+"
    r"do(?:\s+now|\s+for you)?\s+is\s+(?:to\s+)?",
    re.I,
)


def clauses(sentence: str, speaker: str) -> list[Clause]:
    """The clauses of one sentence; a consequence clause joins the action before it."""
    said = _WHAT_I_DO.sub(lambda m: f"{m.group(1)}'ll ", _actively(repaired(sentence.strip())))
    parts = [p.strip(" ,;") for p in _SPLIT.split(said) if p.strip(" ,;.")]
    out: list[Clause] = []
    for part in parts:
        if out and _CONSEQUENCE.search(part) and not _third(part):
            prev = out.pop()
            out.append(Clause(f"{prev.text.rstrip('.!')}, {part}", sentence, speaker))
        else:
            out.append(Clause(part, sentence, speaker))
    return out


def _asked_of_customer(body: str) -> str:
    """The verb of the agent's request put as a question or of what someone on the customer's
    side must do; "" when neither. A request answered in the call ("could you read me the
    number?") is none, unless it names a time after the call ("could you read your meter
    tonight?") or asks the customer to ask someone else ("could you ask your vet to…")."""
    m = _REQUEST.search(body)
    asked = base_form(m.group("verb")) if m else None
    if asked and (
        asked not in _ASKED_NOW
        or (asked == "ask" and _ASK_TEAM.search(body))
        or (asked not in ("hold", "give", "tell", "spell", "repeat") and _later(body))
    ):
        return asked
    if (
        m
        and asked is None
        and m.group("verb").lower() not in _ASKED_NOW
        and _OBJECT_AHEAD.match(body[m.end() :])
        and _later(body)
    ):
        # an unlisted verb with an object and a time after the call: "could you run a failover
        # test this week…" (its verb guessed)
        return m.group("verb").lower()
    m = _SOMEONE_MUST.search(body)
    return m.group("verb").lower() if m else ""


#: an object after an unlisted verb: "could you run a test" (a request, its verb guessed)
_OBJECT_AHEAD = re.compile(r"\s+(?:a|an|the|your|this|that|these|those)\b", re.I)


#: "if it doesn't match, (just) call us": advice for a case that may not come, no step
_CONTACT_US = re.compile(
    r"^(?:(?:just|please|then|so|simply)\s+)*(?:(?:call|contact|ring|phone|email|text|message)"
    r"\s+(?:us|me|back)|give\s+(?:us|me)\s+a\s+(?:call|ring|shout)|get in touch|let (?:us|me) know|"
    r"reply\s+to\s+(?:my|our|the|this|that)\s+(?:email|message|text|letter)|write\s+to\s+(?:us|me))"
    r"\b",
    re.I,
)


_INSTRUCT_VERBS: Final = ("verb", "verb2", "verb3", "verb4", "verb5", "verb6", "verb7")
_EXPECTED = re.compile(r"^\s*(?:and\s+)?(?:when|once|as soon as)\b", re.I)


#: a first-person future that is a manner of speaking or a thought, not an act
_NO_ACT_AHEAD = re.compile(
    r"(?:believe|think|guess|hope|bet|admit|wonder|assume|imagine|be\s+(?:honest|frank|"
    r"straight|fair|blunt))\b|have to think\b"
    # the customer coping: "we'll manage", "I'll cope until then"
    r"|(?:manage|cope|survive|make do)\b(?!\s+(?:to|the|your|my|our|it|this|that)\b)",
    re.I,
)


def _instruction(text: str, body: str) -> str:
    """The verb of the agent's instruction or request to the customer in ``body`` (``text``
    with a leading condition dropped); "" when none."""
    conditional = bool(_CONDITION.search(text)) and body != text
    if conditional and _CONTACT_US.match(body):
        return ""
    m = _INSTRUCT.search(body)
    if m:
        said = next((v for v in m.group(*_INSTRUCT_VERBS) if v), "")
        verb = base_form(said)
        if verb and not (m.group("verb7") and verb in _HAPPENINGS):
            return verb  # not "you should receive it tomorrow": a consequence
        plea = (m.group("verb") or "").lower()
        if len(plea) > 2 and plea not in _NOT_IMPERATIVES and not plea.endswith(("ing", "ed")):
            return plea  # "please avoid chewing…": guessed
    asked = _asked_of_customer(body)
    if asked:
        return asked
    # a bare imperative after an event to come: "when the card arrives, activate it in the
    # app" ("if it happens again, restart the router" is advice for a case that may not come)
    first = re.match(r"[a-z]+", body, re.I)
    if first and conditional and _EXPECTED.search(text):
        word = first.group(0).lower()
        if base_form(word) == word and word not in IN_CALL_VERBS:
            return word
    return ""


def _bare_do(rest: str) -> bool:
    """Whether "I'll do" + ``rest`` is a bare yes ("I'll do that tonight", and as the recogniser
    may hear it, "I'll do nothing to do"), not a named task ("I'll do the transfer")."""
    return bool(_ACCEPT.match(rest)) or not re.match(
        r"\s+(?:the|a|an|my|our|your|his|her|their|some|all|both)\b", rest, re.I
    )


def _kind(text: str, speaker: str) -> tuple[str, str, str, str]:
    """(kind, owner, who, verb) of the first act found in ``text``."""
    body = _LEADING.sub("", _strip_condition(text))
    told = _instruction(text, body) if speaker != "customer" else ""
    if told:
        return "instruction", "customer", "", told
    first = _FUTURE_1.search(body)
    third = _third_party(body, first)
    if third:
        owner = "customer" if speaker == "customer" else "third party"
        return "third", owner, *third
    if first and first.group("verb").lower() == "do" and _bare_do(body[first.end() :]):
        return "", "", "", ""
    if first and _NO_ACT_AHEAD.match(body[first.start("verb") :]):
        return "", "", "", ""  # "I'll be honest…", "I'll believe it when I see it"
    if first:
        return "future", speaker, "", base_form(first.group("verb")) or first.group("verb")
    if speaker == "customer":
        return "", "", "", ""  # "I'm calling about…", "I ordered…": the problem, not a step
    m = _PROGRESSIVE_1.search(body)
    if m and m.group("verb").lower() != "going" and base_form(m.group("verb")):
        return "progressive", speaker, "", base_form(m.group("verb")) or ""
    m = _PROGRESSIVE_GUESS.search(body)
    if m and m.group("verb").lower() not in _NOT_ACTS and base_form(m.group("verb")) is None:
        return "progressive", speaker, "", _guessed_base(m.group("verb"))
    m = _PAST_1.search(body)
    if m and _is_past(m):
        return "past", speaker, "", base_form(m.group("verb")) or ""
    return "", "", "", ""


def _third_party(body: str, first: re.Match[str] | None) -> tuple[str, str] | None:
    """(who, verb) of a third party's act in ``body`` before any first-person future."""
    third = _third(body)
    if third and (first is None or third.start() < first.start()):
        verb = third.group("verb")
        return third.group("who"), base_form(verb) or verb.lower()
    return _third_open(body) if third is None else None


def _guessed_base(ing: str) -> str:
    """The base form of an unlisted -ing word, guessed: "booting" → "boot", "putting" →
    "put"."""
    stem = ing.lower()[:-3]
    if len(stem) > 2 and stem[-1] == stem[-2] and stem[-1] not in "lsz":
        stem = stem[:-1]
    return stem


def _is_past(m: re.Match[str]) -> bool:
    """ "I've put in", "I just sent", "we refunded": a perfect or a distinct past form."""
    verb = m.group("verb").lower()
    base = base_form(verb)
    if base is None:
        return False
    return verb != base or bool(re.search(r"'ve|\bhave\b|\bjust\b|\balready\b", m.group(0)))


def _strip_condition(text: str) -> str:
    """A leading "If …," / "Once …," is dropped to find the main clause."""
    if _CONDITION.search(text) and "," in text:
        return text.split(",", 1)[1].strip()
    return text


_ON_HOLD = re.compile(
    r"\b(?:put|place|transfer|connect)\w*\s+you\b|\bneed your\b|\bhave to (?:ask|check|verify|"
    r"confirm|look|read)\b|\bbefore we (?:start|begin|get started|go on|continue|proceed)\b|"
    r"\blog(?:ging|ged)?\s+(?:in|into|on|onto)\b",
    re.I,
)


#: asking a team to act is a step, not a question in the call: "I'm asking our hardship
#: department to send you a form" (the recogniser's "asking how your hardship department…")
_ASK_TEAM = re.compile(
    r"\bask(?:ing|ed)?\s+(?!you\b|me\b)(?:the|our|a|an|my|your|[A-Z][a-z]+)\b(?:\s+[\w']+){0,3}?"
    r"\s+to\s+[a-z]+",
    re.I,
)


#: in-call verbs that name a step when put off to a time after the call ("I'll check the
#: readings tomorrow morning", "I'll ask the office about it on Monday")
_DEFERRABLE: Final = frozenset(("ask", "check", "look", "verify", "confirm", "search", "test"))
#: in-call verbs that ask the customer for a step when put off to a time after the call
_DONE_LATER: Final = frozenset(("ask", "check", "look", "verify", "confirm", "read", "test"))
#: "be" as a step: being somewhere for a visit ("someone will need to be home", "please be
#: there by nine")
_BE_THERE = re.compile(
    r"\bbe\s+(?:at\s+)?(?:home|there|in|available|present|around|on site)\b", re.I
)


_LET_KNOW = re.compile(r"\blet\s+(?:\w+\s+){1,3}?know\b", re.I)
#: telling or explaining something in the call: "I'll tell you what the problem is"
_TELL_NOW = re.compile(
    r"\b(?:tell|show)\s+you\s+(?:what|how|why|where|about|a (?:bit|little))\b|"
    r"\b(?:explain|go through|walk you through|run through)\b",
    re.I,
)
#: what is done as a rule, not promised: "we'll always refund a missed delivery fee"
_HABITUAL = re.compile(
    r"\b(?:always|usually|normally|generally|typically|in most cases|as a rule|whenever)\b", re.I
)
#: a relative clause, which says how things go rather than what is promised: "…, which
#: usually takes about ten days" (its "usually" makes no rule of the promise before it)
_WHICH: Final = re.compile(r",?\s*\bwhich\b[^,;]*", re.I)
#: an offer on the customer's choice: "if you upgrade, we'll waive the setup fee"
_CHOICE = re.compile(
    r"^\s*(?:and\s+)?if\s+you\s+(?:\w+\s+)?(?:choose|decide|cancel|upgrade|downgrade|switch|"
    r"renew|sign up|join|leave|stay)\b",
    re.I,
)


def _later(text: str) -> bool:
    """Whether ``text`` names a time after the call (not "in a minute")."""
    m = DEADLINE.search(text)
    return m is not None and not re.search(r"minute|second|moment", m.group(0), re.I)


def _in_call(kind: str, speaker: str, verb: str, text: str) -> bool:
    """The agent's act in the conversation itself ("let me check", "I'll put you on hold")."""
    if speaker == "customer" or kind == "third":
        return False
    if verb == "ask" and _ASK_TEAM.search(text):
        return False
    if _ON_HOLD.search(text):
        return True
    if verb in _DEFERRABLE and kind == "future" and _later(text):
        return False
    if verb in _DONE_LATER and kind == "instruction" and _later(text):
        return False  # "could you read your meter tonight", "please check your inbox tomorrow"
    if verb == "let" and kind == "future" and _LET_KNOW.search(text):
        return False  # "I'll let you know by Friday", "I'll let the team know"
    if _TELL_NOW.search(text):
        return not _later(text)  # "I'll go through the options with you on Friday": a step
    if verb == "be" and kind == "instruction" and _BE_THERE.search(text):
        return False
    return verb in IN_CALL_VERBS


_LEAVING: Final = frozenset(("cancel", "switch", "leave", "dispute", "report", "close"))


def _threat(speaker: str, verb: str, text: str) -> bool:
    """The customer's "if it breaks again I'll cancel": a threat, not a step."""
    return speaker == "customer" and verb in _LEAVING and bool(_CONDITION.search(text))


#: "don't forget to bring…" is no negation
_DONT_FORGET = re.compile(r"\b(?:don't|do not)\s+forget\b", re.I)


def _verb_at(text: str, verb: str) -> int:
    """Where the first form of ``verb`` in ``text`` ends (0 when none)."""
    for m in re.finditer(r"[A-Za-z']+", text):
        if base_form(m.group(0)) == verb:
            return m.end()
    return 0


#: the date a done act takes effect from, not a step still to come
_EFFECTIVE = re.compile(r"\b(?:effective|as of|as from|starting)\s*$", re.I)


def frame(clause: Clause) -> Frame:
    text = clause.text
    kind, owner, who, verb = _kind(text, clause.speaker)
    main = _strip_condition(text)
    # a past act's date to come follows its verb ("I've scheduled the engineer for Wednesday");
    # one before it is another phrase's ("a group starting on Monday and I've moved you…")
    deadline = DEADLINE.search(text, _verb_at(text, verb) if kind == "past" else 0)
    if (
        deadline
        and kind == "past"
        and _EFFECTIVE.search(text[: deadline.start()])
        and re.search(r"\b(?:today|now|immediately)\b", deadline.group(0), re.I)
    ):
        deadline = None  # "I've cancelled the plan, effective today": done, nothing to come
    request = kind == "instruction" and bool(_REQUEST.search(_LEADING.sub("", main)))
    return Frame(
        owner=owner,
        who=who,
        kind=kind,
        verb=verb,
        conditional=bool(_CONDITION.search(text)),
        negated=bool(NEGATED.search(_PURPOSE.split(_DONT_FORGET.sub("", main).split(",")[0])[0])),
        question=not request
        and (
            bool(_QUESTION.search(clause.sentence))
            or main.lower().startswith(
                ("can ", "could ", "will you", "would ", "do you", "should ")
            )
        ),
        hypothetical=not request
        and bool(
            _HYPOTHETICAL.search(text)
            or _HABITUAL.search(_WHICH.sub("", main))
            or (clause.speaker != "customer" and _CHOICE.search(text))
        ),
        in_call=_in_call(kind, clause.speaker, verb, main),
        complaint=bool(_COMPLAINT.search(text)) or _threat(clause.speaker, verb, text),
        consequence=bool(_CONSEQUENCE.search(text.split(",")[-1].strip())) and "," in text,
        deadline=deadline.group(0) if deadline else "",
        guessed=kind in ("progressive", "instruction") and base_form(verb) is None,
        open_actor=kind == "third" and _third(_LEADING.sub("", main)) is None,
    )


# --- the step's text ---------------------------------------------------------------------

_AGENT_PRONOUNS: Final = (
    (r"\byou're\b", "the customer is"), (r"\byou've\b", "the customer has"),
    (r"\byou'll\b", "the customer will"), (r"\byou'd\b", "the customer would"),
    (r"\byou are\b", "the customer is"), (r"\byou have\b", "the customer has"),
    (r"\byou were\b", "the customer was"), (r"\byou don't\b", "the customer doesn't"),
    (r"\byou haven't\b", "the customer hasn't"), (r"\byourself\b", "themselves"),
    (r"\byours\b", "the customer's"), (r"\byour\b", "the customer's"),
    (r"\byou\b", "the customer"), (r"\bmyself\b", ""), (r"\bmy\b", "the agent's"),
    (r"\bour\b", "the"), (r"\bus\b", "the company"), (r"\bme\b", "the agent"),
)  # fmt: skip
_CUSTOMER_PRONOUNS: Final = (
    (r"\bI'm\b", "they are"), (r"\bI've\b", "they have"), (r"\bI'll\b", "they will"),
    (r"\bI was\b", "they were"), (r"\bI am\b", "they are"), (r"\bI\b", "they"),
    (r"\bmyself\b", "themselves"), (r"\bmine\b", "theirs"), (r"\bmy\b", "their"),
    (r"\bme\b", "them"), (r"\bwe're\b", "they are"), (r"\bwe\b", "they"), (r"\bour\b", "their"),
    (r"\byour\b", "the company's"), (r"\byou\b", "the agent"),
)  # fmt: skip


_SUBJECT_FORMS: Final = (
    ("is", "are"),
    ("has", "have"),
    ("was", "were"),
    ("will", "will"),
    ("would", "would"),
    ("doesn't", "don't"),
    ("hasn't", "haven't"),
    ("can", "can"),
    ("should", "should"),
)


def third_person(text: str, speaker: str) -> str:
    """``text`` with first and second person made third person, grammatically: the agent's
    "you're right" → "the customer is right"; the customer's "my router" → "their router"."""
    table = _CUSTOMER_PRONOUNS if speaker == "customer" else _AGENT_PRONOUNS
    for pattern, repl in table:
        text = re.sub(pattern, repl, text, flags=re.I)
    # a second mention of the customer reads "they"/"their"
    text = re.sub(r"\bthis call\b", "the call", text, flags=re.I)
    first = text.find("the customer")
    if first >= 0:
        head, tail = text[: first + 12], text[first + 12 :]
        tail = tail.replace("the customer's", "their")
        for subject, they in _SUBJECT_FORMS:
            tail = tail.replace(f"the customer {subject}", f"they {they}")
        tail = tail.replace("the customer", "them")
        text = head + tail
    return re.sub(r"\s{2,}", " ", text).strip()


def _number(words: str) -> str:
    """ "forty eight" → "48", "two" → "2", "seven" → "7"; other text unchanged."""
    parts = words.lower().replace("-", " ").split()
    if not parts or not all(p in _NUMBER_WORDS or p in _TENS for p in parts):
        return words
    total = 0
    for p in parts:
        total += _TENS.get(p, _NUMBER_WORDS.get(p, 0))
    return str(total)


def normalise_deadline(deadline: str) -> str:
    """ "within forty eight hours" → "within 48 hours"; "right after we hang up" → "after the
    call"; spoken numbers as digits."""
    d = deadline.strip().rstrip(".")
    if re.search(r"hang up|this call|the call", d, re.I):
        return "after the call"
    return spoken_numbers(d)


def spoken_numbers(text: str) -> str:
    """Spoken numbers up to ninety-nine as digits: "forty eight hours" → "48 hours"."""
    return re.sub(
        r"\b((?:zero|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|thirteen|"
        r"fourteen|fifteen|sixteen|seventeen|eighteen|nineteen|twenty|thirty|forty|fifty|"
        r"sixty|ninety)(?:[- ](?:one|two|three|four|five|six|seven|eight|nine))?)\b",
        lambda m: _number(m.group(1)),
        text,
        flags=re.I,
    )


def _action_phrase(text: str, f: Frame) -> str:
    """The clause from its verb on, the verb in its base form."""
    body = _LEADING.sub("", _strip_condition(text)) if f.kind != "instruction" else text
    words = body.split()
    for i, w in enumerate(words):
        word = re.sub(r"[^a-z']", "", w.lower())
        if f.guessed and word.endswith("ing"):
            word = _guessed_base(word)
        if (base_form(word) or word) == f.verb:
            return " ".join([f.verb, *words[i + 1 :]])
    return body


def step_text(clause: Clause, f: Frame) -> str:
    """The next step in the RingSense style: owner + action + object + deadline."""
    text = clause.text.strip().rstrip(".!?")
    condition = ""
    if f.conditional and "," in text:
        condition, text = (s.strip() for s in text.split(",", 1))
    action = _action_phrase(text, f)
    action = _NOW.sub("", action)
    action = DEADLINE.sub(lambda m: normalise_deadline(m.group(0)), action)
    speaker = "customer" if f.owner == "customer" and clause.speaker == "customer" else "agent"
    action = third_person(action, speaker if clause.speaker == "customer" else "agent")
    if condition:
        action = f"{action} {third_person(condition[:1].lower() + condition[1:], speaker)}"
    action = re.sub(r"\s{2,}", " ", action).strip(" ,")
    if f.owner == "customer":
        out = f"Customer to {action}"
    elif f.owner == "third party":
        out = f"{_team(f.who)} to {action}"
    else:
        out = action[:1].upper() + action[1:]
    return out + "."


def _team(who: str) -> str:
    who = re.sub(r"^(?:our|the|my|your)\s+", "", who.strip(), flags=re.I)
    if who.lower() in ("they", "he", "she"):
        return "The team"
    if who.lower() in ("someone", "somebody"):
        return "Someone"
    who = re.sub(r"^(?:a|an)\s+", "", who, flags=re.I)
    return who[:1].upper() + who[1:]


def done_text(clause: Clause, f: Frame) -> str:
    """A progressive or past act as what the agent did: "refunded the duplicate charge of $49"."""
    # from the verb to the next comma: "Okay, I've refunded the charge, it'll take…" and "I see
    # it, I've refunded…" both give "refund the charge"
    # (not at a thousands separator: "the card ending 4,471")
    action = re.split(r",(?!\d)", _action_phrase(clause.text.strip().rstrip(".!"), f))[0]
    action = third_person(_NOW.sub("", action), "agent")
    words = action.split()
    if words:
        words[0] = past_form(words[0]) if not f.guessed else _ed_guessed(words[0])
    return " ".join(words).strip(" ,")


def _ed_guessed(verb: str) -> str:
    """The past of a guessed base form: "boot" → "booted"."""
    return verb + ("d" if verb.endswith("e") else "ed")

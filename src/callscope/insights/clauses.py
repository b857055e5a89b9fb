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
you a calendar invite…" (:mod:`callscope.insights.rewrites`); a named third party who "will
be with you" or "be there" visits (:mod:`callscope.insights.actors`). Deadlines are found by
:mod:`callscope.insights.numbers`, in-call procedure by :mod:`callscope.insights.incall`, what
the agent asks of the customer by :mod:`callscope.insights.asks`, and
a committed clause is written as a next step by :mod:`callscope.insights.steptext`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Final

from callscope.insights.actors import third_act, third_done, third_party
from callscope.insights.asks import INSTRUCT, REQUEST, instruction
from callscope.insights.firstperson import FUTURE_1, guessed_base, own_act
from callscope.insights.hedges import (
    BELIEF,
    CHOICE,
    COMPLAINT,
    COURTESY,
    DONT_FORGET,
    EFFECTIVE,
    HABITUAL,
    HYPOTHETICAL,
    LEAVING,
    NO_ACT_AHEAD,
    NO_PROMISE,
    SHOULD,
    TIME_AS_OBJECT,
    TYPICAL_TIME,
    WHICH,
)
from callscope.insights.incall import is_in_call, is_later
from callscope.insights.leadins import LEADING, PURPOSE_FOR_YOU
from callscope.insights.lists import listed
from callscope.insights.misheard import repaired
from callscope.insights.numbers import DEADLINE
from callscope.insights.rewrites import asked_first, from_our_side, rewritten
from callscope.insights.verbs import base_form

__all__ = [
    "NEGATED", "Clause", "Frame", "clauses", "frame", "guessed_base", "is_consequence",
    "strip_condition",
]  # fmt: skip

#: "and" opening a clause with a subject of its own and a modal: the recogniser drops the
#: comma of "I've approved the claim, and a plumber will contact you", and the agent's act
#: must not be read as part of the third party's
_NEW_SUBJECT = (
    r"(?:i|we)(?:'ll|\s+will|'m going to|\s+am going to|'re going to|\s+are going to)\b"
    r"|(?:they|he|she)(?:'ll|\s+will|'re going to|\s+are going to|'s going to|\s+is going to)\b"
    # a third party's act under way: "I've just spoken to the warehouse and they're sending…"
    r"|(?:they|he|she)(?:'re|\s+are|'s|\s+is)\s+(?:now\s+|also\s+)?(?!going\b)[a-z]+ing\b"
    r"|(?:the|a|an|our|your)\s+(?:[a-z]+\s+){0,4}?[a-z]+(?:'ll|\s+will|\s+is going to|"
    r"\s+are going to)\s+(?!be\b)[a-z]+"
)
#: a purpose said before the act it is for, up to the comma before that act
_PURPOSE_BEFORE_ACT: Final = (
    r"\s+" + PURPOSE_FOR_YOU + r","
    # (not one said after the act, with the next act after it: "…on Monday morning, so you
    # don't have to drive it, and the workshop will diagnose it")
    r"(?!\s*(?:and|but|so|then|or|which|plus)\b)"
)
_SPLIT = re.compile(
    # (not at a purpose said before the act: "In the meantime, so you're not left in the dark
    # any longer, a short summary will be with you by email this evening")
    r"\s*(?:;|:\s+(?=(?:could|can|would)\s+you\b)|,\s*(?:and|so(?!"
    + _PURPOSE_BEFORE_ACT
    + r")|but|"
    r"then|and then|plus)\b|"
    r",\s*(?=please\b)|\s+and then\b|"
    # an aside: "The workshop'll regrind the chipped one, there's likely another year in it"
    r",\s*(?=there(?:'s|\s+is|\s+are|'re)\b)|"
    # what they are known for: "They'll have it flagged by Wednesday, they're pretty good about
    # that out there"
    r",\s*(?=(?:they're|they\s+are|he's|she's)\s+(?:(?:pretty|really|very|usually|always|quite)"
    r"\s+)*(?:good|great|quick|fast|reliable|brilliant|excellent)\b)|"
    # what an act sets going: "…to Priority Rush, which means the studio will print it first"
    r",\s*which\s+means\s+(?:that\s+)?|"
    r"\s+so that\b|\s+and\s+(?=" + _NEW_SUBJECT + r"|(?:could|can|would)\s+you\b))\s*",
    re.I,
)
_CONSEQUENCE = re.compile(
    r"^(?:and\s+|so\s+)?(?:you|you'll|it|it'll|that|this|which|the(?: \w+){1,3}|"
    # an amount: "so the four hundred and fifty pounds will come off your final invoice"
    r"the\s+(?:[\w-]+\s+){1,6}?(?:pounds|dollars|euros|credit|refund|fee|money|balance)|"
    # (not an appointment: "she'll see him on Thursday the 14th")
    r"(?:he|she|they)(?=(?:'ll|\s+will|\s+should)\s+(?:see(?!\s+(?:him|her|them|you)\b)|receive|"
    r"notice|land|arrive|reach)\b))\s*"
    r"(?:'ll|will|should|would|can|'s going to|is going to)?\s*"
    r"(?:(?:usually|normally|typically|generally)\s+)?(?:see|get|receive|show|arrive|take|be|"
    # "It usually takes…", "…, which will come off your January shipment"
    r"appear|reach|go back|takes|shows|arrives|appears|reaches|goes back|comes? off|land)\b"
    # what holds already is no consequence to come: "it should be there now"
    r"(?![^,.;]*\b(?:now|already)\b(?!\s+on\b))",
    re.I,
)
#: the customer's bare yes to a request ("I'll do that tonight", "will do"): the step is the
#: request itself
_ACCEPT = re.compile(
    r"^\s*(?:(?:that|it|this|so)\b(?:\s+for\s+you)?(?:\s+[a-z]+){0,2}\s*)?[.!]?$"
    # the recogniser's "Will do thank you for sorting it out" (no stop after "will do")
    r"|^\s*(?:(?:that|it|this)\b)?[\s,.!]*(?:thanks|thank you|cheers)\b",
    re.I,
)


#: a purpose or reason clause after the promise: its negation ("I'll drop off two heaters so
#: you're not cold tonight") is no veto of the promise before it
_PURPOSE = re.compile(
    # …and what the act tells others: "a sign on the machine telling people not to put coins in"
    r"\s+(?:so that|so|because|since|in case|or else|otherwise|telling|asking|reminding|"
    r"warning)\s+",
    re.I,
)
NEGATED: Final = re.compile(
    r"\b(?:won't|will not|shan't|am not going to|'m not going to|are not going to|aren't going"
    r" to|never|cannot|can't|not able|unable|wouldn't|don't|doesn't|isn't|not)\b",
    re.I,
)
_CONDITION = re.compile(
    r"^\s*(?:(?:and|so|but)\s+)?(?:then\s+)?(?:if|unless|in case|once|as soon as|when|"
    r"should\s+(?:it|you|the|that|this|they|there|anything|your)\b)\b",
    re.I,
)
_QUESTION = re.compile(r"\?\s*$")
#: a clause opened by its verb, no subject or modal before it ("email me by Friday?")
_BARE_VERB = re.compile(
    r"^(?!(?:can|could|would|will|do|does|did|is|are|shall|should|have|has|may|might)\b)"
    r"(?:just\s+)?[a-z]+\s+(?:me|us|it|them|the|your|a|an|this|that)\b",
    re.I,
)
#: an event after the call that an instruction waits for: "When the bottle arrives, please
#: check the label…" is no check made in the call
_EVENT = (
    r"^\s*(?:(?:and|so|then)\s+)?(?:when|once|as soon as)\b[^,]*\b(?:arrives?|comes?|lands?|"
    r"is delivered|gets? (?:there|here|to you)|turns? up|shows? up)\b"
)
_AFTER_EVENT = re.compile(_EVENT + r"[^,]*,", re.I)
#: the event alone, cut off from the instruction after it
_EVENT_ONLY = re.compile(_EVENT + r"\s*$", re.I)
#: what is to be made sure of may be negative: "make sure the panel isn't blocked" asks for it
_MADE_SURE = re.compile(r"\b(?:make|making)\s+sure\b.*$", re.I)


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
    """Whether a sentence only says what follows from an act ("It'll take three days."); not
    what the customer is to get from the speaker's side ("You'll get a letter from us…")."""
    sentence = repaired(sentence.strip())
    return (
        bool(_CONSEQUENCE.search(sentence))
        and not third_act(sentence)
        # (nor a third party's act said in the passive: "The fan will be replaced by our
        # contractor, Hallam Electrical, no later than Wednesday.")
        and not third_party(rewritten(sentence), None, when=sentence)
        and not from_our_side(sentence)
    )


def _follows(last: str) -> bool:
    """Whether ``last`` says what follows from the act before it; what only may follow
    ("…, so the shop can reach you on the day") or is said in the present follows when a time
    is named."""
    if not _CONSEQUENCE.search(last):
        return False
    if not _MODAL.search(last):
        # said in the present, it follows only with a time: "it usually takes three days",
        # not "so you get priority handling at the standard price" (how things now stand)
        return bool(DEADLINE.search(last))
    return not re.search(r"\b(?:can|could)\b", last, re.I) or bool(DEADLINE.search(last))


_MODAL = re.compile(r"'ll\b|'s going to\b|\b(?:will|should|would|can|could|going to)\b", re.I)


def clauses(sentence: str, speaker: str) -> list[Clause]:
    """The clauses of one sentence; a consequence clause joins the action before it."""
    return list(_clauses(sentence, speaker))


@lru_cache(maxsize=4096)
def _clauses(sentence: str, speaker: str) -> tuple[Clause, ...]:
    """:func:`clauses`, kept: the summary reads the sentences the next steps read."""
    said = rewritten(repaired(sentence.strip()))
    parts = [p.strip(" ,;") for p in _SPLIT.split(said) if p.strip(" ,;.")]
    parts = [q for p in parts for q in _spliced(p)]
    parts = [q for p in parts for q in listed(p)]
    parts = _waiting_joined(parts)
    if speaker != "customer":
        parts = [q for p in parts for q in asked_first(p)]
        parts = _asked_on(parts)
    out: list[Clause] = []
    asks = next((i for i, p in enumerate(parts) if i and _ASKS_YOU.match(p)), len(parts))
    for i, part in enumerate(parts):
        # "You'll need to bring X and could you fill out Y?": the question is the request's
        said = _QUESTION.sub(".", " ".join(parts[:asks])) if i < asks < len(parts) else sentence
        if out and (
            (_CONSEQUENCE.search(part) and not third_act(part)) or _arrives(out[-1].text, part)
        ):
            prev = out.pop()
            out.append(Clause(f"{prev.text.rstrip('.!')}, {part}", said, speaker))
        else:
            out.append(Clause(part, said, speaker))
    return tuple(out)


#: a thing sent, then said to arrive as "she" or "it": "…post a replacement queen out first
#: thing tomorrow, and she should be with you Thursday" (no visit of anyone's)
_SENT = re.compile(r"\b(?:post|posts|posted|send|sent|ship|shipped|courier|dispatch)\b", re.I)
_WITH_YOU = re.compile(
    r"^(?:and\s+)?(?:he|she|it|they)(?:'ll|\s+will|\s+should)\s+be\s+with\s+you\b", re.I
)


def _arrives(prev: str, part: str) -> bool:
    """Whether ``part`` only says that the thing ``prev`` sends will arrive."""
    return bool(_WITH_YOU.match(part) and _SENT.search(prev))


def _waiting_joined(parts: list[str]) -> list[str]:
    """An event to come cut off by ", please" joins the instruction that waits for it: "When
    the bottle arrives, please check the label…" is one clause."""
    out: list[str] = []
    for part in parts:
        if out and _EVENT_ONLY.match(out[-1]):
            out[-1] = f"{out[-1]}, {part}"
        else:
            out.append(part)
    return out


_ASKS_YOU = re.compile(r"(?:could|can|would)\s+you\b.*\?\s*$", re.I)


def _asked_on(parts: list[str]) -> list[str]:
    """A bare verb after the agent's request or instruction in the same sentence is asked
    too, as one step: "could you keep bay 12 cordoned off, and email me the photos today?"
    asks for both; after a third party's act it is theirs too: "She'll come out on Thursday
    and start at six, when the wind is lowest, and spray the thirty hectares by the river"
    (not advice to the customer: "…, and keep that somewhere safe")."""
    out: list[str] = []
    asked = third = False
    for part in parts:
        first = re.match(r"[a-z]+", part)
        bare = first is not None and base_form(first.group(0)) == first.group(0)
        if bare and (asked or (third and not _ADVICE.match(part))):
            out[-1] = f"{out[-1].rstrip('.?!')} and {part}"
            continue
        body = LEADING.sub("", strip_condition(part))
        asked = bool(REQUEST.search(body) or INSTRUCT.search(body))
        third = third_act(body) is not None
        out.append(part)
    return out


#: what the customer is told to keep doing, which no third party does for them
_ADVICE = re.compile(r"(?:keep|remember|make\s+sure|bear|hold\s+on|hang\s+on)\b", re.I)
#: a comma joining two acts of different actors: "we'll send the battery to Veloria, they're
#: going to ship a replacement"
_SPLICE = re.compile(
    r",\s*(?=(?:they|he|she)(?:'ll|\s+will|'re going to|\s+are going to|'s going to|"
    r"\s+is going to)\b)",
    re.I,
)
_OPENS_CONDITION = re.compile(r"^(?:if|once|when|as soon as|after|until|unless|before)\b", re.I)


def _spliced(part: str) -> list[str]:
    """``part`` cut where a comma starts a third person's act; a condition opening the part
    stays with the act after it ("Once it arrives, they'll fit it" is one act; "Once it's
    back, we'll send it to Veloria, they'll ship a new one" is two)."""
    head = ""
    if _OPENS_CONDITION.match(LEADING.sub("", part)):
        if "," not in part:
            return [part]
        condition, part = part.split(",", 1)
        head = f"{condition},"
    pieces = [p for p in _SPLICE.split(part) if p.strip(" ,;.")]
    if not pieces:
        return [head + part]
    return [f"{head}{pieces[0]}", *pieces[1:]]


def _bare_do(rest: str) -> bool:
    """Whether "I'll do" + ``rest`` is a bare yes ("I'll do that tonight", and as the recogniser
    may hear it, "I'll do nothing to do"), not a named task ("I'll do the transfer")."""
    return bool(_ACCEPT.match(rest)) or not re.match(
        r"\s+(?:the|a|an|my|our|your|his|her|their|some|all|both)\b", rest, re.I
    )


def _kind(
    text: str, speaker: str, *, opens: bool = True, sentence: str = ""
) -> tuple[str, str, str, str]:
    """(kind, owner, who, verb) of the first act found in ``text`` (``opens``: the clause
    opens its sentence, ``sentence``: the whole sentence, where a plan said in the present
    may name its time)."""
    body = LEADING.sub("", strip_condition(text))
    conditional = bool(_CONDITION.search(text)) and body != text
    told = instruction(text, body, conditional, opens=opens) if speaker != "customer" else ""
    if told == "do" and re.search(r"\bdo\s+(?:that|this|it|so)\W*$", body, re.I):
        told = ""  # "would you be able to do that?": what was just asked, not a new act
    if told:
        asked = REQUEST.search(body)  # "could your drivers…": the customer's people act for them
        return "instruction", "customer", (asked and asked.group("people")) or "", told
    first = FUTURE_1.search(body)
    third = third_party(body, first, when=f"{text} {sentence}")
    if third:
        owner = "customer" if speaker == "customer" else "third party"
        return "third", owner, *third
    if first and first.group("verb").lower() == "do" and _bare_do(body[first.end() :]):
        return "", "", "", ""
    if first and NO_ACT_AHEAD.match(body[first.start("verb") :]):
        return "", "", "", ""  # "I'll be honest…", "I'll believe it when I see it"
    own = own_act(body, first, later=is_later(text), customer=speaker == "customer")
    if own:
        return own[0], speaker, "", own[1]
    if speaker == "customer":
        return "", "", "", ""  # "I'm calling about…", "I ordered…": the problem, not a step
    done = third_done(body)
    if done:
        # "Billing has already voided the second charge, and you'll see it back on your card…"
        return "past", "third party", *done
    return "", "", "", ""


def _negated(main: str) -> bool:
    """Whether the act of ``main`` is negated; not by what follows a purpose ("…so you're not
    cold tonight"), a "don't forget" or what is to be made sure of ("make sure the panel isn't
    blocked")."""
    # (nor by a purpose said first: "So you're not chasing anyone again, I'll email you…", nor
    # by a second request that is a "don't": "Please keep those boxes in the freezer and don't
    # open them")
    said = _MADE_SURE.sub("", DONT_FORGET.sub("", LEADING.sub("", main)))
    said = _AND_DONT.sub("", said)
    return bool(NEGATED.search(_PURPOSE.split(said.split(",")[0])[0]))


_AND_DONT = re.compile(r"\s+and\s+(?:please\s+)?(?:don't|do\s+not|never)\b.*$", re.I)


def strip_condition(text: str) -> str:
    """A leading "If …," / "Once …," is dropped to find the main clause."""
    if _CONDITION.search(text) and "," in text:
        return text.split(",", 1)[1].strip()
    return text


def _verb_at(text: str, verb: str) -> int:
    """Where the first form of ``verb`` in ``text`` ends (0 when none)."""
    for m in re.finditer(r"[A-Za-z']+", text):
        if base_form(m.group(0)) == verb:
            return m.end()
    return 0


@lru_cache(maxsize=8192)
def frame(clause: Clause) -> Frame:
    text = clause.text
    opens = clause.sentence.lstrip().startswith(text.lstrip()[:30])
    kind, owner, who, verb = _kind(text, clause.speaker, opens=opens, sentence=clause.sentence)
    main = strip_condition(text)
    # a past act's date to come follows its verb ("I've scheduled the engineer for Wednesday");
    # one before it is another phrase's ("a group starting on Monday and I've moved you…")
    deadline = DEADLINE.search(text, _verb_at(text, verb) if kind == "past" else 0)
    while deadline and text[deadline.end() :].startswith(("'s", "’s")):
        # "this month's invoice", "Thursday's round": a thing named by a time, not a date
        deadline = DEADLINE.search(text, deadline.end())
    if deadline and TIME_AS_OBJECT.search(text[: deadline.start()]):
        deadline = None  # "I've skipped next week": the week is what was skipped
    if (
        deadline
        and kind == "past"
        and EFFECTIVE.search(text[: deadline.start()])
        and re.search(r"\b(?:today|now|immediately)\b", deadline.group(0), re.I)
    ):
        deadline = None  # "I've cancelled the plan, effective today": done, nothing to come
    # (an imperative said with a rising voice asks too: "…and let me know by Monday week?")
    bare = LEADING.sub("", main)
    request = kind == "instruction" and bool(REQUEST.search(bare) or _BARE_VERB.match(bare))
    follows = _follows(text.split(",")[-1].strip()) and "," in text
    # how a joined consequence usually goes makes no rule of the act: "I'll issue the refund
    # the same day, and it usually shows up five days after that"
    act = main.rsplit(",", 1)[0] if follows else main
    return Frame(
        owner=owner,
        who=who,
        kind=kind,
        verb=verb,
        conditional=bool(_CONDITION.search(text)),
        negated=_negated(main),
        question=not request
        and (
            bool(_QUESTION.search(clause.sentence))
            or main.lower().startswith(
                ("can ", "could ", "will you", "would ", "do you", "should ")
            )
        ),
        hypothetical=not request
        and bool(
            HYPOTHETICAL.search(text)
            or (SHOULD.search(text) and NO_PROMISE.search(clause.sentence))
            or HABITUAL.search(TYPICAL_TIME.sub("", WHICH.sub("", act)))
            or (clause.speaker != "customer" and CHOICE.search(text))
            or (BELIEF.search(clause.sentence) is not None and deadline is None)
        ),
        in_call=(is_in_call(kind, clause.speaker, verb, main) and not _AFTER_EVENT.match(text))
        or bool(COURTESY.search(main)),
        complaint=bool(COMPLAINT.search(text))
        or (clause.speaker == "customer" and verb in LEAVING and bool(_CONDITION.search(text))),
        consequence=follows,
        deadline=deadline.group(0) if deadline else "",
        guessed=kind in ("progressive", "instruction") and base_form(verb) is None,
        open_actor=kind == "third" and third_act(LEADING.sub("", main)) is None,
    )

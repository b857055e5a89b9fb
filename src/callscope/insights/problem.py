"""Which of the customer's turns states the problem the call is about, pure (the problem
highlight of :mod:`callscope.insights.summary`).

The customer's first turn that states a problem — a problem word, or a fact about their
account, order or charges — among their first long turns; a turn that only says who calls and
what about (an introduction, a booking, a reference, the job the company did) or only asks
something gives way to the next that says what is wrong. Its first two sentences are quoted,
greeting and introduction dropped.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Sequence
from typing import Final

from callscope.insights.numbers import AMOUNT, WORD_AMOUNT
from callscope.insights.types import Sentence

__all__ = ["problem_turn"]

_PROBLEM = re.compile(
    r"\b(?:locked out|can't|cannot|couldn't|won't|doesn't|didn't|isn't|wasn't|hasn't|haven't|"
    r"not working|never got|never received|never (?:arrived|came|showed|turned up|happened)|"
    r"no longer|stopped|keeps|keep \w+ing|drops?|problem|issue|error|broken|broke|failed|wrong|"
    r"the trouble is|out of hand|dead|died|damaged|faulty|leak(?:s|ing)|smashed|stolen|rejected|"
    r"(?:it's|it is|they're|they are)\s+not\s+(?:my|her|his|our|their)\b|"
    r"charged|billed|overcharged|cancel|refund|calling about|calling because|i need|i want|"
    r"i'd like|trying to|missing|missed|lost|cracked|expired|too high|double|twice|no hot|"
    r"frustrat|times what|(?:two|three|2|3) times|again|dropped|arrived in|hurts?|pain|"
    r"fell (?:out|off)|damaged|stolen|leak\w*|stuck|declined|rejected|denied|late|delayed|"
    r"overdue|crash\w*|freez\w*|disappeared|marked as delivered|"
    # harm and alarm: "I found a cut on her leg, it was bleeding", "a letter saying an
    # enforcement officer might visit, so I panicked"
    r"bleed\w*|injur\w*|wound\w*|emergency|panick\w*|enforcement|bailiffs?|by mistake|"
    # nothing came of it: "nobody turned up", "it was meant to be collected yesterday",
    # "it's been a week and there's still nothing", "the delivery came 60 towels short"
    r"nobody|no one|heard nothing|meant to|supposed to|still (?:nothing|not|no|sat|there|"
    r"waiting)|it's been (?:a|\w+) (?:days?|weeks?|months?)\b|short\b|r[au]n out|"
    # damage and loss of service: "the boxes are soaked", "water coming through the ceiling",
    # "the box says no signal"
    r"soaked|flood\w*|dripping|damp|mou?ldy?|burst|coming (?:through|in)\b|"
    r"no (?:signal|service|power|internet|connection|heating|dial tone)\b|"
    # an outage: "the database was down for three hours", "the whole shop was offline"
    r"(?:was|is|were|are|went|been|goes|keeps going)\s+(?:\w+\s+)?(?:down|offline)\b|outage|"
    # fewer or other than what was ordered: "asked for 12 and got only 4"
    r"(?:got|received|sent|delivered)\s+only|only\s+(?:got|received|sent|delivered|came|"
    r"arrived)|instead of)",
    re.I,
)
#: a statement of fact about the customer's account, order or charges, which is the reason
#: for the call even with no problem word ("there are $120 in roaming charges on my bill")
_FACT = re.compile(
    rf"{AMOUNT}|{WORD_AMOUNT}|\b(?:charges?|fees?|payments?|debits?|withdrawals?|invoice)\b|"
    r"\b(?:my|our)\s+(?:\w+\s+)?(?:bill|statement|account|order|card|subscription|booking|"
    r"reservation|policy|plan|delivery|package|parcel|claim|balance|loan|mortgage|contract)\b|"
    # the customer citing their order or job by its reference: "for order CT-3308…"
    r"\b(?:order|booking|reference|ticket|invoice|job|case|claim)\s+(?:number\s+)?"
    r"[a-z]{0,4}-?\d{3,}\b",
    re.I,
)
#: an answer to the agent's identity questions, not a statement of the matter
_IDENTITY = re.compile(
    r"\b(?:number is|postcode|post code|zip|date of birth|my name is|spelled|last four|"
    r"security|password is|pin is)\b",
    re.I,
)
#: how many of the customer's first long turns may state the problem (later ones that match
#: are follow-ups: "I'll keep my phone on")
_PROBLEM_TURNS: Final = 3
#: "Hi Sarah," and the recogniser's "Hi, Sarah."
_GREETING = re.compile(
    r"^(?:(?:oh|ah),?\s+)?(?:hi|hello|hey|g'day|hiya|kia ora|bore da|prynhawn da|"
    r"(?:good )?(?:morning|afternoon|evening))"
    r"(?:,?\s+(?-i:[A-Z])[^\W\d_]+)?[,.!]\s*",
    re.I,
)
#: a sentence that only says who is calling: "My name's Derek Fairweather.", "I'm Mark.", "This
#: is Daniel from Brightline Studio." (no part of the problem)
_INTRODUCTION = re.compile(
    r"^(?:(?:um|uh|erm|er|so|well),?\s+)?(?:(?:and\s+)?(?:my name(?:'s|\s+is)|i'm|i\s+am|this\s+is|"
    r"it's))\s+"
    r"(?:(?:mr|mrs|ms|miss|dr)\.?\s+)?(?-i:[A-Z])[\w'-]*(?:\s+(?-i:[A-Z])[\w'-]*){0,2}"
    # "It's Pádraig Murphy here, out in Ballincollig."
    r"(?:\s+here)?(?:,?\s+(?:(?:i'm\s+)?(?:calling|ringing|phoning)\s+from|from|at|with|"
    r"over at|out in|up in|down in|in)\s+[^.!?,]{1,40})?"
    # and their job: "This is Meenakshi Sundaram, production manager at Kaveri Knit Exports,
    # Tiruppur."
    r"(?:,?\s+(?:the\s+|a\s+)?(?:[a-z][\w'-]*\s+){0,2}(?:manager|officer|director|owner|"
    r"paralegal|administrator|coordinator|secretary|supervisor|assistant|head|lead|buyer|clerk|"
    r"partner|accountant|mistress|master|chair|chairman|treasurer)\s+(?:at|for|with|from|of)\s+"
    r"[^.!?]{1,60})?\s*[.!?]?$",
    re.I,
)


_ANOTHER_ISSUE = re.compile(
    r"\b(?:also|another (?:thing|issue|problem|question)|one more thing|while I have you)\b", re.I
)


#: a sentence that only says what the call is about: a booking or reference ("I've got a
#: marquee booked with you", "My reference is MS55130."), or "I'm ringing about my scooter"
_WHAT_ABOUT = re.compile(
    r"\b(?-i:[A-Z]{1,4}-?\d{3,})\b|\bbooked\s+(?:with|through)\s+you\b|"
    # "I've got a subscription with you for daily lenses"
    r"\b(?:a|an)\s+(?:[\w-]+\s+)?(?:subscription|account|policy|contract|membership|plan|order|"
    r"booking)\s+(?:in\s+)?(?:with|through)\s+you(?:\s+guys)?\b|\b(?:reference|booking|order|"
    r"account|job|policy|case|claim|ticket)\s+(?:number|no\.?|reference)?\s*(?:is\s+)?\d|"
    # (a false start allowed: "I'm, eh, I'm ringing about a queen I got from ye this week")
    r"^(?:and\s+)?(?:(?:i'm|i\s+am),?\s+(?:(?:eh|uh|um|erm),?\s+)?)?(?:i'm|i\s+am)\s+"
    r"(?:ringing|calling|phoning)\s+about\s+(?:my|the|our|a|an)\s+[\w' -]{1,40}?(?:\s+again)?"
    r"[.!]?$|"
    # what the customer bought: "I bought a telescope from you guys a couple of weeks back"
    r"^(?:and\s+)?i\s+(?:bought|ordered|purchased|got)\s+(?:a|an|the|some|my)\s+[^.!?]{1,40}?"
    r"\s+(?:from|through|off)\s+(?:you|you\s+guys|ye|yous)\b[^.!?]*[.!]?$|"
    # the job the company did: "You guys put our kitchen benchtops in yesterday, in Wollongong."
    r"^(?:you|you guys|your\s+(?:team|crew|lads|guys))\s+(?:put|fitted|installed|did|delivered|"
    r"built|laid|serviced|replaced|moved)\s+(?:our|my)\b[^.!?]*[.!]?$",
    re.I,
)


#: what the customer says is fine before the "but": "the stone's gorgeous, no complaints there"
_FINE = re.compile(
    r"\bno\s+(?:complaints|problems?|issues?)\s+(?:there|with)\b|"
    r"\b(?:is|are|'s|looks?|looking)\s+(?:absolutely\s+|really\s+)?(?:fine|great|gorgeous|lovely|"
    r"perfect|beautiful|spot on)\b",
    re.I,
)
#: how the customer feels about the matter, which says nothing of what is wrong
_FEELING = re.compile(
    r"\b(?:(?:the\s+)?(?:second|third|fourth)\s+time|again|frustrat\w*|ridiculous|fed up|"
    r"unacceptable|annoy\w*|upset\w*)\b",
    re.I,
)


def _who_and_what(turn: Sequence[Sentence]) -> bool:
    """Whether a customer turn only says who calls and what about (an introduction, a booking
    or a reference, "I'm ringing about my scooter again"), no problem; or only who calls ("This
    is Meenakshi Sundaram, production manager at Kaveri Knit Exports.")."""
    said = [_GREETING.sub("", p.text).strip() for p in turn]
    about = [t for t in said if t and not _INTRODUCTION.match(t)]
    return not about or all(
        _WHAT_ABOUT.search(t)
        and not _PROBLEM.search(_VAGUE.sub("", re.sub(r"\bagain\b", "", t, flags=re.I)))
        for t in about
    )


#: the most words of a matter said in brief (a turn that tells what is wrong says more)
_BRIEF_WORDS: Final = 25


def _told_after_look_up(
    brief: list[Sentence], turns: list[list[Sentence]], answers: set[int]
) -> list[Sentence] | None:
    """The customer's turn after the one that gives the reference the agent asked for, when it
    says what is wrong at more length than ``brief``."""
    after = turns[turns.index(brief) + 1 :][:2]
    if len(after) < 2 or not (
        after[0][0].utterance.id in answers
        # the reference given when asked without a question mark ("Kindly tell me the order
        # number." — "KHW/2291.")
        or _REFERENCE_ONLY.match(" ".join(p.text for p in after[0]))
    ):
        return None
    told = " ".join(p.text for p in after[1])
    # (the greeting and who calls are no part of the matter said)
    matter = [_GREETING.sub("", p.text).strip() for p in brief]
    said = len(" ".join(t for t in matter if not _INTRODUCTION.match(t)).split())
    longer = said <= _BRIEF_WORDS < len(told.split())
    return after[1] if longer and _PROBLEM.search(told) else None


#: a turn that only gives a reference: "KHW/2291.", "It's HL-30962."
_REFERENCE_ONLY = re.compile(r"^(?:(?:it's|it is|yes|yeah|sure),?\s+)?[\w/-]*\d[\w/-]*[.!]?$", re.I)


def _only_asks(turn: Sequence[Sentence]) -> bool:
    """Whether a customer turn only asks something, no problem named: "You did our bathroom a
    couple of weeks back. First off, is it alright to pay the final invoice by transfer?"."""
    text = " ".join(p.text for p in turn)
    return turn[-1].text.rstrip().endswith("?") and not _PROBLEM.search(text)


#: a problem named without saying what is wrong: "I've got a problem with a delivery this
#: morning, order number SO88213" (the customer's next turn says what)
_VAGUE = re.compile(
    r"\b(?:a|an|some)\s+(?:(?:bit\s+of\s+an?|small|little|quick)\s+)?(?:problem|issue|query)"
    r"\s+(?:with|about|regarding)\s+(?:my|the|our|a|an|this|one)\s+[\w-]+|"
    # "I'm having a bit of a time with it", "having some trouble with it"
    r"\bhaving\s+(?:a\s+bit\s+of\s+|some\s+)?(?:a\s+time|trouble|bother|issues|problems)\s+"
    r"with\s+(?:it|them|this|that)\b",
    re.I,
)


def _states_problem(turn: Sequence[Sentence], *, answers: bool = False) -> bool:
    """Whether a customer turn states the problem: a problem word, or a fact about their
    account, order or charges said as a statement — not an answer to identity questions,
    nor (``answers``) to a question the agent asked for a detail ("Do you have the job
    number?" — "It's SR-6127. The invoice was $7,850.")."""
    text = " ".join(p.text for p in turn)
    if _PROBLEM.search(text):
        return True
    if answers:
        return False
    said = " ".join(p.text for p in turn if not p.text.rstrip().endswith("?"))
    return bool(_FACT.search(said)) and not _IDENTITY.search(text)


#: the matter asked for without a question: "Go on, tell me what's happening."
_TELL_ME = re.compile(
    r"\btell\s+me\s+(?:what(?:'s|\s+is)\s+(?:happening|going\s+on|wrong|up)|what\s+happened)\b",
    re.I,
)
#: the agent's question that asks for the matter, not a detail: "How can I help?"
_ASKS_MATTER = re.compile(
    r"\b(?:help|assist|do for you|calling (?:about|for)|what seems|what's (?:the (?:problem|"
    r"issue|matter|trouble|story|situation)|going on|wrong|up|happening|happened)|"
    # "Which part's gone wrong?"
    r"what happened|(?:gone|went) wrong|problem|issue)\b",
    re.I,
)


#: the closing question: "Is there anything else I can help with?" asks for no matter
_ANYTHING_ELSE = re.compile(r"\b(?:anything|something)\s+else\b", re.I)


def problem_turn(sents: Sequence[Sentence]) -> tuple[Sentence, str] | None:
    """The customer's first turn that states a problem (a problem word, or a fact about
    their account, order or charges: :func:`_states_problem`), among their first
    :data:`_PROBLEM_TURNS` long turns (its first two sentences, greeting dropped); else, or
    when that turn raises a further issue ("also…") after an earlier long turn, the
    customer's first long turn. Utterances of the customer with none of the agent's
    between are one turn: the recogniser cuts a turn at its pauses."""
    turns: dict[int, list[Sentence]] = {}
    #: the customer turns that answer the agent's question for a detail, and those that
    #: answer "How can I help?" (the matter, whatever its words)
    answers: set[int] = set()
    matter: set[int] = set()
    run: int | None = None
    asked: Sentence | None = None
    #: the agent asked something earlier in their turn ("Have you got the order number
    #: handy? It should start with N-S.")
    questioned = False
    for s in sorted(sents, key=lambda x: x.utterance.start):
        if s.speaker != "customer":
            if run is not None:
                questioned = False  # a new turn of the agent's
            questioned = questioned or s.text.rstrip().endswith("?")
            run = None
            asked = s
            continue
        if run is None:
            run = s.utterance.id
            if asked is not None and (
                asked.text.rstrip().endswith("?") or _TELL_ME.search(asked.text)
            ):
                asks_matter = _ASKS_MATTER.search(asked.text) and not _ANYTHING_ELSE.search(
                    asked.text
                )
                (matter if asks_matter else answers).add(run)
            elif questioned:
                answers.add(run)
        turns.setdefault(run, []).append(s)
    long = [
        parts
        for parts in turns.values()
        if len(" ".join(_GREETING.sub("", p.text) for p in parts).split()) >= 6
    ]
    # a reply to the opening or to "What's going on?": the last of them that has a problem
    # word (the agent asks again when the first only set the scene), else the first
    replies = [t for t in long[:_PROBLEM_TURNS] if t[0].utterance.id in matter]
    # (else the first that says more than who calls and what about: the agent looked it up
    # and asked "What's up?")
    chosen = next(
        (t for t in reversed(replies) if _PROBLEM.search(" ".join(p.text for p in t))),
        next((t for t in replies if not _who_and_what(t)), replies[0]) if replies else None,
    ) or next(
        (
            t
            for t in long[:_PROBLEM_TURNS]
            if _states_problem(t, answers=t[0].utterance.id in answers)
        ),
        None,
    )
    first_long = next(
        (t for t in turns.values() if len(" ".join(p.text for p in t).split()) >= 8), None
    )
    if chosen is None or (
        first_long is not None
        and first_long[0].utterance.start < chosen[0].utterance.start
        # (its opening, not a second matter raised later in the same turn: "The jukebox has
        # stopped taking cards… And while I have you, …")
        and _ANOTHER_ISSUE.search(chosen[0].text)
    ):
        chosen = first_long
    if chosen is not None and (
        chosen[0].utterance.id in matter or chosen is next(iter(turns.values()))
    ):
        # the matter said in brief (to the opening), the reference given, and the agent having
        # it up: the customer's next long turn tells what is wrong ("I rent a CPAP machine
        # through you guys, and it's on the fritz." — "Can I take your account number?" —
        # "It's 40917." — "Thank you. Yes, I have it here." — "For the last week it's been
        # making this high-pitched whine, and then…")
        chosen = _told_after_look_up(chosen, list(turns.values()), answers) or chosen
    if chosen is not None and (_who_and_what(chosen) or _only_asks(chosen)):
        # "It's David Okoro. I've got a marquee booked with you, reference MQ7730." — the agent
        # looks it up, and the customer's next long turn says what is wrong
        # (or the one after, when the next only says what is fine: "Look, the stone's
        # gorgeous, no complaints there." — "There's a but. …it won't go in."; or while the
        # customer answers the look-up: "it's H B, two-oh-nine-three-one." — "…Is that the
        # one?" — "That's the one. But when I opened the little box she was dead…")
        after = [t for t in long if t[0].utterance.start > chosen[0].utterance.start]
        if after and _FINE.search(" ".join(p.text for p in after[0])):
            later = after[:2]
        else:
            answering = itertools.takewhile(lambda t: t[0].utterance.id in answers, after)
            later = list(answering)[:2] or after[:1]
        # what is wrong, not only how it feels ("this is the second time and it's really
        # frustrating" leaves the booking the matter)
        chosen = next(
            (t for t in later if _PROBLEM.search(_FEELING.sub("", " ".join(p.text for p in t)))),
            chosen,
        )
    if chosen is None:
        return None
    said = [(p, _GREETING.sub("", p.text).strip()) for p in chosen]
    kept = [(p, t) for p, t in said if t and not _INTRODUCTION.match(t)][:2] or said[:1]
    text = " ".join(t for _, t in kept)
    return kept[0][0], text[:1].upper() + text[1:]

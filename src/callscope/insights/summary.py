"""The call's summary paragraph, its highlights and its facts, from what was said, pure.

* **Entities**: amounts ("$1,240", "forty dollars"), ids ("case 40517", "flight 218", a bare
  number of five digits or more), dates and times ("Friday", "March 15th", "the 20th",
  "tomorrow morning", "4 PM"), durations ("within 48 hours", "5 to 7 business days") and the
  teams a call was escalated or handed to.
* **Highlights**: the customer's problem, the agent's resolution (the sentence that settles
  it, scored by a small shipped model: :mod:`callscope.insights.resolution`),
  the first commitment and an escalation, each quoting its sentence and pointing at its
  utterance.
* **Summary**: "The customer reported that <the problem, third person>. The agent <what was
  done>. Agreed next steps: <steps>. Escalated to <team>. Details: <entities not yet named>."
  Only rewrites of what was said: every entity in it occurs in the transcript
  (:func:`grounded` checks, spoken numbers read as digits).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final, NamedTuple

from callscope.insights.clauses import clauses, frame
from callscope.insights.incall import under_way
from callscope.insights.numbers import DEADLINE, spoken_numbers
from callscope.insights.resolution import Candidates, candidates, resolution
from callscope.insights.steptext import done_text
from callscope.insights.steptext import third_person as _third_person
from callscope.insights.types import NextStep, Sentence, Utterance

__all__ = [
    "Highlight",
    "entities",
    "grounded",
    "highlights",
    "resolution_candidates",
    "summary",
]

_AMOUNT = r"[$£€]\d[\d,]*(?:\.\d\d)?|\b\d[\d,]*(?:\.\d\d)?\s+(?:dollars|bucks|pounds|quid|euros)\b"
_WORD_AMOUNT = (
    r"\b(?:(?:twenty|thirty|forty|fifty|sixty|seventy|eighty|ninety|ten|eleven|twelve|fifteen"
    r"|one|two|three|four|five|six|seven|eight|nine)[- ]?)+(?:hundred\s+)?"
    r"(?:dollars|pounds|quid|euros)\b"
)
_ID = (
    r"\b(?:case|ticket|claim|order|reference|confirmation|flight|account|invoice|incident)"
    r"(?:\s+number)?\s+#?[A-Z0-9-]*\d[A-Z0-9-]*\b|\b\d{5,}\b"
)
_TIME = r"\b\d{1,2}(?::\d\d)?\s*(?:AM|PM|a\.m\.|p\.m\.)|\bnoon\b"
ENTITY: Final = re.compile(
    rf"(?P<amount>{_AMOUNT}|{_WORD_AMOUNT})|(?P<id>{_ID})|(?P<time>{_TIME})", re.I
)
_ESCALATION = re.compile(
    r"\b(?:escalat\w*|supervisor|manager|second line|tier (?:2|two)|specialist team|legal team|"
    r"hardship department|registrar's office|engineers?)\b",
    re.I,
)
_ESCALATED_TO = re.compile(
    r"\b(?:escalat\w*|transferr\w*|send|sending|asking|passed)\s+(?:this|it|the [\w ]+?)?\s*"
    r"to\s+(?P<to>(?:the|our|a|my)\s+(?:[a-z']+\s+){0,2}(?:team|department|office|engineers|"
    r"supervisor|manager|specialist))",
    re.I,
)
_PROBLEM = re.compile(
    r"\b(?:locked out|can't|cannot|couldn't|won't|doesn't|didn't|isn't|wasn't|hasn't|haven't|"
    r"not working|never got|never received|never (?:arrived|came|showed|turned up|happened)|"
    r"no longer|stopped|keeps|keep \w+ing|drops?|problem|issue|error|broken|broke|failed|wrong|"
    r"the trouble is|out of hand|"
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
    rf"{_AMOUNT}|{_WORD_AMOUNT}|\b(?:charges?|fees?|payments?|debits?|withdrawals?|invoice)\b|"
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
    r"^(?:hi|hello|hey|g'day|hiya|kia ora|bore da|prynhawn da|(?:good )?(?:morning|afternoon|"
    r"evening))"
    r"(?:,?\s+(?-i:[A-Z][a-z]+))?[,.!]\s*",
    re.I,
)
#: a sentence that only says who is calling: "My name's Derek Fairweather.", "I'm Mark.", "This
#: is Daniel from Brightline Studio." (no part of the problem)
_INTRODUCTION = re.compile(
    r"^(?:(?:and\s+)?(?:my name(?:'s|\s+is)|i'm|i\s+am|this\s+is|it's))\s+"
    r"(?:(?:mr|mrs|ms|miss|dr)\.?\s+)?(?-i:[A-Z])[\w'-]*(?:\s+(?-i:[A-Z])[\w'-]*){0,2}"
    r"(?:,?\s+(?:from|at|with|calling from|over at)\s+[^.!?,]{1,40})?\s*[.!?]?$",
    re.I,
)
_NUMBER = re.compile(r"[\d,.:$]+")


@dataclass(frozen=True, slots=True)
class Highlight:
    kind: str  # problem | resolution | commitment | escalation
    sentence: Sentence
    text: str  # what is quoted: the sentence, or (a problem) the sentences of its turn

    def as_dict(self) -> dict[str, Any]:
        u = self.sentence.utterance
        return {
            "speakerId": u.party_id,
            "value": self.text,
            "start": u.start,
            "end": u.end,
            "kind": self.kind,
            "utteranceId": u.id,
        }


def entities(text: str) -> list[str]:
    """The amounts, ids, times, dates and durations in ``text``, in order, once each."""
    found: list[tuple[int, str]] = [(m.start(), m.group(0)) for m in ENTITY.finditer(text)]
    found += [(m.start(), m.group(0)) for m in DEADLINE.finditer(text) if _dated(m.group(0))]
    out: list[str] = []
    for _, value in sorted(found, key=lambda x: (x[0], -len(x[1]))):
        value = re.sub(r"^(?:at|on|by)\s+", "", value.strip().rstrip(".,"), flags=re.I)
        low = value.lower()
        if not any(low in v.lower() or v.lower() in low for v in out):
            out.append(value)
    return out


def _dated(phrase: str) -> bool:
    """A deadline phrase worth naming as a fact (not "now" or "the hour")."""
    relative = r"(?:\w+\s+)?(?:the hour|today|tonight)|(?:right )?after (?:we hang up|\w+ call)"
    return not re.fullmatch(relative, phrase.strip(), re.I)


def _canonical(text: str) -> str:
    """Lower case, spoken numbers as digits, thousands separators dropped."""
    text = spoken_numbers(text).lower().replace(",", "")
    return re.sub(r"\bthis call\b", "the call", text)


def grounded(text: str, transcript: str) -> list[str]:
    """The entities of ``text`` that do not occur in ``transcript`` (empty: all grounded)."""
    said = _canonical(transcript)
    return [e for e in entities(text) if _canonical(e) not in said]


#: a turn raising a further issue ("The invoice also lists…"): the reason for the call came
#: before it, even if the recogniser garbled its words
_ANOTHER_ISSUE = re.compile(
    r"\b(?:also|another (?:thing|issue|problem|question)|one more thing|while I have you)\b", re.I
)


#: a sentence that only says what the call is about: a booking or reference ("I've got a
#: marquee booked with you", "My reference is MS55130."), or "I'm ringing about my scooter"
_WHAT_ABOUT = re.compile(
    r"\b(?-i:[A-Z]{1,4}-?\d{3,})\b|\bbooked\s+(?:with|through)\s+you\b|"
    # "I've got a subscription with you for daily lenses"
    r"\b(?:a|an)\s+(?:[\w-]+\s+)?(?:subscription|account|policy|contract|membership|plan)\s+"
    r"(?:with|through)\s+you\b|\b(?:reference|booking|order|"
    r"account|job|policy|case|claim|ticket)\s+(?:number|no\.?|reference)?\s*(?:is\s+)?\d|"
    r"^(?:and\s+)?(?:i'm|i\s+am)\s+(?:ringing|calling|phoning)\s+about\s+(?:my|the|our)\s+"
    r"[\w' -]{1,30}?(?:\s+again)?[.!]?$",
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
    or a reference, "I'm ringing about my scooter again"), no problem."""
    said = [_GREETING.sub("", p.text).strip() for p in turn]
    about = [t for t in said if t and not _INTRODUCTION.match(t)]
    return bool(about) and all(
        _WHAT_ABOUT.search(t)
        and not _PROBLEM.search(_VAGUE.sub("", re.sub(r"\bagain\b", "", t, flags=re.I)))
        for t in about
    )


def _only_asks(turn: Sequence[Sentence]) -> bool:
    """Whether a customer turn only asks something, no problem named: "You did our bathroom a
    couple of weeks back. First off, is it alright to pay the final invoice by transfer?"."""
    text = " ".join(p.text for p in turn)
    return turn[-1].text.rstrip().endswith("?") and not _PROBLEM.search(text)


#: a problem named without saying what is wrong: "I've got a problem with a delivery this
#: morning, order number SO88213" (the customer's next turn says what)
_VAGUE = re.compile(
    r"\b(?:a|an|some)\s+(?:(?:bit\s+of\s+an?|small|little|quick)\s+)?(?:problem|issue|query)"
    r"\s+(?:with|about|regarding)\s+(?:my|the|our|a|an|this|one)\s+[\w-]+",
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


#: the agent's question that asks for the matter, not a detail: "How can I help?"
_ASKS_MATTER = re.compile(
    r"\b(?:help|assist|do for you|calling (?:about|for)|what seems|what's (?:the (?:problem|"
    r"issue|matter|trouble)|going on|wrong|up|happening|happened)|"
    r"what happened|problem|issue)\b",
    re.I,
)


#: the closing question: "Is there anything else I can help with?" asks for no matter
_ANYTHING_ELSE = re.compile(r"\b(?:anything|something)\s+else\b", re.I)


def _problem(sents: Sequence[Sentence]) -> Highlight | None:
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
    for s in sorted(sents, key=lambda x: x.utterance.start):
        if s.speaker != "customer":
            run = None
            asked = s
            continue
        if run is None:
            run = s.utterance.id
            if asked is not None and asked.text.rstrip().endswith("?"):
                asks_matter = _ASKS_MATTER.search(asked.text) and not _ANYTHING_ELSE.search(
                    asked.text
                )
                (matter if asks_matter else answers).add(run)
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
    if chosen is not None and (_who_and_what(chosen) or _only_asks(chosen)):
        # "It's David Okoro. I've got a marquee booked with you, reference MQ7730." — the agent
        # looks it up, and the customer's next long turn says what is wrong
        then = next((t for t in long if t[0].utterance.start > chosen[0].utterance.start), None)
        # what is wrong, not only how it feels ("this is the second time and it's really
        # frustrating" leaves the booking the matter)
        if then is not None and _PROBLEM.search(_FEELING.sub("", " ".join(p.text for p in then))):
            chosen = then
    if chosen is None:
        return None
    said = [(p, _GREETING.sub("", p.text).strip()) for p in chosen]
    kept = [(p, t) for p, t in said if t and not _INTRODUCTION.match(t)][:2] or said[:1]
    text = " ".join(t for _, t in kept)
    return Highlight("problem", kept[0][0], text[:1].upper() + text[1:])


def _done(
    sents: Sequence[Sentence], after: float, steps: Sequence[NextStep]
) -> list[tuple[Sentence, str]]:
    """The agent's acts done in the call (past or present progressive), as past tense. An act
    whose verb is no listed action (the recogniser's "I'm booting a loaner car") counts only
    when the classifier kept it as a next step."""
    out = []
    for s in sents:
        if s.speaker == "customer" or s.utterance.start < after:
            continue
        for c in clauses(s.text, s.speaker):
            f = frame(c)
            if f.kind not in ("past", "progressive") or (
                f.negated
                or f.question
                or (f.in_call and not under_way(f.kind, c.text))
                or f.complaint
            ):
                continue
            if f.guessed and not any(c.text.lower() in step.said.lower() for step in steps):
                continue
            out.append((s, done_text(c, f)))
    return out


class _Settling(NamedTuple):
    """What :func:`~callscope.insights.resolution.candidates` weighs besides the sentences."""

    done: list[Sentence]
    committed: list[Sentence]
    after: float
    problem_utterance: int | None


def _settling(
    sents: Sequence[Sentence],
    steps: Sequence[NextStep],
    done: Sequence[tuple[Sentence, str]],
    problem: Highlight | None,
) -> _Settling:
    committed = [
        s
        for s in (_sentence_of(sents, step) for step in steps if step.owner != "customer")
        if s is not None
    ]
    return _Settling(
        [s for s, _ in done],
        committed,
        problem.sentence.utterance.start if problem else 0.0,
        problem.sentence.utterance.id if problem else None,
    )


def resolution_candidates(sents: Sequence[Sentence], steps: Sequence[NextStep]) -> Candidates:
    """The resolution's candidate sentences and their features, as :func:`summary` weighs
    them (``bench/train_resolution.py`` fits the weights on these)."""
    problem = _problem(sents)
    done = _done(sents, problem.sentence.utterance.start if problem else 0.0, steps)
    st = _settling(sents, steps, done, problem)
    return candidates(
        sents, st.done, st.committed, after=st.after, problem_utterance=st.problem_utterance
    )


def highlights(
    sents: Sequence[Sentence],
    steps: Sequence[NextStep],
    done: Sequence[tuple[Sentence, str]],
    problem: Highlight | None,
) -> list[Highlight]:
    """Problem (as :func:`_problem` found it), resolution, first commitment and escalation
    (each at most once)."""
    out: list[Highlight] = []
    if problem is not None:
        out.append(problem)
    st = _settling(sents, steps, done, problem)
    settled = resolution(
        sents, st.done, st.committed, after=st.after, problem_utterance=st.problem_utterance
    )
    if settled is not None:
        out.append(Highlight("resolution", settled, settled.text))
    used = {h.sentence for h in out}
    for step in steps:
        s = _sentence_of(sents, step)
        if s is not None and s not in used:
            out.append(Highlight("commitment", s, s.text))
            used.add(s)
            break
    for s in sents:
        if s.speaker != "customer" and _ESCALATION.search(s.text) and s not in used:
            f = [frame(c) for c in clauses(s.text, s.speaker)]
            if not any(x.negated or x.question or x.hypothetical for x in f):
                out.append(Highlight("escalation", s, s.text))
                break
    return out


def _sentence_of(sents: Sequence[Sentence], step: NextStep) -> Sentence | None:
    """The sentence a step was said in: the one of its utterance that holds the step's first
    words, else (the step's words rewritten: "Manny's booked for tomorrow at nine to install
    it" said as "Manny will install it tomorrow at nine") the one sharing the most words
    with it, the earlier on a tie."""
    head = step.said.split(",")[0].rstrip(".")
    mates = [s for s in sents if s.utterance.id == step.utterance_id]
    for s in mates:
        if head in s.text:
            return s
    words = set(re.findall(r"[a-z']+", step.said.lower()))
    return max(
        mates,
        key=lambda s: len(words & set(re.findall(r"[a-z']+", s.text.lower()))),
        default=None,
    )


def _joined(items: Sequence[str]) -> str:
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]


def _reason(problem: Highlight) -> str:
    text = _third_person(problem.text.rstrip(".!? "), "customer")
    text = re.sub(r"^(?:so|well|yes|and|but),?\s+", "", text, flags=re.I)
    text = re.sub(r"([.!?]\s+)([a-z])", lambda m: m.group(1) + m.group(2).upper(), text)
    return f"The customer reported that {text[:1].lower() + text[1:]}."


def summary(
    utterances: Sequence[Utterance], sents: Sequence[Sentence], steps: Sequence[NextStep]
) -> tuple[str, list[Highlight]]:
    """The summary paragraph and the highlights (see the module docstring)."""
    problem = _problem(sents)
    done = _done(sents, problem.sentence.utterance.start if problem else 0.0, steps)
    marks = highlights(sents, steps, done, problem)
    pieces = []
    if problem is not None:
        pieces.append(_reason(problem))
    if done:
        pieces.append(f"The agent {_joined([d for _, d in done[:4]])}.")
    agreed = [s for s in steps if s.kind not in ("past", "progressive")]
    if agreed:
        listed = "; ".join(s.value.rstrip(".") for s in agreed[:6])
        pieces.append(f"Agreed next steps: {listed}.")
    text = " ".join(pieces)
    escalated = [m.group("to") for s in sents for m in _ESCALATED_TO.finditer(s.text)]
    if escalated and escalated[0].lower() not in text.lower():
        pieces.append(f"Escalated to {_third_person(escalated[0], 'agent')}.")
    transcript = " ".join(u.text for u in utterances)
    shown = _canonical(" ".join(pieces))
    extra = [e for e in entities(transcript) if _canonical(e) not in shown]
    if extra and pieces:
        pieces.append(f"Details mentioned: {', '.join(extra[:6])}.")
    if not pieces:
        return (
            "No problem statement, resolution or commitment was recognised in the transcript.",
            marks,
        )
    return " ".join(pieces), marks

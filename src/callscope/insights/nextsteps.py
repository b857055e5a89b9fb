"""Next steps: the commitments made in a call, clause by clause.

Every sentence is cut into clauses and each clause framed (:mod:`callscope.insights.clauses`).
A clause is a candidate when it names an actor and an action: the speaker's own future ("I'll
fax…", "we're going to ship…"), the agent's present progressive ("I'm adding a credit…") or
past act with a consequence or a date still to come ("I've put in a request, you'll see it in
five days"), a third party's future ("the billing team will…", "they'll…", any noun phrase or
name opening the clause that acts: "your bank will return…", "Marco, our depot supervisor, is
going to…"), the agent's instruction to the customer ("please print the label", "you'll need
to restart…", "could you ask your vet to email us…?", "could you read your meter tonight?")
or a conditional promise ("if it hasn't arrived by Friday, I'll…"); "you'll get a text from
us…" and "a calendar invite will follow by email" are the speaker's own future. Vetoed
outright: negations, questions, complaints about an earlier promise ("you said you would…"),
hypotheticals ("would", "could", what follows a hypothetical condition, what is done as a
rule, an offer on the customer's choice), and the agent's in-call procedure ("let me check",
"I'll put you on hold", "I'll need your…"). The rest go to the shipped classifier
(:mod:`callscope.insights.commitments`), which keeps those it scores ≥ its threshold.

"They", "he", "she" or a first name as the actor is named by :mod:`callscope.insights.naming`.
Sentences are read with the recogniser's typical slips undone
(:mod:`callscope.insights.misheard`), and a sentence that finishes the one before — a
consequence, a trailing "once…", the rest of a turn the recogniser cut at a pause — is joined
to it first. A sentence said three times or more in one call is the recogniser looping, not
speech, and a step said twice is kept once. The agent's act done in the call that hands the
matter to a third party whose own step follows in the same sentence or the next one of the
turn ("I've booked an engineer visit for Wednesday. The engineer will replace the board.") is
no step of its own: the third party's is.
"""

from __future__ import annotations

import itertools
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import replace
from typing import Final

from callscope.insights.actors import DETERMINER
from callscope.insights.clauses import Clause, Frame, clauses, frame, is_consequence
from callscope.insights.commitments import load_model
from callscope.insights.handover import handed_over
from callscope.insights.incall import BE_PLACES
from callscope.insights.lists import is_list
from callscope.insights.naming import Names, person_named, reported, their_person
from callscope.insights.numbers import WEEKDAY, normalise_deadline
from callscope.insights.offers import taken_offers
from callscope.insights.repeats import ASKS_RECAP, RECAP, key, recapped, said_before
from callscope.insights.steptext import step_action, step_text, with_object
from callscope.insights.types import Embedder, NextStep, Sentence, Utterance, sentences

__all__ = ["Candidate", "candidates", "next_steps"]

#: the agent starting to troubleshoot with the customer on the line
_TRY_NOW = re.compile(
    r"\blet's\s+(?:just\s+)?(?:try|do|run|check|test)\b|\bwhile (?:you're|you are|we're|we are|"
    r"I'm|I am) (?:on the (?:line|phone)|still on)\b|\bshall we try\b",
    re.I,
)


class Candidate:
    """A clause that could be a next step, with its frame and the sentence it is from."""

    __slots__ = ("clause", "frame", "index", "person", "sentence")

    def __init__(
        self, sentence: Sentence, clause: Clause, frame_: Frame, index: int = 0, person: str = ""
    ) -> None:
        self.sentence = sentence
        self.clause = clause
        self.frame = frame_
        self.index = index  # the sentence's place in the call
        # the person the agent named last, by name and role (the customer's own person they
        # named last, in the customer's sentences)
        self.person = person


def _vetoed(f: Frame) -> bool:
    hypothetical = f.hypothetical and (f.conditional or f.kind != "past")
    return f.negated or f.question or f.complaint or f.in_call or hypothetical


def _admissible(f: Frame, text: str) -> bool:
    """A past act counts only with a consequence or a date still to come (a third party's only
    with a consequence), and a booking made
    for the customer only with a consequence ("I've booked you in on Tuesday at ten": the
    booking is done; they attend it). "Do" with nothing done ("Please do, because…") is no
    act, nor is the customer being somewhere other than where a visit needs them ("I'm going
    to be on the road most of October")."""
    if (
        (f.verb == "do" and _BARE_DO.search(text))
        or (f.verb == "be" and f.owner == "customer" and not _BE_PRESENT.search(text))
        or (f.verb == "wait" and _WAIT_AND_SEE.search(text))
        # what the speaker's side will want, no act: "We'll want them back for the investigation"
        or (f.verb == "want" and f.kind == "future")
    ):
        return False
    if f.kind == "past":
        # (a span is no date to come: "set it to stay open for sixty days")
        dated = bool(f.deadline) and not _SPAN.match(f.deadline) and not _BOOKED_YOU.search(text)
        # a third party's act done counts by what follows from it ("…, and you'll see it back
        # on your card"), not by a date that may be past ("the driver has marked it short, the
        # depot ran out on Monday")
        return f.consequence or (dated and f.owner != "third party")
    return f.candidate


_BARE_DO: Final = re.compile(
    r"\bdo\s*(?:[,.!?]|$|because\b)|\bwhat\s+(?:I|we)(?:'m| am|'re| are)?\s+(?:going to\s+)?"
    r"do(?:ing)?\b",
    re.I,
)
#: a decision put off, no act: "I'll wait and see", "I'll hold off and wait for now"
_WAIT_AND_SEE: Final = re.compile(
    r"\bwait\s+(?:and\s+(?:see|decide)|for\s+now|a\s+(?:bit|while))\b", re.I
)
#: the customer being where a visit or a delivery needs them ("I'll be home on Friday",
#: "make sure I'm here when he shows up")
_BE_PRESENT: Final = re.compile(
    rf"\b(?:be|I'm|I am)\s+(?:at\s+)?(?:{BE_PLACES}|here|"
    # (not "I'll be at sea on polling day": away)
    r"at\s+(?:the\s+|my\s+|our\s+)?(?:house|home|property|flat|door|site|address|shop|office|unit|"
    r"gate|reception|desk)\b)",
    re.I,
)


#: a span, no date: "for sixty days" (not "for the 20th", "for tomorrow")
_SPAN: Final = re.compile(
    r"for\s+(?:(?:a|an|another|the\s+next|[\w-]+)\s+){1,3}?(?:minutes?|hours?|days?|weeks?|"
    r"months?|years?)\b",
    re.I,
)
_BOOKED_YOU: Final = re.compile(
    r"\b(?:re)?(?:booked|reserved|scheduled)\s+you\b(?!\s+(?:a\s+)?(?:call|callback))", re.I
)


def candidates(utterances: Sequence[Utterance]) -> list[Candidate]:
    """The clauses of the call that name an actor and an action and are not vetoed; "they"
    is named after the last team the agent mentioned."""
    out: list[Candidate] = []
    names = Names()
    trying: Utterance | None = None  # the agent's turn that started trying something now
    own = ""  # the customer's own person they named last ("Our church officer, Hamish")
    said: list[tuple[int, str]] = []  # the customer's sentences so far, by utterance
    for index, s in enumerate(taken_offers(_joined_consequences(sentences(utterances)))):
        turns = list(dict.fromkeys(u for u, _ in said))[-2:]
        earlier = " ".join(t for u, t in said if u in turns) if s.speaker == "customer" else ""
        if s.speaker == "customer":
            said.append((s.utterance.id, s.text))
            own = their_person(s.text) or own
        parts = clauses(s.text, s.speaker)
        frames = [frame(c) for c in parts]
        if s.speaker != "customer" and _TRY_NOW.search(s.text):
            trying = s.utterance
        elif trying is s.utterance:
            # "Let's try something together first. Could you unplug the box…?": done while
            # on the line, unless put off to later
            frames = [
                replace(f, in_call=True) if f.kind == "instruction" and not f.deadline else f
                for f in frames
            ]
        if frames and frames[0].conditional and frames[0].hypothetical:
            # "If you miss another payment, it would be reported, so please call us first":
            # what follows a hypothetical is hypothetical too
            frames = [replace(f, hypothetical=True) for f in frames]
        subject = ""  # the team that acts in an earlier clause of the sentence
        for c, f in zip(parts, frames, strict=True):
            if f.candidate and _admissible(f, c.text) and not _vetoed(f):
                f, subject = names.actor(reported(f, s.text, earlier), c.text, subject)
                person = names.person if " " in names.person else ""
                out.append(Candidate(s, c, f, index, person if s.speaker != "customer" else own))
            if s.speaker != "customer":
                opens = bool(_PRONOUN_OPENS.match(_LEADING_AND.sub("", c.text)))
                names.heard(c.text, pronoun_opens=opens)
    return out


#: a sentence that is only a time or condition for what was just said ("Once the new one comes.")
_TRAILING_CONDITION = re.compile(
    r"^(?:once|as soon as|when|after|until|by the time|if)\b[^,]*$", re.I
)
#: a sentence that only says when the act said before it happens: "Probably Wednesday
#: morning.", "Should be today."
_TIME_ONLY = re.compile(
    r"^(?:(?:probably|hopefully|ideally|likely|most\s+likely|should\s+be|it'll\s+be|that'll\s+be)"
    r"\s+)?(?:(?:on|by|this|next|first\s+thing)\s+)?(?:today|tonight|tomorrow|"
    rf"{WEEKDAY})(?:\s+(?:morning|afternoon|evening|night))?"
    # "By Friday, ideally, so it clears verification before the run."
    r"(?:,?\s+(?:ideally|if possible|if you can|at the latest|please))?(?:,\s+so\s+[^.!?]+)?[.!]?$",
    re.I,
)
#: the longest pause (s) between a speaker's utterances still read as one sentence
_SAME_BREATH_S = 1.5
#: a sentence that only says the act just done went through: "There, that's gone through.",
#: "Done."
_JUST_DONE = re.compile(
    r"^(?:(?:there|right|okay|ok|and|so)[,.]?\s+)?(?:(?:that's|that has|it's|it has)\s+"
    r"(?:now\s+|all\s+)?(?:gone through|gone in|done|been processed|been done)|done|all done|"
    r"there we go|there you go)[.!]?$",
    re.I,
)


def _continues(prev: Sentence, s: Sentence) -> bool:
    """Whether ``s`` finishes ``prev``: a consequence or a trailing condition in the same turn,
    or the rest of a sentence the recogniser cut at a pause (same speaker, a short gap, and
    ``prev`` unfinished or ``s`` starting in lower case)."""
    if prev.utterance is s.utterance:
        return (
            is_consequence(s.text)
            or bool(_TRAILING_CONDITION.match(s.text) and len(s.text.split()) <= 8)
            or _TIME_ONLY.match(s.text) is not None
        )
    if prev.speaker != s.speaker or not prev.utterance.text.strip().endswith(prev.text):
        return False
    opens = s.utterance.text.strip().startswith(s.text)
    if s.utterance.start - prev.utterance.end > _SAME_BREATH_S or not opens:
        return False
    unfinished = not prev.text.rstrip().endswith((".", "!", "?"))
    return unfinished or s.text[:1].islower() or is_consequence(s.text)


def _joined_consequences(sents: list[Sentence]) -> list[Sentence]:
    """A sentence that finishes the one before (:func:`_continues`) joins it: a recogniser
    often ends a sentence where a writer puts a comma ("I've refunded the charge. It'll take
    three days."), and cuts a turn at a pause ("I'll send the" … "replacement tomorrow").
    A consequence also finishes the act before a sentence of the same turn that only says it
    went through ("I'm refunding it now. There, that's gone through. You'll see it back…"),
    which is dropped: it is no step."""
    out: list[Sentence] = []
    for s in sents:
        if (
            len(out) >= 2
            and out[-1].utterance is s.utterance is out[-2].utterance
            and _JUST_DONE.match(out[-1].text.strip())
            and is_consequence(s.text)
        ):
            out.pop()
        if out and _continues(out[-1], s):
            prev = out.pop()
            # (a time said after a request asked as a question: "…could you email me the
            # receipt? Ideally by Monday.")
            head = prev.text.rstrip(".!?" if _TIME_ONLY.match(s.text) else ".!")
            joint = ", " if prev.utterance is s.utterance or head != prev.text else " "
            s = Sentence(prev.utterance, f"{head}{joint}{s.text[:1].lower()}{s.text[1:]}")
        out.append(s)
    return out


#: a sentence said this often in one call is the recogniser looping ("I'm going to go to the
#: next slide" over a stretch of noise), not speech
_LOOP = 3


#: a step said again to replace one said before
_INSTEAD = re.compile(r"\binstead\b(?!\s+of\b)", re.I)  # (not "ten thousand instead of eighteen")


def _same_visit(first: Candidate, then: Candidate) -> bool:
    """Whether ``then`` goes on with what the third party of ``first`` does, in the same turn,
    named by a pronoun ("…, and she'll have a look at…", "He'll ring you before…")."""
    return (
        first.sentence.utterance is then.sentence.utterance
        and first.frame.verb in _VISITS
        and not _PHONE_CALL.search(first.clause.text)
        and first.frame.owner == then.frame.owner == "third party"
        and _bare(first.frame.who) == _bare(then.frame.who)
        and bool(_PRONOUN_OPENS.match(_LEADING_AND.sub("", then.clause.text)))
    )


#: the acts of a visit, which what the visitor then does there belongs to ("she'll be with
#: you on Tuesday, and she'll have a look at…"); after other acts a pronoun's act is a step
#: of its own ("she's going to open a dispute today… She'll email you the form")
_VISITS: Final = frozenset(("be", "come", "visit", "pop", "drop", "call", "go", "bring"))
#: a call on the phone, no visit ("will call you on Monday, and then she'll send…")
_PHONE_CALL: Final = re.compile(r"\bcall(?:s|ing)?\s+(?:you|him|her|them|the customer)\b", re.I)


def _asked_again(first: Candidate, then: Candidate) -> bool:
    """Whether ``then`` asks the customer again for ``first``'s act in the same turn, its
    object now a pronoun ("…the agreement signed. If you sign it and send it back…")."""
    return (
        first.sentence.utterance is then.sentence.utterance
        and first.frame.owner == then.frame.owner == "customer"
        and first.frame.kind == then.frame.kind == "instruction"
        and first.frame.verb == then.frame.verb
        and bool(re.search(rf"\b{then.frame.verb}\w*\s+(?:it|them|that|this)\b", then.clause.text))
    )


#: an act that only points back at the one before, with its time: "they'll do that by Friday"
_DO_THAT = re.compile(
    r"^(?:do\s+(?:that|this|it|so)|have\s+(?:both|it|them|that|this|everything|all\s+that)\s+"
    r"(?:done|sorted|finished|fixed|ready))\s+(\S.*)$",
    re.I,
)


def _restates(first: Candidate, then: Candidate) -> bool:
    """Whether ``then`` ("…, and they'll do that by Friday") is ``first``'s act said again with
    its time: the same owner in the same turn, ``first`` with no time of its own."""
    return (
        first.sentence.utterance is then.sentence.utterance
        and first.frame.owner == then.frame.owner
        and _bare(first.frame.who) in (_bare(then.frame.who), "")
        and not first.frame.deadline
    )


def _bare(who: str) -> str:
    """``who`` without its determiner and plural: "the driver" and "driver" are one, and
    "engineer" (one of our engineers) and "our engineers" (as "he" is named) too."""
    bare = DETERMINER.sub("", who.strip()).lower()
    return bare.removesuffix("s") if len(bare) > 3 else bare


#: a clause opened by the pronoun of a third party
_PRONOUN_OPENS = re.compile(r"^(?:he|she|they)(?:'ll|\s+will|'s|\s+is|'re|\s+are)\b", re.I)
_LEADING_AND = re.compile(r"^(?:and|then|and then|so)\s+", re.I)


#: a step the customer adds to what the agent asked: "I'll also send you…", "…, too"
_ALSO = re.compile(r"\b(?:also|too|as well|another thing)\b", re.I)


def _adds_to_answer(c: Candidate) -> bool:
    """Whether ``c``'s sentence adds to an answer already given in the turn: "I can do that.
    And I'll leave the side gate unlocked on Friday night.", "Yeah, that's fine. Oh, and I'll
    change my shipping address tonight.", or follows a new matter raised in it ("And actually,
    while I think of it, I'm changing the code. I'll email it to the office on Sunday.")."""
    text, turn = c.sentence.text.strip(), c.sentence.utterance.text.strip()
    if _NEW_MATTER.search(turn.split(text, 1)[0]):
        return True  # "…And actually, while I think of it, I'm changing the code. I'll email…"
    return bool(_AND_OPENS.match(text)) and not turn.startswith(text)


_AND_OPENS = re.compile(r"^(?:oh,?\s+)?and\b", re.I)
#: a new matter raised in the turn before the step: "while I think of it", "by the way"
_NEW_MATTER = re.compile(
    r"\b(?:while I think of it|by the way|one more thing|another thing|on another note)\b", re.I
)


def _agreed(c: Candidate, kept: Sequence[Candidate], utterances: Sequence[Utterance]) -> bool:
    """Whether ``c`` is the customer's answer to a request the agent made in its turn just
    before ("Could you forward it to the venue by Friday?" — "Yes, I'll forward it this
    afternoon.", "I'll get my son to help me with that tonight", "I'll be there myself"): the
    step is the request, said once. A step the customer adds ("I'll also send you…") is
    their own."""
    if c.sentence.speaker != "customer" or c.frame.owner != "customer" or c.frame.kind != "future":
        return False
    if _ALSO.search(c.sentence.text) or _adds_to_answer(c):
        return False  # "Will do. I'll also email you our florist's details": a step of its own
    start = c.sentence.utterance.start
    before = [u for u in utterances if u.start < start and u.speaker != "customer"]
    if not before:
        return False
    asked = max(before, key=lambda u: u.start)
    if any(o.sentence.utterance is asked and o.frame.owner == "customer" for o in kept):
        return True
    # the same act asked a turn or two earlier: "…, you'll need to go to the ticket office
    # tomorrow morning" — "Any ID?" — "Passport or licence." — "Fine, I'll go first thing."
    recent = sorted(before, key=lambda u: u.start)[-2:]
    return any(
        o.sentence.utterance in recent
        and o.frame.owner == "customer"
        and o.frame.kind == "instruction"
        and o.frame.verb == c.frame.verb
        for o in kept
    )


def _asked_recaps(utterances: Sequence[Utterance]) -> set[int]:
    """The agent's turns that answer the customer's ask for a recap ("Will you go over it once
    more for me?")."""
    return {
        then.id
        for asked, then in itertools.pairwise(utterances)
        if asked.speaker == "customer"
        and then.speaker != "customer"
        and ASKS_RECAP.search(asked.text)
    }


def next_steps(utterances: Sequence[Utterance], *, embed: Embedder | None = None) -> list[NextStep]:
    """The commitments made in the call, in order (see the module docstring)."""
    found = candidates(utterances)
    if not found:
        return []
    model = load_model()
    probabilities = model.probability(
        [c.clause.text for c in found],
        [c.frame for c in found],
        [c.sentence.speaker for c in found],
        embed,
    )
    sents = sentences(utterances)
    said = Counter(key(s.text) for s in sents)
    kept = [
        c
        for c, p in zip(found, probabilities, strict=True)
        if p >= model.threshold and said[key(c.sentence.text)] < _LOOP
    ]
    out: list[NextStep] = []
    recaps = {s.utterance.id for s in sents if RECAP.search(s.text) or is_list(s.text)}
    recaps |= _asked_recaps(utterances)
    last: Candidate | None = None
    for c, p in zip(found, probabilities, strict=True):
        if c not in kept or handed_over(c, kept) or _agreed(c, kept, utterances):
            continue
        u = c.sentence.utterance
        head = c.clause.text[:30]
        before = u.text.split(head, 1)[0] if head in u.text else ""
        value = with_object(step_text(c.clause, c.frame), c.frame.verb, before, u.speaker)
        value = person_named(value, c.frame.owner, c.person, c.sentence.utterance.text)
        if u.id in recaps and any(recapped(value, c.frame, s) for s in out):
            continue  # "So, to recap. … I'll post you a confirmation letter and a gift aid form"
        if any(said_before(value, c.frame.owner, s) for s in out):
            continue  # said twice ("…, and I'll ring you on Friday afternoon" in a recap), one step
        # (or "I'll have both done by Friday" after the acts it names)
        done = c.frame.verb in ("do", "have")
        when = _DO_THAT.match(step_action(c.clause, c.frame)) if done else None
        if when and last is not None and out and _restates(last, c):
            # "…to search the sorting room, and they'll do that by Friday": the time of the
            # step just said
            out[-1] = replace(
                out[-1],
                value=f"{out[-1].value.rstrip('.')} {when.group(1)}.",
                said=f"{out[-1].said.rstrip('.')}, {c.clause.text}",
            )
            continue
        if last is not None and out and _asked_again(last, c):
            # "What I need from you is the agreement signed. If you sign it and send it back
            # before the twentieth, …": one request, with the time the second gives
            if c.frame.deadline and not last.frame.deadline:
                out[-1] = replace(
                    out[-1],
                    value=f"{out[-1].value.rstrip('.')} {normalise_deadline(c.frame.deadline)}.",
                )
            continue
        if last is not None and out and _same_visit(last, c):
            # "Alison will be with you on Tuesday, and she'll have a look at the F sharp":
            # one person's visit, one step
            out[-1] = replace(
                out[-1],
                value=f"{out[-1].value.rstrip('.')} and {step_action(c.clause, c.frame)}.",
                said=f"{out[-1].said.rstrip('.')}, {c.clause.text}",
            )
            continue
        if _INSTEAD.search(c.clause.text):
            # "I'll come in Thursday lunchtime for the shampoo instead": the step it replaces
            # (the same speaker's "I'll pop in on Wednesday to pick it up") is no more
            earlier = [s for s in out if s.owner == c.frame.owner and s.party_id == u.party_id]
            if earlier:
                out.remove(earlier[-1])
        last = c
        out.append(
            NextStep(
                owner=c.frame.owner,
                party_id=u.party_id,
                value=value,
                said=c.clause.text,
                start=u.start,
                end=u.end,
                utterance_id=u.id,
                kind=c.frame.kind,
                probability=round(float(p), 3),
            )
        )
    return out

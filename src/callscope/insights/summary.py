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
from callscope.insights.numbers import AMOUNT, DEADLINE, WORD_AMOUNT, spoken_numbers
from callscope.insights.problem import problem_turn
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

_ID = (
    r"\b(?:case|ticket|claim|order|reference|confirmation|flight|account|invoice|incident)"
    r"(?:\s+number)?\s+#?[A-Z0-9-]*\d[A-Z0-9-]*\b|\b\d{5,}\b"
)
_TIME = r"\b\d{1,2}(?::\d\d)?\s*(?:AM|PM|a\.m\.|p\.m\.)|\bnoon\b"
ENTITY: Final = re.compile(
    rf"(?P<amount>{AMOUNT}|{WORD_AMOUNT})|(?P<id>{_ID})|(?P<time>{_TIME})", re.I
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


def _problem(sents: Sequence[Sentence]) -> Highlight | None:
    """The customer's problem (:func:`callscope.insights.problem.problem_turn`)."""
    found = problem_turn(sents)
    return Highlight("problem", *found) if found else None


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

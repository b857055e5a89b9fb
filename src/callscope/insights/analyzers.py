"""Offline post-call analyzers over a speaker-attributed transcript, pure.

* **Next steps**: commitments — first-person future ("I'll", "I will", "we're going to", "you'll
  receive") — split into clauses ("I'll add a note, and I'll email you…" is two), with vetoes
  for conditionals ("if it breaks I'll cancel"), negations ("I won't"), questions and in-call
  actions ("let me check", "I'll put you on hold", "I'll need your…"). An optional sentence
  embedding adds clauses that read like the prototypes of a next step (and never overrides a
  veto). Each step names its owner (the speaker's party) and its time; its text is turned into
  an instruction ("Email the customer instructions…").
* **Highlights**: the customer's stated problem and the agent's resolution, quoted.
* **Summary**: a factual reason / resolution / agreed-actions paragraph built from the quoted
  sentences and the next steps; nothing that was not said.
* **Metrics**: talk ratio, silence, longest monologue, interruptions; customer sentiment at
  the start and the end (VADER); keywords (YAKE); whether a recording or monitoring disclosure
  was spoken.
"""

from __future__ import annotations

import functools
import itertools
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

import numpy as np
import numpy.typing as npt

__all__ = [
    "DISCLOSURE",
    "Analysis",
    "NextStep",
    "Sentence",
    "Utterance",
    "analyze",
    "compound",
    "next_steps",
    "sentences",
]


@dataclass(frozen=True, slots=True)
class Utterance:
    """One final utterance: who (``agent``, ``customer``, ``supervisor``), its party, when
    (seconds from the start of the call) and what."""

    id: int
    speaker: str
    party_id: str | None
    start: float
    end: float
    text: str


@dataclass(frozen=True, slots=True)
class Sentence:
    utterance: Utterance
    text: str

    @property
    def speaker(self) -> str:
        return self.utterance.speaker


@dataclass(frozen=True, slots=True)
class NextStep:
    owner: str  # the speaker who committed
    party_id: str | None
    value: str
    said: str
    start: float
    end: float
    utterance_id: int
    by: str  # rule | similarity


Embedder = Callable[[Sequence[str]], npt.NDArray[np.float32]]

_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9\"'])")
#: ", and I'll …" / "; I will …": a second commitment in one sentence
_CLAUSE = re.compile(
    r"(?:,|;)?\s+(?:and|then|also)\s+(?=(?:i|we)(?:'ll|\s+will|\s+are going to|'re going to)\b)",
    re.I,
)
_COMMIT = re.compile(
    r"\b(?:(?:i|we)(?:'ll|\s+will|\s+shall|'m going to|\s+am going to|'re going to|\s+are going"
    r" to)|(?:you|you'll)\s*(?:will\s+)?(?:receive|get)\b|(?:someone|somebody|a technician|an "
    r"engineer|our team|the team)\s+will)\b",
    re.I,
)
_NEGATED = re.compile(
    r"\b(?:won't|will not|shan't|am not going to|'m not going to|are not going to|aren't going"
    r" to|never|cannot|can't)\b",
    re.I,
)
_CONDITIONAL = re.compile(r"^\s*(?:if|unless|in case|should|once|when|whenever)\b|\bif\b", re.I)
#: commitments that are the conversation itself, not something to do after it
_IN_CALL = re.compile(
    r"\b(?:i|we)(?:'ll|\s+will|'m going to|\s+am going to)\s+(?:just\s+)?(?:be\b|need\b|have to "
    r"ask|ask\b|check\b|look\b|verify\b|confirm\b|pull up\b|bring up\b|put you\b|place you\b|"
    r"transfer you\b|connect you\b|repeat\b|read\b|go ahead\b|help\b|try\b|see\b|take a look\b|"
    r"walk you\b|stay\b|hold\b|wait\b|start by\b)",
    re.I,
)
_PROBLEM = re.compile(
    r"\b(?:locked out|can't|cannot|couldn't|won't|doesn't|didn't|isn't|not working|never got|"
    r"never received|problem|issue|error|broken|failed|wrong|charged|overcharged|cancel|"
    r"refund|calling about|calling because|i need|i want|i'd like|trying to)\b",
    re.I,
)
_RESOLVED = re.compile(
    r"\b(?:i(?:'ve| have)\s+(?:\w+\s+)?(?:unlocked|fixed|reset|updated|resolved|refunded|"
    r"credited|cancelled|canceled|changed|removed|restored|reactivated|processed|waived)|"
    r"(?:is|has been|have been)\s+(?:now\s+)?(?:fixed|resolved|unlocked|restored|refunded|"
    r"updated|processed|credited|waived))\b",
    re.I,
)
#: the why of a resolution, quoted with it when said in the same turn
_CAUSE = re.compile(r"\b(?:because|was caused by|due to|the reason)\b", re.I)
DISCLOSURE = re.compile(
    r"\b(?:call|conversation)s?\s+(?:may|might|will|is|are)\s+(?:be\s+)?(?:being\s+)?"
    r"(?:recorded|monitored)|\b(?:recorded|monitored)\s+for\s+(?:quality|training)",
    re.I,
)
_QUESTION = re.compile(r"\?\s*$")
_LEAD = re.compile(
    r"^\s*(?:(?:ok(?:ay)?|so|yes|sure|great|alright|right|well|and|then|also|now),?\s+)*"
    r"(?:(?:i|we)(?:'ll|\s+will|\s+shall|'m going to|\s+am going to|'re going to|\s+are going to)"
    r"\s+(?:also\s+|now\s+|then\s+|just\s+)?)",
    re.I,
)

#: what a next step sounds like, for the optional similarity test
PROTOTYPES: Final = (
    "I will send you an email with the details.",
    "I'll email you the instructions today.",
    "We will call you back tomorrow morning.",
    "I'll follow up with you by the end of the week.",
    "You will receive a confirmation email within the hour.",
    "I'll mail the return label to your address.",
    "A technician will visit on Tuesday.",
    "I'll add a note to your account.",
    "I'll send a new link by text message.",
    "I will process the refund and you'll see it in three days.",
)
#: what a commitment in the conversation itself sounds like
COUNTER_PROTOTYPES: Final = (
    "Let me check that for you.",
    "I can help you with that.",
    "Can I have your account number?",
    "I'll need to verify your identity first.",
    "I'm going to put you on hold for a moment.",
    "Is there anything else I can help you with?",
    "Thank you for calling.",
)
SIMILARITY_THRESHOLD: Final = 0.55


def sentences(utterances: Sequence[Utterance]) -> list[Sentence]:
    """Utterances split at sentence ends (ASR output carries punctuation)."""
    out = []
    for u in utterances:
        for part in _SENTENCE_END.split(u.text.strip()):
            part = part.strip()
            if part:
                out.append(Sentence(u, part))
    return out


def _clauses(text: str) -> list[str]:
    parts = _CLAUSE.split(text)
    return [p.strip(" ,;") for p in parts if p.strip(" ,;")]


def _vetoed(clause: str, sentence: str) -> bool:
    return bool(
        _NEGATED.search(clause)
        or _CONDITIONAL.search(clause)
        or _QUESTION.search(sentence)
        or _IN_CALL.search(clause)
    )


_PRONOUNS: Final = (
    (re.compile(r"\byour\b", re.I), "the customer's"),
    (re.compile(r"\byou\b", re.I), "the customer"),
    (re.compile(r"\bour\b", re.I), "the support"),
)


def instruction(clause: str, owner: str) -> str:
    """A commitment as a step: "I will email you the steps today." → "Email the customer the
    steps today." (the agent's); a customer's: "Customer: call back tomorrow."."""
    body = _LEAD.sub("", clause).strip().rstrip(".!")
    if owner == "agent" or owner == "supervisor":
        for pattern, repl in _PRONOUNS:
            body = pattern.sub(repl, body)
    text = body[:1].upper() + body[1:] if body else clause
    if owner == "customer":
        text = "Customer: " + body
    return text + "."


def next_steps(utterances: Sequence[Utterance], *, embed: Embedder | None = None) -> list[NextStep]:
    """Commitments made in the call, in order."""
    candidates: list[tuple[Sentence, str, bool]] = []  # sentence, clause, rule hit
    for s in sentences(utterances):
        for clause in _clauses(s.text):
            if _vetoed(clause, s.text):
                continue
            candidates.append((s, clause, bool(_COMMIT.search(clause))))
    similar: list[bool] = [False] * len(candidates)
    if embed is not None and candidates:
        vectors = embed([c for _, c, _ in candidates])
        protos = embed(PROTOTYPES)
        counters = embed(COUNTER_PROTOTYPES)
        pos = (vectors @ protos.T).max(axis=1)
        neg = (vectors @ counters.T).max(axis=1)
        similar = [bool(p >= SIMILARITY_THRESHOLD and p > n) for p, n in zip(pos, neg, strict=True)]
    out = []
    for (s, clause, rule), sim in zip(candidates, similar, strict=True):
        if not (rule or sim):
            continue
        u = s.utterance
        out.append(
            NextStep(
                owner=u.speaker,
                party_id=u.party_id,
                value=instruction(clause, u.speaker),
                said=clause,
                start=u.start,
                end=u.end,
                utterance_id=u.id,
                by="rule" if rule else "similarity",
            )
        )
    return out


@dataclass
class Analysis:
    next_steps: list[NextStep]
    highlights: list[dict[str, Any]]
    summary: str
    metrics: dict[str, Any]
    sentiment: dict[str, Any]
    keywords: list[str]
    compliance: dict[str, Any]
    notes: list[str] = field(default_factory=list)


def _problem(sents: Sequence[Sentence]) -> list[Sentence]:
    """The customer's first sentences that state a problem (at most two, one utterance)."""
    for s in sents:
        if s.speaker == "customer" and _PROBLEM.search(s.text):
            same = [x for x in sents if x.utterance is s.utterance and _PROBLEM.search(x.text)]
            return same[:2]
    return []


def _resolution(sents: Sequence[Sentence], after: float) -> list[Sentence]:
    """The agent's first turn (after the problem) that says it was resolved, with its cause."""
    for s in sents:
        if s.speaker == "agent" and s.utterance.start >= after and _RESOLVED.search(s.text):
            turn = [x for x in sents if x.utterance is s.utterance]
            return [x for x in turn if _RESOLVED.search(x.text) or _CAUSE.search(x.text)][:3]
    return []


def _quote(parts: Sequence[Sentence]) -> str:
    return " ".join(p.text.strip() for p in parts)


def talk_metrics(utterances: Sequence[Utterance], duration_s: float) -> dict[str, Any]:
    by: dict[str, float] = {}
    for u in utterances:
        by[u.speaker] = by.get(u.speaker, 0.0) + max(0.0, u.end - u.start)
    talk = sum(by.values())
    # silence: the call's time covered by no one's speech
    spans = sorted((u.start, u.end) for u in utterances)
    covered, cur_s, cur_e = 0.0, None, None
    for s, e in spans:
        if cur_e is None or s > cur_e:
            if cur_e is not None and cur_s is not None:
                covered += cur_e - cur_s
            cur_s, cur_e = s, e
        else:
            cur_e = max(cur_e, e)
    if cur_e is not None and cur_s is not None:
        covered += cur_e - cur_s
    # longest monologue: consecutive utterances of one speaker
    longest: dict[str, Any] = {"speaker": None, "seconds": 0.0}
    run_speaker, run_start, run_end = None, 0.0, 0.0
    for u in sorted(utterances, key=lambda x: x.start):
        if u.speaker == run_speaker and u.start - run_end < 2.0:
            run_end = max(run_end, u.end)
        else:
            run_speaker, run_start, run_end = u.speaker, u.start, u.end
        if run_end - run_start > longest["seconds"]:
            longest = {"speaker": run_speaker, "seconds": round(run_end - run_start, 2)}
    interruptions = 0
    ordered = sorted(utterances, key=lambda x: x.start)
    for a, b in itertools.pairwise(ordered):
        if b.speaker != a.speaker and b.start < a.end - 0.3:
            interruptions += 1
    return {
        "durationSeconds": round(duration_s, 2),
        "talkSeconds": {k: round(v, 2) for k, v in sorted(by.items())},
        "talkRatio": {k: round(v / talk, 3) for k, v in sorted(by.items())} if talk else {},
        "silenceSeconds": round(max(0.0, duration_s - covered), 2),
        "silenceRatio": round(max(0.0, duration_s - covered) / duration_s, 3) if duration_s else 0,
        "longestMonologue": longest,
        "interruptions": interruptions,
    }


@functools.cache
def _vader() -> Any:
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

    return SentimentIntensityAnalyzer()  # its lexicon is loaded once, then only read


def compound(text: str) -> float:
    """VADER's compound sentiment score of ``text``, -1 (negative) to 1 (positive)."""
    return float(_vader().polarity_scores(text)["compound"])


def customer_sentiment(utterances: Sequence[Utterance]) -> dict[str, Any]:
    """VADER compound score of the customer's first and last thirds, and the trend."""
    said = [u.text for u in utterances if u.speaker == "customer" and u.text.strip()]
    if not said:
        return {"start": None, "end": None, "trend": None, "overall": "Neutral"}
    third = max(1, len(said) // 3)

    def score(texts: Sequence[str]) -> float:
        return round(float(np.mean([compound(t) for t in texts])), 3)

    start, end = score(said[:third]), score(said[-third:])
    trend = "improved" if end - start > 0.1 else "worsened" if start - end > 0.1 else "steady"
    overall = "Positive" if end >= 0.05 else "Negative" if end <= -0.05 else "Neutral"
    return {"start": start, "end": end, "trend": trend, "overall": overall}


def keywords(utterances: Sequence[Utterance], top: int = 8) -> list[str]:
    import yake

    text = " ".join(u.text for u in utterances)
    if len(text.split()) < 5:
        return []
    extractor = yake.KeywordExtractor(lan="en", n=2, top=top * 2, dedupLim=0.7)
    kept: list[str] = []
    for phrase, _score in extractor.extract_keywords(text):
        words = set(phrase.lower().split())
        # "Northwind" adds nothing after "Northwind Internet", nor the other way round
        if any(words <= set(k.lower().split()) or set(k.lower().split()) <= words for k in kept):
            continue
        kept.append(phrase)
    return kept[:top]


def compliance(utterances: Sequence[Utterance]) -> dict[str, Any]:
    """Was a recording or monitoring disclosure spoken, by whom and when."""
    for u in sorted(utterances, key=lambda x: x.start):
        if DISCLOSURE.search(u.text):
            return {
                "recordingDisclosure": True,
                "speakerId": u.party_id,
                "start": u.start,
                "text": u.text,
            }
    return {"recordingDisclosure": False, "speakerId": None, "start": None, "text": None}


def analyze(
    utterances: Sequence[Utterance], duration_s: float, *, embed: Embedder | None = None
) -> Analysis:
    sents = sentences(utterances)
    steps = next_steps(utterances, embed=embed)
    problem = _problem(sents)
    resolution = _resolution(sents, problem[0].utterance.start if problem else 0.0)
    highlights = [
        {
            "speakerId": part[0].utterance.party_id,
            "value": _quote(part),
            "start": part[0].utterance.start,
            "end": part[-1].utterance.end,
            "kind": kind,
        }
        for kind, part in (("problem", problem), ("resolution", resolution))
        if part
    ]
    pieces = []
    if problem:
        pieces.append(f'The customer said: "{_quote(problem)}"')
    if resolution:
        pieces.append(f'The agent said: "{_quote(resolution)}"')
    if steps:
        agreed = "; ".join(s.value[:1].lower() + s.value[1:].rstrip(".") for s in steps)
        pieces.append(f"Agreed next steps: {agreed}.")
    if not pieces:
        pieces.append(
            "No problem statement, resolution or commitment was recognised in the transcript."
        )
    return Analysis(
        next_steps=steps,
        highlights=highlights,
        summary=" ".join(pieces),
        metrics=talk_metrics(utterances, duration_s),
        sentiment=customer_sentiment(utterances),
        keywords=keywords(utterances),
        compliance=compliance(utterances),
    )

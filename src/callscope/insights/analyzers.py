"""Offline post-call analyzers over a speaker-attributed transcript, pure.

* **Next steps** (:mod:`callscope.insights.nextsteps`): commitments found clause by clause —
  the speaker's future, the agent's present progressive and past acts with a consequence,
  third parties ("the team will…"), instructions to the customer and conditional promises —
  with negations, questions, hypotheticals, complaints and in-call procedure vetoed, judged
  by a small classifier over sentence embeddings and frame features shipped in the package;
  each as owner + action + object + deadline.
* **Highlights and summary** (:mod:`callscope.insights.summary`): the problem, the resolution,
  a commitment and an escalation, each pointing at its utterance; a paragraph naming the
  reason for the call, what was done and agreed, with the amounts, dates and ids said —
  nothing that was not said.
* **Metrics**: talk ratio, silence, longest monologue, interruptions; customer sentiment at
  the start and the end (VADER); keywords (YAKE); whether a recording or monitoring disclosure
  was spoken.
"""

from __future__ import annotations

import functools
import itertools
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from callscope.insights.nextsteps import next_steps
from callscope.insights.summary import summary
from callscope.insights.types import Embedder, NextStep, Sentence, Utterance, sentences

__all__ = [
    "DISCLOSURE",
    "Analysis",
    "Embedder",
    "NextStep",
    "Sentence",
    "Utterance",
    "analyze",
    "compound",
    "next_steps",
    "sentences",
]

DISCLOSURE = re.compile(
    r"\b(?:call|conversation)s?\s+(?:may|might|will|is|are)\s+(?:be\s+)?(?:being\s+)?"
    r"(?:recorded|monitored)|\b(?:recorded|monitored)\s+for\s+(?:quality|training)",
    re.I,
)


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
    text, marks = summary(utterances, sents, steps)
    return Analysis(
        next_steps=steps,
        highlights=[h.as_dict() for h in marks],
        summary=text,
        metrics=talk_metrics(utterances, duration_s),
        sentiment=customer_sentiment(utterances),
        keywords=keywords(utterances),
        compliance=compliance(utterances),
    )

"""The transcript and next-step values the insight analyzers share."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

__all__ = ["Embedder", "NextStep", "Sentence", "Utterance", "sentences"]

Embedder = Callable[[Sequence[str]], npt.NDArray[np.float32]]


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
    owner: str  # who is to do it: agent | customer | third party
    party_id: str | None  # the party who said it
    value: str  # the step, RingSense style
    said: str  # the clause as spoken (recogniser slips undone, insights.misheard)
    start: float
    end: float
    utterance_id: int
    kind: str  # future | progressive | past | third | instruction
    probability: float  # the classifier's


#: a sentence ends at . ! ? before a capital or digit — not after a title ("Dr. Patel")
_SENTENCE_END = re.compile(
    r"(?<!\bDr\.)(?<!\bMr\.)(?<!\bMs\.)(?<!\bMrs\.)(?<!\bSt\.)(?<!\bNo\.)(?<=[.!?])\s+"
    r"(?=[A-Z0-9\"'])"
    # "No." ends a sentence ("No. I'll call you") unless a number follows ("a No. 1 grade")
    r"|(?<=\bNo\.)\s+(?=[A-Z\"'])"
)


def sentences(utterances: Sequence[Utterance]) -> list[Sentence]:
    """Utterances split at sentence ends (ASR output carries punctuation)."""
    out = []
    for u in utterances:
        for part in _SENTENCE_END.split(u.text.strip()):
            part = part.strip()
            if part:
                out.append(Sentence(u, part))
    return out

"""Scripted utterances for the insights unit tests."""

from __future__ import annotations

from callscope.insights.types import Utterance


def said(*turns: tuple[str, str], gap: float = 0.5) -> list[Utterance]:
    """One 3 s utterance per ``(speaker, text)``, ``gap`` s apart; party ``p-<speaker>``."""
    out, t = [], 0.0
    for i, (speaker, text) in enumerate(turns):
        out.append(Utterance(i, speaker, f"p-{speaker}", t, t + 3.0, text))
        t += 3.0 + gap
    return out

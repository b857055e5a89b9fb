"""The ``insights`` object of a RingSense RecordingInsights document (spec §10), from an
analysis — shared by the post-call job (:mod:`callscope.insights.service`) and the text path
(``callscope insights FILE``, ``POST …/insights:analyze``)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from callscope.insights.analyzers import Analysis, Utterance
from callscope.insights.llm import LlmInsights

__all__ = ["insights_arrays", "text_document"]


def insights_arrays(
    utterances: Sequence[Utterance],
    analysis: Analysis,
    duration_s: float,
    *,
    llm: LlmInsights | None = None,
) -> dict[str, list[dict[str, Any]]]:
    """``Transcript``, ``Summary``, ``Highlights``, ``NextSteps``, ``Sentiment`` and
    callscope's extras; ``llm``: the model's summary, highlights and next steps instead."""
    span = {"start": 0.0, "end": round(duration_s, 3)}
    insights: dict[str, list[dict[str, Any]]] = {
        "Transcript": [
            {"speakerId": u.party_id, "text": u.text, "start": u.start, "end": u.end}
            for u in utterances
        ],
        "Summary": [{"value": analysis.summary, **span}],
        "Highlights": [
            {k: h[k] for k in ("speakerId", "value", "start", "end")} for h in analysis.highlights
        ],
        "NextSteps": [
            {"speakerId": s.party_id, "value": s.value, "start": s.start, "end": s.end}
            for s in analysis.next_steps
        ],
        "Sentiment": [{"value": analysis.sentiment["overall"]}],
        # callscope's extras, each under a key of its own
        "CustomerSentiment": [{k: analysis.sentiment[k] for k in ("start", "end", "trend")}],
        "CallMetrics": [analysis.metrics],
        "Keywords": [{"value": k} for k in analysis.keywords],
        "Compliance": [analysis.compliance],
    }
    if llm is not None:
        insights["Summary"] = [{"value": llm.summary, **span}]
        insights["Highlights"] = [
            {"speakerId": u.party_id, "value": text, "start": u.start, "end": u.end}
            for u, text in llm.highlights
        ]
        insights["NextSteps"] = [
            {"speakerId": u.party_id, "value": text, "start": u.start, "end": u.end}
            for u, text in llm.next_steps
        ]
    return insights


def text_document(
    utterances: Sequence[Utterance],
    analysis: Analysis,
    *,
    source: str,
    engine: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """A RecordingInsights-shaped document for a transcript that is no recorded call: no
    record, session or owner ids (null), ``title`` naming the source."""
    duration_s = max((u.end for u in utterances), default=0.0)
    speakers: dict[str | None, str] = {}
    for u in utterances:
        speakers.setdefault(u.party_id, u.speaker)
    return {
        "title": f"Transcript {source}",
        "domain": "pbx",
        "sourceRecordId": None,
        "sourceSessionId": None,
        "ownerExtensionId": None,
        "recordingDurationMs": round(duration_s * 1000),
        "speakerInfo": [
            {
                "speakerId": party,
                "name": speaker.capitalize(),
                "accountId": None,
                "extensionId": None,
            }
            for party, speaker in speakers.items()
        ],
        "insights": insights_arrays(utterances, analysis, duration_s),
        "callscopeAnalysis": engine or {"engine": "offline"},
    }

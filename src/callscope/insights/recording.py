"""The RecordingInsights document of a recorded call (spec §10): title, speakers and the
``insights`` arrays, from the call's rows and its analysis — what the post-call job
(:mod:`callscope.insights.service`) stores and publishes."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from callscope.calls.numbers import e164
from callscope.calls.telephony import participant_party_id
from callscope.calls.views import current_agent, iso
from callscope.insights.analyzers import Analysis, Utterance
from callscope.insights.document import insights_arrays
from callscope.insights.llm import LlmInsights
from callscope.store.models import Call, Extension, Party, TelephonySession

__all__ = ["build_document"]


def build_document(
    call: Call,
    session: TelephonySession,
    parties: Sequence[Party],
    extensions: dict[int, Extension],
    utterances: Sequence[Utterance],
    analysis: Analysis,
    owner: Extension,
    now: datetime,
    *,
    llm: LlmInsights | None = None,
    engine: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The RecordingInsights object of spec §10 (plus callscope's extras under own keys).
    ``llm``: the model's summary, highlights and next steps replace the offline ones."""
    duration_s = (call.duration_ms or 0) / 1000
    agent = current_agent(list(parties))
    agent_name = owner.name if agent is None else (agent.to_name or owner.name)
    customer = e164(call.ani) or "an outside number"
    title = (
        f"Call from {agent_name} to {customer}"
        if session.direction == "Outbound"
        else f"Call from {customer} to {agent_name}"
    )
    speakers = []
    spoken = {u.party_id for u in utterances}
    for p in parties:
        if p.role == "supervisor" and p.id not in spoken:
            continue
        ext = extensions.get(p.extension_id) if p.extension_id is not None else None
        info: dict[str, Any] = {
            "speakerId": p.id,
            "name": ext.name if ext else ("Customer" if p.role == "customer" else None),
            "accountId": p.account_id if ext else None,
            "extensionId": str(ext.id) if ext else None,
        }
        if p.role == "customer":
            info["phoneNumber"] = e164(call.ani)
        speakers.append(info)
    # a RingCX gRPC dialog's participants that are no telephony party (bots) speak too
    for track in (call.stop_metadata or {}).get("tracks", []):
        if track.get("participantType") not in ("AGENT", "CONTACT"):
            speaker_id = participant_party_id(call.id, str(track.get("participantId")))
            if speaker_id not in {s["speakerId"] for s in speakers}:
                speakers.append(
                    {
                        "speakerId": speaker_id,
                        "name": track.get("name"),
                        "participantType": track.get("participantType"),
                        "accountId": None,
                        "extensionId": None,
                    }
                )
    insights = insights_arrays(utterances, analysis, duration_s, llm=llm)
    return {
        "title": title,
        "domain": "pbx",
        "sourceRecordId": call.id,
        "sourceSessionId": session.id,
        "callDirection": session.direction,
        "ownerExtensionId": str(owner.id),
        "recordingDurationMs": call.duration_ms or 0,
        "recordingStartTime": iso(call.started_at),
        "creationTime": iso(now),
        "lastModifiedTime": iso(now),
        "speakerInfo": speakers,
        "insights": insights,
        # how the summary, highlights and next steps were made (callscope's extra)
        "callscopeAnalysis": engine or {"engine": "offline"},
    }

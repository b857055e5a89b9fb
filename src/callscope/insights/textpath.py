"""Insights for a transcript that is no live call: ``callscope insights FILE`` and
``POST /ai/ringsense/v1/public/accounts/{accountId}/domains/{domain}/insights:analyze``.

Accepted input:

* **JSON** in the REST transcript shape (``GET /calls/{id}/transcript``: ``utterances[]``
  with ``speaker``, ``partyId``, ``startMs``, ``endMs``, ``text``) or the ``callscope
  transcribe`` shape (``start_ms``, ``end_ms``);
* **WebVTT** as ``GET /calls/{id}/transcript?format=vtt`` writes it (one cue per utterance,
  the speaker as its voice: ``<v agent>…</v>``);
* **WAV** (CLI only): transcribed first with the offline recogniser live calls use.

Bad input raises :class:`~callscope.errors.TranscriptInvalid` naming what is wrong.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from callscope.errors import TranscriptInvalid
from callscope.insights.analyzers import Embedder, Utterance, analyze
from callscope.insights.document import text_document

__all__ = ["analyze_text", "from_json", "from_vtt", "load_file"]

MAX_UTTERANCES = 5000
_CUE_TIME = re.compile(
    r"^(?:(\d+):)?(\d{2}):(\d{2})[.,](\d{3})\s+-->\s+(?:(\d+):)?(\d{2}):(\d{2})[.,](\d{3})"
)
_VOICE = re.compile(r"^<v(?:\.[\w.-]+)?\s+([^>]+)>(.*?)(?:</v>)?$", re.S)
_TAG = re.compile(r"</?[^>]+>")


def _ms(h: str | None, m: str, s: str, ms: str) -> int:
    return ((int(h or 0) * 60 + int(m)) * 60 + int(s)) * 1000 + int(ms)


def _field(item: dict[str, Any], *names: str) -> Any:
    for name in names:
        if name in item:
            return item[name]
    return None


def from_json(data: Any) -> list[Utterance]:
    """Utterances of a REST transcript (or ``callscope transcribe``) JSON object."""
    items = data.get("utterances") if isinstance(data, dict) else None
    if not isinstance(items, list):
        raise TranscriptInvalid("the JSON has no utterances array (the REST transcript shape)")
    if len(items) > MAX_UTTERANCES:
        raise TranscriptInvalid(f"more than {MAX_UTTERANCES} utterances")
    out = []
    for i, item in enumerate(items):
        if not isinstance(item, dict):
            raise TranscriptInvalid(f"utterances[{i}] is not an object")
        text = _field(item, "text")
        speaker = _field(item, "speaker")
        start = _field(item, "startMs", "start_ms")
        end = _field(item, "endMs", "end_ms")
        if not isinstance(text, str) or not isinstance(speaker, str) or not speaker:
            raise TranscriptInvalid(f"utterances[{i}] needs text and speaker strings")
        if not isinstance(start, int | float) or not isinstance(end, int | float) or end < start:
            raise TranscriptInvalid(f"utterances[{i}] needs startMs ≤ endMs (numbers)")
        party = _field(item, "partyId", "speakerId")
        if text.strip():
            out.append(
                Utterance(
                    int(_field(item, "seq") or i),
                    speaker,
                    party if isinstance(party, str) else speaker,
                    start / 1000,
                    end / 1000,
                    text.strip(),
                )
            )
    return out


def from_vtt(text: str) -> list[Utterance]:
    """Utterances of a WebVTT transcript with the speaker as each cue's voice."""
    lines = text.replace("\r\n", "\n").split("\n")
    if not lines or not lines[0].lstrip("\ufeff").startswith("WEBVTT"):
        raise TranscriptInvalid("not WebVTT: the first line must be WEBVTT")
    out: list[Utterance] = []
    i = 0
    while i < len(lines):
        m = _CUE_TIME.match(lines[i].strip())
        i += 1
        if m is None:
            continue
        body = []
        while i < len(lines) and lines[i].strip():
            body.append(lines[i].strip())
            i += 1
        cue = " ".join(body)
        voice = _VOICE.match(cue)
        speaker = voice.group(1).strip() if voice else "unknown"
        said = _TAG.sub("", voice.group(2) if voice else cue)
        said = said.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&").strip()
        if said:
            start, end = _ms(*m.groups()[:4]), _ms(*m.groups()[4:])
            out.append(Utterance(len(out), speaker, speaker, start / 1000, end / 1000, said))
        if len(out) > MAX_UTTERANCES:
            raise TranscriptInvalid(f"more than {MAX_UTTERANCES} cues")
    if not out:
        raise TranscriptInvalid("the WebVTT has no cues")
    return out


def parse(raw: bytes, kind: str) -> list[Utterance]:
    """``raw`` as ``json`` or ``vtt``."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise TranscriptInvalid(f"not UTF-8 text: {exc}") from exc
    if kind == "vtt":
        return from_vtt(text)
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise TranscriptInvalid(f"JSON can't be parsed: {exc}") from exc
    return from_json(data)


def _transcribe(path: Path, engine: str) -> list[Utterance]:
    from callscope.transcription.engines import load_engine
    from callscope.transcription.transcript import transcribe_file

    try:
        said = transcribe_file(path, load_engine(engine, None, threads=1))
    except (OSError, ValueError) as exc:
        raise TranscriptInvalid(f"{path}: cannot transcribe: {exc}") from exc
    return [
        Utterance(i, u.speaker, u.speaker, u.start_ms / 1000, u.end_ms / 1000, u.text)
        for i, u in enumerate(said)
        if u.text.strip()
    ]


def load_file(path: Path, *, engine: str = "whisper-tiny") -> list[Utterance]:
    """The utterances of a transcript file (by its content: RIFF → WAV, WEBVTT → WebVTT,
    else JSON)."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise TranscriptInvalid(f"{path}: {exc.strerror or exc}") from exc
    if raw[:4] == b"RIFF":
        return _transcribe(path, engine)
    kind = "vtt" if raw.lstrip(b"\xef\xbb\xbf").startswith(b"WEBVTT") else "json"
    try:
        return parse(raw, kind)
    except TranscriptInvalid as exc:
        raise TranscriptInvalid(f"{path}: {exc}") from exc


def analyze_text(
    utterances: list[Utterance], *, source: str, embed: Embedder | None = None
) -> dict[str, Any]:
    """The RingSense document of a transcript (offline analyzers)."""
    if not utterances:
        raise TranscriptInvalid("the transcript has no utterances with text")
    ordered = sorted(utterances, key=lambda u: (u.start, u.id))
    duration_s = max(u.end for u in ordered)
    analysis = analyze(ordered, duration_s, embed=embed)
    return text_document(ordered, analysis, source=source)

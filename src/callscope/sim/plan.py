"""What a simulated call sends, tick by tick, with faults injected. Pure and seeded.

Each 20 ms tick sends frame *k* of both perspectives. Faults:

* ``reorder`` — a frame is held back 1-3 ticks (stays inside the server's jitter window);
* ``duplicate`` — a frame is sent again 0-2 ticks later;
* ``drop`` — a frame is never sent (the server writes silence in its place);
* ``malformed`` — an extra broken message is sent (bad JSON, bad base64, unknown event,
  bad perspective, bad sequenceId, oversize, binary); real frames are untouched.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from callscope.errors import RecordingError, SimulatorError
from callscope.media.g711 import lin2ulaw
from callscope.media.wav import read_wav
from callscope.protocols.ringcx import PERSPECTIVES, Perspective, build_media

__all__ = ["CallAudio", "Faults", "MediaBuilder", "Plan", "build_plan", "load_audio"]

FRAME_SAMPLES = 160

MALFORMED_KINDS = (
    "bad_json",
    "bad_base64",
    "unknown_event",
    "bad_perspective",
    "bad_sequence",
    "oversize",
    "wrong_type",
)


@dataclass(frozen=True, slots=True)
class CallAudio:
    """μ-law frames per perspective (160 bytes each), from a stereo or mono source."""

    name: str
    agent: list[bytes]
    caller: list[bytes]

    @property
    def frames(self) -> int:
        return len(self.agent)


def load_audio(path: Path) -> CallAudio:
    """Load a stereo WAV (left = agent, right = caller), a mono WAV (agent only), or a
    scripted-call JSON whose ``audio`` names its WAV. Must be 8 kHz PCM16 or μ-law."""
    if path.suffix.lower() == ".json":
        try:
            script = json.loads(path.read_text())
            wav = path.parent / script["audio"]
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise SimulatorError(
                f"{path}: not a scripted call with an 'audio' key ({exc})"
            ) from exc
        return load_audio(wav)
    try:
        rate, pcm = read_wav(path)
    except RecordingError as exc:
        raise SimulatorError(str(exc)) from exc
    if rate != 8000:
        raise SimulatorError(f"{path}: {rate} Hz; RingCX streams 8000 Hz (resample with sox)")
    n = len(pcm) // FRAME_SAMPLES * FRAME_SAMPLES
    if n == 0:
        raise SimulatorError(f"{path}: shorter than one 20 ms frame")
    left = lin2ulaw(pcm[:n, 0])
    right = lin2ulaw(pcm[:n, 1]) if pcm.shape[1] > 1 else bytes([0xFF]) * n
    return CallAudio(
        path.stem,
        [left[i : i + FRAME_SAMPLES] for i in range(0, n, FRAME_SAMPLES)],
        [right[i : i + FRAME_SAMPLES] for i in range(0, n, FRAME_SAMPLES)],
    )


@dataclass(frozen=True, slots=True)
class Faults:
    reorder: float = 0.0
    duplicate: float = 0.0
    drop: float = 0.0
    malformed: float = 0.0

    def __post_init__(self) -> None:
        for name in ("reorder", "duplicate", "drop", "malformed"):
            v = getattr(self, name)
            if not 0.0 <= v <= 1.0:
                raise SimulatorError(f"--{name} is a rate between 0 and 1, got {v}")


@dataclass(slots=True)
class Plan:
    """Messages per tick; ``dropped`` lists the sequenceIds never sent, per perspective."""

    ticks: list[list[tuple[int, bytes, bool]]]  # (opcode, payload, is a Media frame)
    dropped: dict[str, list[int]] = field(default_factory=dict)
    reordered: int = 0
    duplicated: int = 0
    malformed: int = 0
    frames: int = 0


def _malformed(kind: str, seq: int, rng: random.Random) -> tuple[int, bytes]:
    if kind == "bad_json":
        return 1, b'{"event": "Media", "perspective": '
    if kind == "bad_base64":
        return (
            1,
            b'{"event":"Media","perspective":"Participant","sequenceId":"%d","media":"@@@"}' % seq,
        )
    if kind == "unknown_event":
        return 1, b'{"event":"Mystery","sequenceId":"1"}'
    if kind == "bad_perspective":
        return 1, b'{"event":"Media","perspective":"Sideways","sequenceId":"1","media":"/w=="}'
    if kind == "bad_sequence":
        return 1, b'{"event":"Media","perspective":"Participant","sequenceId":"-4","media":"/w=="}'
    if kind == "oversize":
        return 1, b'{"event":"Media","pad":"' + b"x" * (20_000 + rng.randrange(100)) + b'"}'
    return 2, b"\x00\x01binary"


MediaBuilder = Callable[[Perspective, int, bytes], bytes]


def build_plan(
    audio: CallAudio,
    faults: Faults,
    rng: random.Random,
    *,
    first_sequence_id: int = 1,
    media: MediaBuilder = build_media,
) -> Plan:
    """``media`` builds one frame's message (RingCX ``Media`` by default; the two-way
    stream's ``media`` for the Twilio message set)."""
    n = audio.frames
    ticks: list[list[tuple[int, bytes, bool]]] = [[] for _ in range(n + 4)]
    plan = Plan(ticks, {p.wire_name: [] for p in PERSPECTIVES}, frames=n)
    sources: Sequence[tuple[Perspective, list[bytes]]] = (
        (Perspective.PARTICIPANT, audio.agent),
        (Perspective.CONFERENCE, audio.caller),
    )
    for k in range(n):
        for perspective, frames in sources:
            seq = first_sequence_id + k
            msg = media(perspective, seq, frames[k])
            r = rng.random()
            if r < faults.drop:
                plan.dropped[perspective.wire_name].append(seq)
                continue
            at = k
            if rng.random() < faults.reorder:
                at = k + rng.randint(1, 3)
                plan.reordered += 1
            ticks[at].append((1, msg, True))
            if rng.random() < faults.duplicate:
                ticks[min(at + rng.randint(0, 2), len(ticks) - 1)].append((1, msg, True))
                plan.duplicated += 1
        if rng.random() < faults.malformed:
            kind = MALFORMED_KINDS[plan.malformed % len(MALFORMED_KINDS)]
            ticks[k].append((*_malformed(kind, k + 1, rng), False))
            plan.malformed += 1
    while ticks and not ticks[-1]:
        ticks.pop()
    return plan

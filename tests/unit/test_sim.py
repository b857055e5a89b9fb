"""Simulator cores: WebSocket framing and the fault plan."""

from __future__ import annotations

import json
import random
import struct
from pathlib import Path

import numpy as np
import pytest

from callscope.errors import SimulatorError
from callscope.media.g711 import lin2ulaw
from callscope.media.wav import WavWriter
from callscope.protocols.ringcx import Malformed, Media, RingCXReceiver, Start, build_start
from callscope.sim.plan import CallAudio, Faults, build_plan, load_audio
from callscope.sim.runner import default_source
from callscope.sim.wsframes import OP_CLOSE, OP_TEXT, FrameReader, accept_key, encode_frame


def test_accept_key_matches_rfc6455_example() -> None:
    assert accept_key("dGhlIHNhbXBsZSBub25jZQ==") == "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="


def unmask(frame: bytes) -> tuple[int, bytes]:
    op, n = frame[0] & 0x0F, frame[1] & 0x7F
    pos = 2
    if n == 126:
        n, pos = struct.unpack("!H", frame[2:4])[0], 4
    elif n == 127:
        n, pos = struct.unpack("!Q", frame[2:10])[0], 10
    key, data = frame[pos : pos + 4], frame[pos + 4 : pos + 4 + n]
    return op, bytes(b ^ key[i % 4] for i, b in enumerate(data))


@pytest.mark.parametrize("size", [0, 1, 125, 126, 65535, 65536])
def test_client_frames_are_masked_and_sized_correctly(size: int) -> None:
    payload = bytes(random.Random(size).randrange(256) for _ in range(size))
    frame = encode_frame(OP_TEXT, payload)
    assert frame[0] == 0x81
    assert frame[1] & 0x80  # masked, as RFC 6455 §5.3 requires of clients
    assert unmask(frame) == (OP_TEXT, payload)


def test_frame_reader_handles_split_and_fragmented_server_frames() -> None:
    reader = FrameReader()
    first = bytes([0x01, 3]) + b"abc"  # text, not final
    last = bytes([0x80, 2]) + b"de"  # continuation, final
    close = bytes([0x88, 4]) + struct.pack("!H", 1003) + b"no"
    data = first + last + close
    frames = []
    for i in range(len(data)):
        frames += reader.feed(data[i : i + 1])
    assert [(f.opcode, f.payload) for f in frames[:1]] == [(OP_TEXT, b"abcde")]
    assert frames[1].opcode == OP_CLOSE
    assert (frames[1].close_code, frames[1].close_reason) == (1003, "no")


def test_frame_reader_refuses_giant_frames() -> None:
    with pytest.raises(ValueError, match="exceeds"):
        FrameReader(max_payload=10).feed(bytes([0x81, 126]) + struct.pack("!H", 500))


def audio(n: int) -> CallAudio:
    return CallAudio(
        "t",
        [bytes([i % 256]) * 160 for i in range(n)],
        [bytes([(i + 7) % 256]) * 160 for i in range(n)],
    )


def test_plan_without_faults_sends_every_frame_once_in_order() -> None:
    plan = build_plan(audio(50), Faults(), random.Random(1))
    assert len(plan.ticks) == 50
    assert all(len(t) == 2 for t in plan.ticks)
    assert plan.dropped == {"Participant": [], "Conference": []}


def test_plan_with_faults_is_seeded_and_consistent() -> None:
    faults = Faults(reorder=0.2, duplicate=0.2, drop=0.1, malformed=0.2)
    a = build_plan(audio(500), faults, random.Random(5))
    b = build_plan(audio(500), faults, random.Random(5))
    assert a.ticks == b.ticks
    r = RingCXReceiver()
    r.receive_text(build_start({}))
    seen: dict[str, list[int]] = {"Participant": [], "Conference": []}
    malformed = 0
    for tick in a.ticks:
        for opcode, msg, is_frame in tick:
            if opcode != 1:
                assert not is_frame
                malformed += 1
                continue
            ev = r.receive_text(msg)
            assert is_frame == isinstance(ev, Media)
            if isinstance(ev, Media):
                seen[ev.perspective.wire_name].append(ev.sequence_id)
            else:
                assert isinstance(ev, Malformed | Start)
                malformed += 1
    assert malformed == a.malformed > 0
    for name, ids in seen.items():
        assert set(ids) | set(a.dropped[name]) == set(range(1, 501))
        assert not set(ids) & set(a.dropped[name])
        assert len(ids) - len(set(ids)) > 0  # duplicates were sent
    assert a.reordered > 0


def test_bad_fault_rates_are_refused() -> None:
    with pytest.raises(SimulatorError, match="--drop"):
        Faults(drop=1.5)


def test_load_audio_reads_stereo_mono_and_scripted_calls(tmp_path: Path) -> None:
    left = np.arange(-800, 800, 5, dtype=np.int16)[:320]
    w = WavWriter(tmp_path / "s.wav")
    w.write_stereo(left, -left)
    w.close()
    a = load_audio(tmp_path / "s.wav")
    assert a.frames == 2
    assert b"".join(a.agent) == lin2ulaw(left)
    assert b"".join(a.caller) == lin2ulaw(-left)
    (tmp_path / "call.json").write_text(json.dumps({"audio": "s.wav"}))
    assert load_audio(tmp_path / "call.json").agent == a.agent
    bundled = load_audio(default_source())
    assert bundled.frames == 612590 // 160


def test_load_audio_errors_are_clear(tmp_path: Path) -> None:
    (tmp_path / "x.json").write_text("{}")
    with pytest.raises(SimulatorError, match="'audio' key"):
        load_audio(tmp_path / "x.json")
    with pytest.raises(SimulatorError, match="cannot read"):
        load_audio(tmp_path / "missing.wav")

"""RingCX gRPC dialogs (spec §11.4) through the sans-I/O receiver and its mixer.

Messages in, events and 20 ms stereo blocks out; audio is compared sample for sample with
the timeline the test expects (agents left, everyone else right).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from callscope.errors import DialogRefused, InvalidState
from callscope.media.dialog_mixer import DialogMixer, Side
from callscope.media.g711 import alaw2lin, lin2alaw, ulaw2lin
from callscope.media.pipeline import StereoBlock
from callscope.media.wav import WavWriter, read_wav
from callscope.protocols import ringcx_streaming_pb2 as pb
from callscope.protocols.ringcx_grpc import (
    AudioCodec,
    DialogDirection,
    DialogEvent,
    DialogReceiver,
    DialogStarted,
    DialogState,
    Malformed,
    ParticipantType,
    ProductType,
    SegmentHeld,
    SegmentInfo,
    SegmentResumed,
    SegmentStarted,
    SegmentStopped,
)
from callscope.store.models import CallStatus

Pcm = npt.NDArray[np.int16]

# -- messages ---------------------------------------------------------------------------------


def init(session: str = "s-1", dialog_id: str = "d-1", **dialog: Any) -> pb.StreamEvent:
    account = pb.Account(id="a-1", sub_account_id="sa-1", rc_account_id="rc-1")
    return pb.StreamEvent(
        session_id=session,
        dialog_init=pb.DialogInitEvent(account=account, dialog=pb.Dialog(id=dialog_id, **dialog)),
    )


def start(
    sid: str,
    ptype: int = pb.CONTACT,
    *,
    pid: str | None = None,
    codec: int | None = None,
    rate: int = 8000,
    ptime: int = 100,
    name: str | None = None,
    product: pb.Product | None = None,
) -> pb.StreamEvent:
    participant = pb.Participant(id=pid or f"p-{sid}", type=ptype)
    if name is not None:
        participant.name = name
    s = pb.SegmentStartEvent(segment_id=sid, participant=participant)
    if codec is not None:
        s.audio_format.CopyFrom(pb.AudioFormat(codec=codec, rate=rate, ptime=ptime))
    if product is not None:
        s.product.CopyFrom(product)
    return pb.StreamEvent(session_id="s-1", segment_start=s)


def media(sid: str, seq: int, payload: bytes, duration_ms: int) -> pb.StreamEvent:
    content = pb.AudioContent(payload=payload, seq=seq, duration=duration_ms)
    return pb.StreamEvent(
        session_id="s-1", segment_media=pb.SegmentMediaEvent(segment_id=sid, audio_content=content)
    )


def l16(sid: str, seq: int, samples: Pcm) -> pb.StreamEvent:
    """L16 audio: big-endian on the wire (the receiver's UNCONFIRMED choice)."""
    return media(sid, seq, samples.astype(">i2").tobytes(), len(samples) // 8)


def info(sid: str, event: str, data: str | None = None) -> pb.StreamEvent:
    i = pb.SegmentInfoEvent(segment_id=sid, event=event)
    if data is not None:
        i.data = data
    return pb.StreamEvent(session_id="s-1", segment_info=i)


def stop(sid: str) -> pb.StreamEvent:
    return pb.StreamEvent(session_id="s-1", segment_stop=pb.SegmentStopEvent(segment_id=sid))


# -- audio ------------------------------------------------------------------------------------


def tone(tag: int, ms: int = 100) -> Pcm:
    """A chunk no other tag produces (values stay well inside int16)."""
    return ((np.arange(ms * 8) % 97) * 7 + tag * 211 - 16000).astype(np.int16)


def cat(chunks: list[Pcm]) -> Pcm:
    return np.concatenate(chunks)


def timeline(total_ms: int, *pieces: tuple[int, Pcm]) -> Pcm:
    """What one channel should hold: each piece summed in at its ms offset, clipped."""
    out = np.zeros(total_ms * 8, dtype=np.int32)
    for at_ms, samples in pieces:
        out[at_ms * 8 : at_ms * 8 + len(samples)] += samples
    return np.clip(out, -32768, 32767).astype(np.int16)


@dataclass
class Call:
    rx: DialogReceiver
    blocks: list[StereoBlock] = field(default_factory=list)

    def send(self, *messages: pb.StreamEvent) -> list[DialogEvent]:
        events: list[DialogEvent] = []
        for m in messages:
            events += self.rx.receive(m)
        return events

    def channels(self) -> tuple[Pcm, Pcm]:
        """Left and right of everything emitted; blocks must follow each other exactly."""
        frame = 0
        for b in self.blocks:
            assert b.start_frame == frame
            assert len(b.pcm) == b.frames * 640  # whole 20 ms frames, 2 channels × int16
            frame += b.frames
        if not self.blocks:
            return np.zeros(0, np.int16), np.zeros(0, np.int16)
        return cat([b.agent for b in self.blocks]), cat([b.caller for b in self.blocks])


def call(*, max_segments: int = 16, max_held_intervals: int = 64, **mixer: Any) -> Call:
    c = Call(DialogReceiver(mixer=DialogMixer(**mixer), max_segments=max_segments,
                            max_held_intervals=max_held_intervals))  # fmt: skip
    c.rx.mixer.sinks.append(c.blocks.append)
    return c


def only(events: list[DialogEvent]) -> DialogEvent:
    assert len(events) == 1, events
    return events[0]


# -- a plain call, a transfer, a bot ----------------------------------------------------------


def test_a_plain_call_in_the_spec_wire_order() -> None:
    rng = np.random.default_rng(1)
    c_chunks = [rng.integers(0, 256, 800, dtype=np.uint8).tobytes() for _ in range(12)]
    a_chunks = [rng.integers(0, 256, 800, dtype=np.uint8).tobytes() for _ in range(5)]
    k = call()
    started = only(k.send(init(type=pb.INBOUND, ani="6505550123")))
    assert started == DialogStarted(
        session_id="s-1",
        account_id="a-1",
        sub_account_id="sa-1",
        rc_account_id="rc-1",
        dialog_id="d-1",
        direction=DialogDirection.INBOUND,
        ani="6505550123",
        dnis=None,
        language=None,
        attributes={},
    )
    caller = only(k.send(start("seg-c", pb.CONTACT, codec=pb.PCMU, name="Customer")))
    assert isinstance(caller, SegmentStarted)
    assert (caller.offset_ms, caller.codec, caller.ptime_ms) == (0, AudioCodec.PCMU, 100)
    for i in range(5):
        assert k.send(media("seg-c", i + 1, c_chunks[i], 100)) == []
    agent = only(k.send(start("seg-a", pb.AGENT, name="Alex Agent")))  # no format: inherited
    assert isinstance(agent, SegmentStarted)
    assert (agent.offset_ms, agent.codec, agent.rate_hz, agent.ptime_ms) == (
        500,
        AudioCodec.PCMU,
        8000,
        100,
    )
    for i in range(5):
        k.send(media("seg-c", 6 + i, c_chunks[5 + i], 100), media("seg-a", 1 + i, a_chunks[i], 100))
    assert k.rx.mixer.written_frames == 50  # live: everything up to the slowest leg is out
    assert only(k.send(stop("seg-a"))) == SegmentStopped("seg-a", 1000)
    for i in range(10, 12):
        k.send(media("seg-c", i + 1, c_chunks[i], 100))
    assert only(k.send(stop("seg-c"))) == SegmentStopped("seg-c", 1200)
    k.rx.finish()

    left, right = k.channels()
    assert np.array_equal(right, ulaw2lin(b"".join(c_chunks)))
    assert np.array_equal(left, timeline(1200, (500, ulaw2lin(b"".join(a_chunks)))))
    assert k.rx.final_status is CallStatus.COMPLETED
    tracks = k.rx.tracks()
    assert [(t.segment_id, t.participant_type, t.name, t.codec) for t in tracks] == [
        ("seg-c", ParticipantType.CONTACT, "Customer", AudioCodec.PCMU),
        ("seg-a", ParticipantType.AGENT, "Alex Agent", AudioCodec.PCMU),
    ]
    assert [(t.start_offset_ms, t.stop_offset_ms, t.held) for t in tracks] == [
        (0, 1200, ()),
        (500, 1000, ()),
    ]
    assert [t.counters.received for t in tracks] == [12, 5]
    assert all(t.counters.missing == t.counters.duplicate == 0 for t in tracks)


def test_a_transfer_puts_agent_a_then_agent_b_on_the_left() -> None:
    cc = [tone(i) for i in range(8)]
    aa = [tone(40 + i) for i in range(3)]
    bb = [tone(80 + i) for i in range(3)]
    k = call()
    k.send(init(), start("c", pb.CONTACT, codec=pb.L16), l16("c", 0, cc[0]), l16("c", 1, cc[1]))
    a_start = only(k.send(start("agent-a", pb.AGENT, pid="agent-1", name="A")))
    assert isinstance(a_start, SegmentStarted)
    assert a_start.offset_ms == 200
    assert a_start.codec is AudioCodec.L16  # the dialog's first format
    for i in range(3):
        k.send(l16("c", 2 + i, cc[2 + i]), l16("agent-a", i, aa[i]))
    assert only(k.send(stop("agent-a"))) == SegmentStopped("agent-a", 500)
    b_start = only(k.send(start("agent-b", pb.AGENT, pid="agent-2", name="B")))
    assert isinstance(b_start, SegmentStarted)
    assert b_start.offset_ms == 500
    for i in range(3):
        k.send(l16("c", 5 + i, cc[5 + i]), l16("agent-b", i, bb[i]))
    k.send(stop("agent-b"), stop("c"))
    k.rx.finish()

    left, right = k.channels()
    assert np.array_equal(left, timeline(800, (200, cat(aa)), (500, cat(bb))))
    assert np.array_equal(right, cat(cc))
    assert [
        (t.segment_id, t.participant_id, t.name, t.start_offset_ms, t.stop_offset_ms)
        for t in k.rx.tracks()
    ] == [
        ("c", "p-c", None, 0, 800),
        ("agent-a", "agent-1", "A", 200, 500),
        ("agent-b", "agent-2", "B", 500, 800),
    ]
    assert k.rx.final_status is CallStatus.COMPLETED


def test_a_bot_and_the_contact_overlap_summed_and_clipped_on_the_right() -> None:
    full = [np.full(800, v, np.int16) for v in (30000, -30000, 1000, 5)]
    bot = [np.full(800, v, np.int16) for v in (10000, -10000, -300)]
    k = call()
    k.send(init(), start("c", pb.CONTACT, codec=pb.L16), l16("c", 0, tone(1)))
    bot_start = only(k.send(start("bot", pb.BOT, name="IVR bot")))
    assert isinstance(bot_start, SegmentStarted)
    assert bot_start.participant_type is ParticipantType.BOT
    assert bot_start.offset_ms == 100
    for i in range(3):
        k.send(l16("c", 1 + i, full[i]), l16("bot", i, bot[i]))
    k.send(stop("bot"), l16("c", 4, full[3]), stop("c"))
    k.rx.finish()

    left, right = k.channels()
    assert not left.any()
    expected = timeline(500, (0, cat([tone(1), *full])), (100, cat(bot)))
    assert np.array_equal(right, expected)
    assert (right[800:1600] == 32767).all()  # 30000 + 10000, clipped
    assert (right[1600:2400] == -32768).all()
    assert (right[2400:3200] == 700).all()


def test_each_segment_s_own_audio_comes_out_beside_the_mix() -> None:
    full = [np.full(800, v, np.int16) for v in (30000, -30000, 1000, 5)]
    bot = [np.full(800, v, np.int16) for v in (10000, -10000, -300)]
    k = call()
    own: dict[str, list[tuple[int, bytes]]] = {}
    k.rx.mixer.segment_sinks.append(
        lambda sid, frame, pcm: own.setdefault(sid, []).append((frame, pcm))
    )
    k.send(init(), start("c", pb.CONTACT, codec=pb.L16), l16("c", 0, tone(1)))
    k.send(start("bot", pb.BOT))
    for i in range(3):
        k.send(l16("c", 1 + i, full[i]), l16("bot", i, bot[i]))
    k.send(stop("bot"), l16("c", 4, full[3]), stop("c"))
    k.rx.finish()

    def mono(sid: str) -> Pcm:
        frame = own[sid][0][0]
        for start_frame, pcm in own[sid]:  # blocks follow each other exactly
            assert start_frame == frame
            frame += len(pcm) // 320
        return cat([np.frombuffer(pcm, "<i2") for _, pcm in own[sid]])

    # unmixed and unclipped: each participant as it spoke, placed on the dialog's frames
    contact = mono("c")
    assert np.array_equal(contact, cat([tone(1), *full]))
    first_bot_frame = own["bot"][0][0]
    bot_audio = mono("bot")
    at = 100 * 8 - first_bot_frame * 160
    assert not bot_audio[:at].any()
    assert np.array_equal(bot_audio[at : at + 2400], cat(bot))
    assert not bot_audio[at + 2400 :].any()


def test_an_unknown_participant_type_is_other_and_goes_right() -> None:
    k = call()
    k.send(init(), start("c", pb.CONTACT, codec=pb.L16))
    other = only(k.send(start("x", 7)))
    assert isinstance(other, SegmentStarted)
    assert other.participant_type is ParticipantType.OTHER
    k.send(l16("x", 0, tone(3)), stop("x"), stop("c"))
    k.rx.finish()
    left, right = k.channels()
    assert not left.any()
    assert np.array_equal(right, tone(3))


# -- ordering: reorder, duplicates, gaps, late ------------------------------------------------


def test_reordered_duplicated_and_dropped_chunks() -> None:
    cc = [tone(i) for i in range(10)]
    k = call(window_ms=300)
    k.send(init(), start("c", pb.CONTACT, codec=pb.L16))
    for seq in (0, 2, 1, 3, 3, 5, 6, 7, 8, 9):  # 4 never comes in time, 3 twice
        k.send(l16("c", seq, cc[seq]))
    k.send(l16("c", 4, cc[4]))  # after its slot was concealed
    k.send(stop("c"))
    k.rx.finish()

    _, right = k.channels()
    expected = timeline(1000, *((i * 100, cc[i]) for i in range(10) if i != 4))
    assert np.array_equal(right, expected)
    counters = k.rx.tracks()[0].counters
    assert (counters.received, counters.duplicate, counters.late, counters.missing) == (9, 1, 1, 1)


@settings(max_examples=60, deadline=None)
@given(n=st.integers(2, 25), data=st.data())
def test_any_reordering_within_the_window_gives_the_in_order_audio(n: int, data: Any) -> None:
    # window 300 ms = 3 chunks: each chunk may be overtaken by the next two. The first chunk
    # comes first: it anchors the numbering (an earlier seq after it counts as a duplicate).
    keys = [0.0] + [i + data.draw(st.floats(0, 2.99)) for i in range(1, n)]
    order = sorted(range(n), key=lambda i: keys[i])
    for dup in data.draw(st.lists(st.integers(0, n - 1), max_size=4)):
        pos = order.index(dup)
        order.insert(data.draw(st.integers(pos + 1, len(order))), dup)
    cc = [tone(i) for i in range(n)]
    k = call(window_ms=300)
    k.send(init(), start("c", pb.CONTACT, codec=pb.L16))
    for seq in order:
        k.send(l16("c", 1000 + seq, cc[seq]))
    k.send(stop("c"))
    k.rx.finish()
    _, right = k.channels()
    assert np.array_equal(right, cat(cc))
    counters = k.rx.tracks()[0].counters
    assert (counters.missing, counters.late) == (0, 0)
    assert counters.duplicate == len(order) - n


def test_a_gap_within_bounds_is_silence_and_a_huge_jump_reanchors() -> None:
    k = call(window_ms=300, max_gap_ms=10_000)
    k.send(init(), start("c", pb.CONTACT, codec=pb.L16))
    for seq, tag in ((0, 0), (1, 1), (5, 5), (6, 6), (7, 7), (8, 8)):  # 2, 3, 4 lost
        k.send(l16("c", seq, tone(tag)))
    for seq, tag in ((1_000_000, 9), (1_000_001, 10), (3, 11), (4, 12)):  # renumbered twice
        k.send(l16("c", seq, tone(tag)))
    k.send(stop("c"))
    k.rx.finish()
    _, right = k.channels()
    chunks = [(0, 0), (1, 1), (5, 5), (6, 6), (7, 7), (8, 8), (9, 9), (10, 10), (11, 11), (12, 12)]
    assert np.array_equal(right, timeline(1300, *((at * 100, tone(tag)) for at, tag in chunks)))
    counters = k.rx.tracks()[0].counters
    assert (counters.missing, counters.reanchored) == (3, 2)  # no silence for the jumps


def test_a_leg_that_stops_sending_is_concealed_and_resumes_at_the_head() -> None:
    cc = [tone(i) for i in range(21)]
    aa = [tone(60 + i) for i in range(5)]
    k = call(window_ms=300, max_skew_ms=1000)
    k.send(init(), start("c", pb.CONTACT, codec=pb.L16), start("a", pb.AGENT))
    for i in range(3):
        k.send(l16("c", i, cc[i]), l16("a", i, aa[i]))
    for i in range(3, 20):  # the agent leg goes quiet without a stop
        k.send(l16("c", i, cc[i]))
    assert k.rx.mixer.written_frames == 50  # held back by at most max_skew (1 s of 2 s)
    k.send(l16("a", 3, aa[3]))  # resumes, numbering as if it had never paused
    k.send(l16("c", 20, cc[20]), l16("a", 4, aa[4]), stop("a"), stop("c"))
    k.rx.finish()

    left, right = k.channels()
    assert np.array_equal(right, cat(cc))
    assert np.array_equal(left, timeline(2100, (0, cat(aa[:3])), (1900, cat(aa[3:]))))
    agent = k.rx.tracks()[1].counters
    assert (agent.missing, agent.reanchored, agent.hold_silence_ms) == (16, 1, 0)


# -- hold -------------------------------------------------------------------------------------


@pytest.mark.parametrize("resume_seq", [10, 20], ids=["seq-continues", "seq-ran-on"])
def test_hold_is_silence_not_missing_and_the_timeline_continues(resume_seq: int) -> None:
    cc = [tone(i) for i in range(10)]
    rr = [tone(30 + i) for i in range(5)]
    aa = [tone(60 + i) for i in range(25)]
    k = call(window_ms=300)
    k.send(init(), start("c", pb.CONTACT, codec=pb.L16), start("a", pb.AGENT))
    for i in range(10):
        k.send(l16("c", i, cc[i]), l16("a", i, aa[i]))
    assert k.send(info("c", "HOLD", "music")) == [
        SegmentInfo("c", "HOLD", "music"),
        SegmentHeld("c", 1000),
    ]
    assert k.send(info("c", "hold")) == [SegmentInfo("c", "hold", None)]  # already held
    for i in range(10, 20):  # the caller's leg sends nothing while held
        k.send(l16("a", i, aa[i]))
    assert k.rx.mixer.written_frames >= 80  # the held leg does not hold the agent back
    assert k.send(info("c", "recording-paused")) == [SegmentInfo("c", "recording-paused", None)]
    assert k.send(info("c", "Unhold")) == [
        SegmentInfo("c", "Unhold", None),
        SegmentResumed("c", 2000),
    ]
    for j in range(5):
        k.send(l16("c", resume_seq + j, rr[j]), l16("a", 20 + j, aa[20 + j]))
    k.send(stop("a"), stop("c"))
    k.rx.finish()

    left, right = k.channels()
    assert np.array_equal(left, cat(aa))
    assert np.array_equal(right, timeline(2500, (0, cat(cc)), (2000, cat(rr))))
    caller = k.rx.tracks()[0]
    assert caller.held == ((1000, 2000),)
    assert (caller.counters.missing, caller.counters.hold_silence_ms) == (0, 1000)
    assert caller.counters.reanchored == 0


def test_a_stream_paused_during_hold_keeps_its_length_through_ticks() -> None:
    cc = [tone(i) for i in range(10)]
    aa = [tone(60 + i) for i in range(10)]
    k = call(window_ms=300)
    k.send(init(), start("c", pb.CONTACT, codec=pb.L16), start("a", pb.AGENT))
    for i in range(5):
        k.send(l16("c", i, cc[i]), l16("a", i, aa[i]))
    assert k.send(info("c", "hold"))[1] == SegmentHeld("c", 500)
    k.rx.tick(100)  # media came since the last tick: not a pause yet
    for _ in range(10):  # one second with nothing on the wire
        k.rx.tick(100)
    assert k.send(info("c", "unhold"))[1] == SegmentResumed("c", 1500)
    for i in range(5, 10):
        k.send(l16("c", i, cc[i]), l16("a", i, aa[i]))
    k.send(stop("a"), stop("c"))
    k.rx.finish()

    left, right = k.channels()
    assert np.array_equal(right, timeline(2000, (0, cat(cc[:5])), (1500, cat(cc[5:]))))
    assert np.array_equal(left, timeline(2000, (0, cat(aa[:5])), (1500, cat(aa[5:]))))
    for t in k.rx.tracks():
        assert (t.counters.missing, t.counters.hold_silence_ms) == (0, 1000)


def test_ticks_without_a_hold_do_not_move_the_timeline() -> None:
    k = call()
    k.send(init(), start("c", pb.CONTACT, codec=pb.L16), l16("c", 0, tone(1)))
    for _ in range(5):
        k.rx.tick(100)
    assert k.rx.mixer.head_ms == 100


def test_a_segment_stopped_while_held_closes_its_hold_interval() -> None:
    k = call(max_held_intervals=2)
    k.send(init(), start("c", pb.CONTACT, codec=pb.L16), start("a", pb.AGENT))
    for i in range(3):
        k.send(info("c", "hold"), l16("a", i, tone(i)), info("c", "unhold"))
    k.send(info("c", "hold"))
    assert k.rx.tracks()[0].held == ((0, 100), (100, 200), (300, None))
    k.send(l16("a", 3, tone(3)), stop("c"))
    assert k.rx.tracks()[0].held == ((0, 100), (100, 200))  # capped at 2 recorded intervals
    assert k.rx.tracks()[0].stop_offset_ms == 400


# -- codecs -----------------------------------------------------------------------------------


def test_pcma_decodes_every_code_exactly() -> None:
    codes = bytes(range(256))  # 32 ms of A-law
    k = call()
    k.send(init(), start("c", pb.CONTACT, codec=pb.PCMA), media("c", 0, codes, 32), stop("c"))
    k.rx.finish()
    _, right = k.channels()
    assert np.array_equal(right[:256], alaw2lin(codes))
    assert lin2alaw(right[:256]) == codes  # and back: no code lost
    assert len(right) == 320  # the last frame padded with silence
    assert not right[256:].any()


def test_l16_is_read_big_endian_exactly() -> None:
    samples = np.array([-32768, 32767, -1, 0, 1, 256, 258, -257] * 100, dtype=np.int16)
    payload = samples.astype(">i2").tobytes()
    assert payload != samples.astype("<i2").tobytes()  # the byte order matters here
    k = call()
    k.send(init(), start("c", pb.CONTACT, codec=pb.L16), media("c", 0, payload, 100), stop("c"))
    k.rx.finish()
    _, right = k.channels()
    assert np.array_equal(right, samples)


def test_formats_are_inherited_from_the_participant_then_the_dialog() -> None:
    k = call()
    k.send(init())
    events = k.send(
        start("c", pb.CONTACT, codec=pb.PCMA, ptime=20),  # the dialog's first format
        start("a1", pb.AGENT, pid="agent", codec=pb.L16, ptime=100),
        stop("a1"),
        start("a2", pb.AGENT, pid="agent"),  # the same participant again: its own format
        start("bot", pb.BOT),  # a participant without one: the dialog's first
        start("z", pb.BOT, codec=pb.CODEC_UNSPECIFIED, rate=0, ptime=0),  # zeros: not given
    )
    formats = {
        e.segment_id: (e.codec, e.rate_hz, e.ptime_ms)
        for e in events
        if isinstance(e, SegmentStarted)
    }
    assert formats == {
        "c": (AudioCodec.PCMA, 8000, 20),
        "a1": (AudioCodec.L16, 8000, 100),
        "a2": (AudioCodec.L16, 8000, 100),
        "bot": (AudioCodec.PCMA, 8000, 20),
        "z": (AudioCodec.PCMA, 8000, 20),
    }


def test_without_any_format_the_spec_default_applies() -> None:
    k = call()
    k.send(init())
    s = only(k.send(start("c", pb.CONTACT)))
    assert isinstance(s, SegmentStarted)
    assert (s.codec, s.rate_hz, s.ptime_ms) == (AudioCodec.PCMU, 8000, 100)


@pytest.mark.parametrize(
    ("fmt", "code", "words"),
    [
        ({"codec": pb.OPUS}, "UNIMPLEMENTED", "OPUS"),
        ({"codec": pb.FLAC}, "UNIMPLEMENTED", "FLAC"),
        ({"codec": pb.PCMU, "rate": 16000}, "UNIMPLEMENTED", "16000 Hz"),
        ({"codec": 9}, "INVALID_ARGUMENT", "unknown codec number 9"),
        ({"codec": pb.PCMU, "ptime": 5000}, "INVALID_ARGUMENT", "ptime 5000"),
    ],
)
def test_audio_callscope_does_not_decode_refuses_the_stream(
    fmt: dict[str, int], code: str, words: str
) -> None:
    k = call()
    k.send(init(), start("c", pb.CONTACT, codec=pb.PCMU), media("c", 0, b"\x01" * 800, 100))
    with pytest.raises(DialogRefused) as info_:
        k.send(start("a", pb.AGENT, **fmt))
    assert info_.value.grpc_code == code
    assert words in info_.value.reason
    assert k.rx.state is DialogState.REFUSED
    with pytest.raises(InvalidState):
        k.send(media("c", 1, b"\x01" * 800, 100))
    k.rx.finish()  # what was received is still flushed
    _, right = k.channels()
    assert np.array_equal(right, ulaw2lin(b"\x01" * 800))


# -- the first message ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("first", "words"),
    [
        (media("c", 0, b"\xff" * 800, 100), "got segment_media"),
        (start("c", pb.CONTACT), "got segment_start"),
        (stop("c"), "got segment_stop"),
        (pb.StreamEvent(session_id="s-1"), "got no event"),
        (init(dialog_id=""), "without a dialog id"),
        (init(session="s" * 200), "session_id longer"),
    ],
)
def test_the_first_message_must_be_a_dialog_init(first: pb.StreamEvent, words: str) -> None:
    rx = DialogReceiver()
    with pytest.raises(DialogRefused) as info_:
        rx.receive(first)
    assert info_.value.grpc_code == "INVALID_ARGUMENT"
    assert words in info_.value.reason
    with pytest.raises(InvalidState):
        rx.receive(init())


def test_undecodable_first_bytes_refuse_and_later_ones_are_malformed() -> None:
    with pytest.raises(DialogRefused):
        DialogReceiver().receive_bytes(b"\x0a\xff")  # a length running past the end
    rx = DialogReceiver()
    assert isinstance(only(rx.receive_bytes(init().SerializeToString())), DialogStarted)
    bad = only(rx.receive_bytes(b"\x0a\xff"))
    assert isinstance(bad, Malformed)
    assert bad.kind == "bad_protobuf"
    big = only(rx.receive_bytes(b"\x0a" * 70_000))
    assert isinstance(big, Malformed)
    assert big.kind == "oversize"
    assert rx.malformed == {"bad_protobuf": 1, "oversize": 1}
    assert rx.state is DialogState.STREAMING


# -- malformed messages are counted, never fatal ----------------------------------------------


def test_malformed_messages_are_counted_and_the_dialog_goes_on() -> None:
    k = call()
    k.send(init(), start("c", pb.CONTACT, codec=pb.L16), l16("c", 0, tone(0)))
    k.send(start("gone", pb.BOT), stop("gone"))
    cases: list[tuple[pb.StreamEvent, str]] = [
        (l16("nobody", 0, tone(1)), "unknown_segment"),
        (l16("gone", 0, tone(1)), "segment_stopped"),
        (info("nobody", "hold"), "unknown_segment"),
        (stop("gone"), "segment_stopped"),
        (init(), "duplicate_init"),
        (start("c", pb.CONTACT), "duplicate_segment"),
        (start("", pb.CONTACT), "bad_segment_id"),
        (start("x" * 200, pb.CONTACT), "bad_segment_id"),
        (start("y", pb.CONTACT, pid="p" * 200), "bad_participant"),
        (pb.StreamEvent(session_id="s-1"), "empty_event"),
        (pb.StreamEvent(session_id="other", segment_stop=pb.SegmentStopEvent(segment_id="c")),
         "session_mismatch"),
        (pb.StreamEvent(segment_media=pb.SegmentMediaEvent(segment_id="c")), "no_audio"),
        (media("c", 1, b"", 0), "empty_payload"),
        (media("c", 1, b"\x00" * 16_002, 0), "oversize"),
        (media("c", 1, b"\x00" * 1598, 100), "length_mismatch"),  # 100 ms of L16 is 1600
        (media("c", 1, b"\x00" * 801, 0), "length_mismatch"),  # half a sample
        (media("c", 1, b"\x00" * 16_000, 2000), "bad_duration"),
    ]  # fmt: skip
    for message, kind in cases:
        event = only(k.send(message))
        assert isinstance(event, Malformed), kind
        assert event.kind == kind
    assert sum(k.rx.malformed.values()) == len(cases)
    # the call is unharmed: a payload without duration is measured by its length
    k.send(media("c", 1, tone(1, ms=40).astype(">i2").tobytes(), 0), stop("c"))
    k.rx.finish()
    _, right = k.channels()
    assert np.array_equal(right[: 140 * 8], cat([tone(0), tone(1, ms=40)]))
    assert k.rx.tracks()[0].counters.received == 2


# -- bounds -----------------------------------------------------------------------------------


def test_segments_beyond_the_bound_are_ignored() -> None:
    k = call(max_segments=2)
    k.send(init(), start("c", pb.CONTACT, codec=pb.L16), start("a", pb.AGENT))
    assert only(k.send(start("b", pb.BOT))) == Malformed(
        "too_many_segments", "segment 'b': over 2 per dialog"
    )
    extra = only(k.send(l16("b", 0, tone(1))))
    assert isinstance(extra, Malformed)
    assert extra.kind == "unknown_segment"
    assert [t.segment_id for t in k.rx.tracks()] == ["c", "a"]


def test_dialog_attributes_are_capped() -> None:
    attributes = {f"k{i:03d}": "v" for i in range(70)}
    attributes["long"] = "x" * 2000
    events = DialogReceiver().receive(init(attributes=attributes, language="en-US", dnis=""))
    started, trimmed = events
    assert isinstance(started, DialogStarted)
    assert list(started.attributes) == sorted(k for k in attributes if k != "long")[:64]
    assert (started.language, started.dnis, started.ani) == ("en-US", "", None)
    assert isinstance(trimmed, Malformed)
    assert trimmed.kind == "attributes_trimmed"
    assert "7 of 71" in trimmed.detail


def test_segment_product_and_name_are_reported() -> None:
    rx = DialogReceiver()
    rx.receive(init(type=pb.OUTBOUND))
    s = only(
        rx.receive(start("c", pb.CONTACT, name="N", product=pb.Product(id="4401", type=pb.QUEUE)))
    )
    assert isinstance(s, SegmentStarted)
    assert (s.name, s.product_id, s.product_type) == ("N", "4401", ProductType.QUEUE)
    assert rx.dialog is not None
    assert rx.dialog.direction is DialogDirection.OUTBOUND


# -- the end ----------------------------------------------------------------------------------


def test_a_stream_that_ends_without_every_stop_is_abandoned() -> None:
    k = call()
    k.send(init(), start("c", pb.CONTACT, codec=pb.L16), start("a", pb.AGENT))
    k.send(l16("c", 0, tone(1)), l16("a", 0, tone(2)), l16("c", 1, tone(3)), stop("a"))
    assert k.rx.final_status is CallStatus.ABANDONED
    k.rx.finish()
    k.rx.finish()  # idempotent
    left, right = k.channels()
    assert np.array_equal(right, cat([tone(1), tone(3)]))
    assert np.array_equal(left, timeline(200, (0, tone(2))))
    assert [t.stop_offset_ms for t in k.rx.tracks()] == [None, 200]  # the head at its stop
    with pytest.raises(InvalidState):
        k.send(l16("c", 2, tone(4)))


def test_a_dialog_without_segments_is_abandoned() -> None:
    rx = DialogReceiver()
    rx.receive(init())
    rx.finish()
    assert rx.final_status is CallStatus.ABANDONED
    assert rx.tracks() == []


def test_the_blocks_feed_the_existing_wav_writer(tmp_path: Path) -> None:
    k = call(batch_frames=1)
    path = tmp_path / "call.wav"
    writer = WavWriter(path)
    k.rx.mixer.sinks.append(lambda block: writer.write_interleaved(block.pcm))
    k.send(init(), start("c", pb.CONTACT, codec=pb.L16), start("a", pb.AGENT))
    for i in range(4):
        k.send(l16("c", i, tone(i)), l16("a", i, tone(50 + i)))
    k.send(stop("a"), stop("c"))
    k.rx.finish()
    writer.close()
    rate, samples = read_wav(path)
    left, right = k.channels()
    assert rate == 8000
    assert np.array_equal(samples[:, 0], left)
    assert np.array_equal(samples[:, 1], right)
    assert np.array_equal(right, cat([tone(i) for i in range(4)]))


# -- the mixer on its own ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "kwargs",
    [
        {"window_ms": 10},
        {"window_ms": 500, "max_skew_ms": 400},
        {"max_skew_ms": 2000, "max_gap_ms": 1000},
        {"batch_frames": 0},
        {"batch_frames": 200, "max_skew_ms": 2000},
    ],
)
def test_mixer_settings_that_cannot_work_are_refused(kwargs: dict[str, int]) -> None:
    with pytest.raises(ValueError, match=r"must|need"):
        DialogMixer(**kwargs)


def test_mixer_refuses_actions_on_unknown_or_stopped_segments() -> None:
    mixer = DialogMixer()
    mixer.open_segment("s", Side.RIGHT, ptime_ms=100)
    with pytest.raises(InvalidState):
        mixer.open_segment("s", Side.RIGHT, ptime_ms=100)
    with pytest.raises(InvalidState):
        mixer.push("t", 0, b"\x00\x00")
    mixer.close_segment("s")
    with pytest.raises(InvalidState):
        mixer.push("s", 0, b"\x00\x00")
    mixer.finish()
    with pytest.raises(InvalidState):
        mixer.open_segment("u", Side.LEFT, ptime_ms=100)


def test_a_silent_open_segment_bounds_memory_and_delay() -> None:
    mixer = DialogMixer(window_ms=300, max_skew_ms=1000, batch_frames=1)
    mixer.open_segment("talker", Side.RIGHT, ptime_ms=100)
    mixer.open_segment("mute", Side.LEFT, ptime_ms=100)  # opened, never sends
    for seq in range(600):  # one minute
        mixer.push("talker", seq, tone(seq % 100).astype("<i2").tobytes())
        assert mixer.head_ms - mixer.written_frames * 20 <= 1000
    assert mixer.counters("mute").missing == 0  # never sent: silent, nothing lost


# -- lag against the dialog's real-time schedule ------------------------------------------------


class Clock:
    """A fake monotonic clock the test moves by hand."""

    def __init__(self, t: float = 100.0) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


def lagged_call(**mixer: Any) -> tuple[Call, list[tuple[float, int]]]:
    lags: list[tuple[float, int]] = []
    k = Call(DialogReceiver(mixer=DialogMixer(lag_observer=lambda v, n: lags.append((v, n)),
                                              **mixer)))  # fmt: skip
    k.rx.mixer.sinks.append(k.blocks.append)
    return k, lags


def test_lag_is_zero_for_chunks_read_as_a_live_sender_sends_them() -> None:
    clock = Clock()
    k, lags = lagged_call()
    for m in (init(), start("c", pb.CONTACT, codec=pb.L16), start("a", pb.AGENT)):
        k.rx.receive(m, now=clock())
    for i in range(10):
        clock.t += 0.1  # chunk i's audio ends now: the sender sends it, the server reads it
        k.rx.receive(l16("c", i, tone(i)), now=clock())
        k.rx.receive(l16("a", i, tone(50 + i)), now=clock() + 0.004)  # a little later
    assert [n for _, n in lags] == [5] * 10  # one 100 ms block per chunk pair, in frames
    assert all(v == pytest.approx(0.004) for v, _ in lags)


def test_lag_counts_how_late_the_server_reads_the_audio() -> None:
    clock = Clock()
    k, lags = lagged_call()
    k.send(init(), start("c", pb.CONTACT, codec=pb.L16), start("a", pb.AGENT))
    for i in range(3):
        clock.t += 0.1
        k.rx.receive(l16("c", i, tone(i)), now=clock())
        k.rx.receive(l16("a", i, tone(50 + i)), now=clock())
    clock.t += 0.5  # the server stalls; chunks 3-7 wait in the socket
    for i in range(3, 8):
        k.rx.receive(l16("c", i, tone(i)), now=clock())
        k.rx.receive(l16("a", i, tone(50 + i)), now=clock())
    # chunk 3 was due 0.4 s before it was read, chunk 7 on time
    assert [round(v, 3) for v, _ in lags] == [0.0, 0.0, 0.0, 0.4, 0.3, 0.2, 0.1, 0.0]


def test_lag_keeps_the_schedule_through_a_paused_hold_and_the_end() -> None:
    clock = Clock()
    k, lags = lagged_call(window_ms=300)
    k.send(init(), start("c", pb.CONTACT, codec=pb.L16), start("a", pb.AGENT))
    for i in range(5):
        clock.t += 0.1
        k.rx.receive(l16("c", i, tone(i)), now=clock())
        k.rx.receive(l16("a", i, tone(50 + i)), now=clock())
    k.rx.receive(info("c", "hold"), now=clock())
    k.rx.tick(100, now=clock())  # the server's ticker, in phase with the last media: skipped
    for _ in range(10):  # the stream pauses for a second; the server ticks on
        clock.t += 0.1
        k.rx.tick(100, now=clock())
    k.rx.receive(info("c", "unhold"), now=clock())
    for i in range(5, 8):
        clock.t += 0.1
        k.rx.receive(l16("c", i, tone(i)), now=clock())
        k.rx.receive(l16("a", i, tone(50 + i)), now=clock())
    k.rx.receive(stop("a"), now=clock())
    k.rx.receive(stop("c"), now=clock())
    k.rx.finish(now=clock())
    assert sum(n for _, n in lags) == k.rx.mixer.written_frames  # every frame observed
    assert max(v for v, _ in lags) == pytest.approx(0.0, abs=1e-9)


@pytest.mark.parametrize("phase", [0.0, 0.03, 0.05, 0.08])
def test_a_paused_hold_keeps_the_length_the_server_saw_whatever_the_ticks_phase(
    phase: float,
) -> None:
    # the sender's last chunk before the hold, the hold and the unhold fall anywhere between
    # the server's 100 ms ticks, and a tick may fire late (here one just after the unhold):
    # the hold still lasts the 3 s the server saw between hold and unhold
    clock = Clock()
    k, _ = lagged_call(window_ms=300)
    k.send(init(), start("c", pb.CONTACT, codec=pb.L16), start("a", pb.AGENT))
    ticks = [clock.t + phase + 0.1 * n for n in range(60)]
    last_tick = clock.t

    def run_until(t: float) -> None:
        nonlocal last_tick
        while ticks and ticks[0] < t:
            due = ticks.pop(0)
            clock.t = due
            k.rx.tick(round((due - last_tick) * 1000), now=clock())
            last_tick = due

    for i in range(20):
        run_until(100.0 + 0.1 * i)
        clock.t = 100.0 + 0.1 * i
        k.rx.receive(l16("c", i, tone(i)), now=clock())
        k.rx.receive(l16("a", i, tone(50 + i)), now=clock())
    run_until(102.0)
    clock.t = 102.0
    (_, held) = k.rx.receive(info("c", "hold"), now=clock())
    assert held == SegmentHeld("c", 2000)
    late = max(t for t in ticks if t < 105.0)
    ticks.remove(late)  # the last tick due before the unhold fires after it (below)
    run_until(105.0)
    clock.t = 105.0
    (_, resumed) = k.rx.receive(info("c", "unhold"), now=clock())
    assert resumed == SegmentResumed("c", 5000)
    k.rx.receive(l16("c", 20, tone(20)), now=clock())
    k.rx.receive(l16("a", 20, tone(70)), now=clock())
    clock.t = 105.08
    k.rx.tick(round((clock.t - last_tick) * 1000), now=clock())  # media came: nothing added
    assert k.rx.mixer.head_ms == 5100
    (caller, agent) = k.rx.tracks()
    assert caller.held == ((2000, 5000),)
    assert (agent.counters.missing, agent.counters.hold_silence_ms) == (0, 3000)


def test_without_a_clock_nothing_is_observed() -> None:
    k, lags = lagged_call()
    k.send(init(), start("c", pb.CONTACT, codec=pb.L16), start("a", pb.AGENT))
    for i in range(5):
        k.send(l16("c", i, tone(i)), l16("a", i, tone(50 + i)))
    k.rx.finish()
    assert k.rx.mixer.written_frames == 25
    assert lags == []

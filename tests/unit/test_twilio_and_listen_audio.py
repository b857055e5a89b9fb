"""The two-way stream's sans-I/O core (Twilio Media Streams message set) and the web-phone
audio frame: parsing, refusals, malformed input, mixing, and a device's bounded queue."""

from __future__ import annotations

import binascii
from types import SimpleNamespace
from typing import Any

import numpy as np
import orjson
import pytest

from callscope.errors import StreamRefused
from callscope.protocols.ringcx import Malformed, Media, Perspective, Start, Stop
from callscope.protocols.twilio import (
    Dtmf,
    Mark,
    Track,
    Transfer,
    TwilioReceiver,
    build_clear,
    build_mark,
    build_outbound_media,
    build_stream_media,
    build_stream_start,
    build_stream_stop,
    build_transfer,
)
from callscope.supervision.links import CONTROL_LIMIT, DeviceLink
from callscope.supervision.service import target_device_id
from callscope.supervision.webphone import (
    CHANNEL_AGENT,
    CHANNEL_CUSTOMER,
    CHANNEL_MIXED,
    HEADER,
    channel_pcm,
    parse_mic,
)

SID = "MZ0123"


def started(**params: str) -> TwilioReceiver:
    r = TwilioReceiver()
    event = r.receive_text(build_stream_start(SID, "CA1", {"agentId": "5501", **params}))
    assert isinstance(event, Start)
    return r


def test_start_maps_custom_parameters_onto_the_call() -> None:
    r = TwilioReceiver()
    event = r.receive_text(
        build_stream_start(
            SID,
            "CA9",
            {"agentId": "5502", "rcAccountId": "70000001", "ani": "6505550100", "queue": "vip"},
        )
    )
    assert isinstance(event, Start)
    meta = event.metadata
    assert (meta.call_id, meta.agent_id, meta.rc_account_id, meta.ani) == (
        "CA9",
        "5502",
        "70000001",
        "6505550100",
    )
    assert meta.extra["queue"] == "vip"
    assert meta.extra["streamSid"] == SID
    assert r.tracks == (Track.INBOUND, Track.OUTBOUND)
    assert r.missing_perspectives == ()


def test_media_tracks_map_to_channels_and_chunks_to_sequence() -> None:
    r = started()
    agent = r.receive_text(build_stream_media(SID, Perspective.PARTICIPANT, 7, b"\x01" * 160))
    customer = r.receive_text(build_stream_media(SID, Perspective.CONFERENCE, 8, b"\x02" * 160))
    assert agent == Media(Perspective.PARTICIPANT, 7, b"\x01" * 160)
    assert customer == Media(Perspective.CONFERENCE, 8, b"\x02" * 160)
    stop = r.receive_text(build_stream_stop(SID, "CA1"))
    assert isinstance(stop, Stop)
    assert stop.all_stopped


def test_marks_dtmf_and_transfers() -> None:
    r = started()
    assert r.receive_text(
        orjson.dumps({"event": "mark", "streamSid": SID, "mark": {"name": "m1"}})
    ) == Mark("m1")
    dtmf = orjson.dumps({"event": "dtmf", "dtmf": {"track": "inbound_track", "digit": "5"}})
    assert r.receive_text(dtmf) == Dtmf("inbound_track", "5")
    assert r.receive_text(build_transfer(SID, "5503")) == Transfer("5503", "Blind")
    assert r.receive_text(build_transfer(SID, "5503", "Attended")) == Transfer("5503", "Attended")


@pytest.mark.parametrize(
    ("message", "kind"),
    [
        (b"{not json", "bad_json"),
        (b"[1]", "bad_json"),
        (b'{"event":"nope"}', "unknown_event"),
        (b'{"event":"media","media":"x"}', "bad_media"),
        (
            b'{"event":"media","media":{"track":"sideways","chunk":"1","payload":"/w=="}}',
            "bad_track",
        ),
        (
            b'{"event":"media","media":{"track":"inbound","chunk":"-1","payload":"/w=="}}',
            "bad_sequence",
        ),
        (b'{"event":"media","media":{"track":"inbound","chunk":"1","payload":"@@"}}', "bad_base64"),
        (b'{"event":"media","media":{"track":"inbound","chunk":"1","payload":""}}', "bad_base64"),
        (b'{"event":"mark","mark":{}}', "bad_mark"),
        (b'{"event":"dtmf","dtmf":{}}', "bad_dtmf"),
        (b'{"event":"transfer","transfer":{}}', "bad_transfer"),
        (b'{"event":"transfer","transfer":{"agentId":"1","type":"Magic"}}', "bad_transfer"),
        (b'{"event":"start","start":{"streamSid":"x"}}', "out_of_order"),
        (b'{"event":"media","pad":"' + b"x" * 20_000 + b'"}', "oversize"),
    ],
)
def test_malformed_messages_are_reported_not_raised(message: bytes, kind: str) -> None:
    r = started()
    event = r.receive_text(message)
    assert isinstance(event, Malformed)
    assert event.kind == kind
    # The stream goes on.
    ok = r.receive_text(build_stream_media(SID, Perspective.PARTICIPANT, 1, b"\xff" * 160))
    assert isinstance(ok, Media)


def test_media_before_start_and_oversized_payloads_are_malformed() -> None:
    r = TwilioReceiver()
    early = r.receive_text(build_stream_media(SID, Perspective.PARTICIPANT, 1, b"\xff" * 160))
    assert isinstance(early, Malformed)
    assert early.kind == "out_of_order"
    r = started()
    big = r.receive_text(build_stream_media(SID, Perspective.PARTICIPANT, 1, b"\xff" * 2000))
    assert isinstance(big, Malformed)
    assert big.kind == "oversize"


def test_start_refuses_other_audio_and_reports_missing_tracks() -> None:
    bad: dict[str, Any] = orjson.loads(build_stream_start(SID, "CA1", {}))
    bad["start"]["mediaFormat"] = {"encoding": "audio/L16", "sampleRate": 16000, "channels": 1}
    with pytest.raises(StreamRefused, match="audio/x-mulaw"):
        TwilioReceiver().receive_text(orjson.dumps(bad))
    r = TwilioReceiver()
    r.receive_text(build_stream_start(SID, "CA1", {}, tracks=("inbound",)))
    assert r.missing_perspectives == (Perspective.PARTICIPANT,)
    not_streamed = r.receive_text(
        build_stream_media(SID, Perspective.PARTICIPANT, 1, b"\xff" * 160)
    )
    assert isinstance(not_streamed, Malformed)
    no_sid = orjson.loads(build_stream_start("", "CA1", {}))
    assert isinstance(TwilioReceiver().receive_text(orjson.dumps(no_sid)), Malformed)


def test_messages_back_to_the_platform() -> None:
    media = orjson.loads(build_outbound_media(SID, Track.INBOUND, b"\x00\x7f"))
    assert media == {
        "event": "media",
        "streamSid": SID,
        "media": {
            "track": "inbound",
            "payload": binascii.b2a_base64(b"\x00\x7f", newline=False).decode(),
        },
    }
    assert orjson.loads(build_mark(SID, "a")) == {
        "event": "mark",
        "streamSid": SID,
        "mark": {"name": "a"},
    }
    assert orjson.loads(build_clear(SID)) == {"event": "clear", "streamSid": SID}


# -- web-phone audio ---------------------------------------------------------------------------


def test_channel_pcm_mixes_with_clipping() -> None:
    stereo = np.array([30000, 10000, -30000, -10000, 5, 7], dtype="<i2")
    assert np.frombuffer(channel_pcm(stereo, CHANNEL_AGENT), "<i2").tolist() == [30000, -30000, 5]
    assert np.frombuffer(channel_pcm(stereo, CHANNEL_CUSTOMER), "<i2").tolist() == [
        10000,
        -10000,
        7,
    ]
    assert np.frombuffer(channel_pcm(stereo, CHANNEL_MIXED), "<i2").tolist() == [32767, -32768, 12]


def test_mic_frames_are_checked() -> None:
    good = parse_mic(HEADER.pack(2, 0, 3, 9) + b"\x00" * 640)
    assert (good.stream, good.frames) == (3, 2)
    for data, why in (
        (b"\x02\x00", "shorter than the 8-byte header"),
        (HEADER.pack(1, 0, 0, 0) + b"\x00" * 320, "kind 1"),
        (HEADER.pack(2, 0, 0, 0) + b"\x00" * 321, "whole 20 ms"),
        (HEADER.pack(2, 0, 0, 0), "whole 20 ms"),
        (HEADER.pack(2, 0, 0, 0) + b"\x00" * 320 * 6, "whole 20 ms"),
    ):
        with pytest.raises(ValueError, match=why):
            parse_mic(data)


def _link(queue_frames: int = 5) -> DeviceLink:
    device = SimpleNamespace(id=77, account_id="1")
    owner = SimpleNamespace(id=101, extension_number="101")
    return DeviceLink(device, owner, None, queue_frames=queue_frames)  # type: ignore[arg-type]


async def test_a_device_that_falls_behind_loses_its_oldest_audio_only() -> None:
    link = _link(queue_frames=5)
    for i in range(12):
        link.send_audio(bytes([i]), float(i))
    link.send_json({"type": "Notice"})
    assert link.dropped == 7
    assert [f for f, _ in link.audio] == [bytes([i]) for i in range(7, 12)]
    assert len(link.control) == 1  # control messages are never dropped
    link.online = False
    link.send_audio(b"late", 0.0)
    assert len(link.audio) == 5


async def test_a_device_that_leaves_its_control_messages_unread_goes_offline() -> None:
    link = _link()
    for i in range(CONTROL_LIMIT):
        link.send_json({"type": "Notice", "n": i})
    assert link.online
    link.send_json({"type": "Notice", "n": CONTROL_LIMIT})
    assert not link.online
    assert len(link.control) == CONTROL_LIMIT  # none dropped, none added


def test_a_device_queue_must_hold_a_frame() -> None:
    with pytest.raises(ValueError, match="queue_frames"):
        _link(queue_frames=0)


def test_target_device_uri() -> None:
    assert target_device_id("http://h:8080/api/v2/devices/123") == "123"
    assert target_device_id("http://h/api/v2/devices/123/") == "123"
    assert target_device_id("http://h/api/v2/users/123") is None
    assert target_device_id("") is None
